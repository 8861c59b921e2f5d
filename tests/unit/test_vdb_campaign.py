"""mlps.campaign.vector_database: the engine/index/URI checks, the server and data-folder checks that
stop before any loading, the division a plan can reach and why, and one phase's start (the driver's
and mpirun's argv, the running record, the datagen on the launcher only)."""

from __future__ import annotations

import json

import pytest

from mlps.campaign import frame
from mlps.campaign import vector_database as vdb
from mlps.errors import UserError

MPI = {"mpirun": "/v/bin/mpirun", "implementation": "openmpi", "hosts": ["h1", "h2"], "as_root": True}
DRIVER = {"python": "/vdb/bin/python", "driver_file": "/stage/mlps_vectordb.py", "uri": "http://h1:19530"}
SERVER = {"reachable": True, "server_version": "v2.3.5", "index_supported": {"HNSW": True}}


def data_probe(dev=1, writable=True, error=None):
    entry = {"free_bytes": 2**40, "dev": dev, "probed": "/mnt/vdb", "is_dir": True, "writable": writable}
    return {"paths": {"/mnt/vdb": {"free_bytes": None, "error": error} if error else entry}}


def plan(tmp_path, **kw):
    args = {"engine": "milvus", "index": "HNSW", "hosts": ["h1", "h2"], "results_dir": tmp_path / "results",
            "uri": "http://h1:19530", "server_host": "h1", "data_dir": "/mnt/vdb", "server_probe": SERVER,
            "data_probe": data_probe(), "results_probe": {"path": str(tmp_path), "dev": 2, "host": "h1"}}
    args.update(kw)
    return vdb.plan_campaign(**args)


def test_a_closed_shape_plan_has_the_rule_books_defaults_and_six_phases(tmp_path):
    p = plan(tmp_path)
    assert p["division_expected"] == "closed" and p["open_reasons"] == [] and p["invalid_reasons"] == []
    assert p["parameters"]["index"] == {"index_type": "HNSW", "metric_type": "COSINE", "M": 64, "ef_construction": 200}
    assert p["parameters"]["search"]["params"] == {"ef": 200}
    assert [ph["label"] for ph in p["phases"]] == ["datagen"] + [f"run {i}/5" for i in range(1, 6)]
    assert p["num_processes"] == 2 and p["npernode"] == 1
    assert p["workload_dir"].endswith("closed/mlps/results/mlps-system/vector_database/milvus/HNSW")


def test_pgvector_a_tiny_scale_and_short_runs_say_why_they_are_open_or_invalid(tmp_path):
    p = plan(tmp_path, engine="pgvector", index="hnsw", num_vectors=2000, dimension=32, runtime=3,
             server_probe={**SERVER, "index_supported": {}})
    assert p["division_expected"] == "invalid"
    assert any("pgvector" in r for r in p["open_reasons"]) and any("scale 2000 x 32" in r for r in p["open_reasons"])
    assert p["invalid_reasons"] == ["timed runs of 3 s (the run checker wants at least 30 s)"]


@pytest.mark.parametrize(("engine", "index", "match"), [
    ("elastic", "HNSW", r"mlps_vectordb_engine='elastic': expected one of milvus, pgvector"),
    ("milvus", "SCANN", r"mlps_vectordb_index='SCANN': milvus indexes are HNSW, DISKANN"),
    ("pgvector", "DISKANN", r"pgvector indexes are HNSW, IVFFLAT"),
])
def test_unknown_engine_or_index_is_named(engine, index, match):
    with pytest.raises(UserError, match=match):
        vdb.check_engine_index(engine, index)


def test_a_server_that_cannot_build_the_index_or_does_not_answer_stops_the_plan(tmp_path):
    with pytest.raises(UserError, match=r"DISKANN: the milvus server .* cannot build it \(did not finish in 20 s\)"):
        plan(tmp_path, index="DISKANN", server_probe={"reachable": True, "index_supported": {"DISKANN": False},
                                                      "reason": "did not finish in 20 s"})
    with pytest.raises(UserError, match=r"does not answer \(connection refused\); start it or fix the URI"):
        plan(tmp_path, server_probe={"reachable": False, "error": "connection refused"})


def test_the_data_folder_must_be_probed_writable_and_off_the_results_filesystem(tmp_path):
    with pytest.raises(UserError, match=r"same filesystem as the results folder"):
        plan(tmp_path, data_probe=data_probe(dev=2))
    with pytest.raises(UserError, match=r"cannot be created on h1"):
        plan(tmp_path, data_probe=data_probe(writable=False))
    with pytest.raises(UserError, match=r"cannot be probed \(EACCES\)"):
        plan(tmp_path, data_probe=data_probe(error="EACCES"))
    with pytest.raises(UserError, match=r"expected an absolute path"):
        plan(tmp_path, data_dir="rel/vdb")
    # the same device on another host than the controller is another filesystem
    assert plan(tmp_path, data_probe=data_probe(dev=2), server_host="h2")["fs_separation"]["same_filesystem"] is False


def test_a_user_uri_is_checked_for_its_scheme_and_never_recorded_with_its_password(tmp_path):
    with pytest.raises(UserError, match=r"expected postgresql://HOST:PORT or postgres://HOST:PORT for pgvector"):
        vdb.check_uri("pgvector", "http://db:5432")
    p = plan(tmp_path, engine="pgvector", uri="postgresql://bench:s3cret@db:5432/vdb", embedded=False)
    assert "s3cret" not in json.dumps(p)
    assert p["uri"] == "postgresql://bench:***@db:5432/vdb"
    assert any("user server" in r for r in p["open_reasons"])


def test_index_parameters_take_only_the_indexs_own_keys(tmp_path):
    assert plan(tmp_path, index_params={"M": 16})["parameters"]["index"]["M"] == 16
    with pytest.raises(UserError, match=r"nlist is not a milvus HNSW parameter \(expected M, ef_construction\)"):
        plan(tmp_path, index_params={"nlist": 8})
    with pytest.raises(UserError, match=r"mlps_vectordb_k=20 is more than the 10 vectors"):
        plan(tmp_path, num_vectors=10, k=20)
    with pytest.raises(UserError, match=r"mlps_vectordb_mode='forever'"):
        plan(tmp_path, mode="forever")
    assert plan(tmp_path, search_ef=4)["parameters"]["search"]["params"] == {"ef": 10}   # clamped to k


def test_datagen_is_one_rank_on_the_launcher_and_runs_use_every_client(tmp_path):
    p = plan(tmp_path, num_vectors=2000, dimension=32, runtime=3, npernode=2)
    started = vdb.start_phase(plan=p, command="datagen", index=0, staging_dir="/stage", driver=DRIVER, mpi=MPI,
                              context={"model": "milvus"}, files={}, copies={}, launcher="h1")
    assert started["np"] == 1 and started["mpi_hosts"] == ["h1"] and started["placement"] == [["h1", 1]]
    argv = started["rank_argv"]
    assert argv[:3] == ["/vdb/bin/python", "/stage/mlps_vectordb.py", "load"]
    assert argv[argv.index("--index-params") + 1] == '{"M": 64, "efConstruction": 200}' and "--compact" in argv
    meta = frame.read_metadata(started["leaf"], started["stamp"], vdb.BENCHMARK)
    assert meta["status"] == "running" and meta["command"] == "datagen" and meta["parameters"] == p["parameters"]
    assert started["log"] == started["stdout"]      # the driver's progress lines are on its stdout
    # a run before any datagen leaf has ground truth is refused, naming why
    with pytest.raises(UserError, match="no completed datagen leaf with ground truth"):
        vdb.start_phase(plan=p, command="run", index=1, staging_dir="/stage", driver=DRIVER, mpi=MPI, context={},
                        files={}, copies={}, launcher="h1")


def test_check_mode_builds_every_command_and_writes_nothing(tmp_path):
    p = plan(tmp_path)
    started = vdb.start_phase(plan=p, command="run", index=2, staging_dir="/stage", driver=DRIVER, mpi=MPI,
                              context={}, files={}, copies={}, launcher="h1", check=True)
    assert started["label"] == "run 2/5" and started["np"] == 2 and "query" in started["rank_argv"]
    assert started["cmd"][0] == "/v/bin/mpirun"
    assert not (tmp_path / "results").exists()
