"""mlps/campaign/benchfs.py without Ansible: the sweep plan and its refusals, the rendered TOML, IOR's
argv and figures, a leaf's start, the daemons' record and results.json (one entry per sweep)."""

from __future__ import annotations

import json
import tomllib

import pytest

from mlps.campaign import benchfs, frame
from mlps.errors import UserError

MPI = {"mpirun": "/venv/bin/mpirun", "implementation": "openmpi", "hosts": [], "as_root": True, "mca": {}, "env": []}


def plan(tmp_path, **over):
    args = {"clients": ["c1"], "servers": ["s1", "s2"], "ranks_per_server": 2, "results_dir": tmp_path,
            "system": "sys", "registry_dir": "/shared/reg", "data_dir": "/local/bfs", "chunk_size": "4m",
            "config": {"storage": {"data_dir": "/local/bfs", "stats": True}, "log_level": "info"},
            "transfer_sizes": ["64k", "1m"], "block_sizes": ["4m"], "ranks_per_client": [1, 2]}
    return benchfs.plan_campaign(**{**args, **over})


def test_the_sweep_is_every_combination_and_open(tmp_path):
    p = plan(tmp_path)
    assert [(r["transfer_size"], r["ranks_per_client"], r["np"]) for r in p["runs"]] == [
        ("64k", 1, 1), ("64k", 2, 2), ("1m", 1, 1), ("1m", 2, 2)]
    assert p["server_np"] == 4 and p["placement"] == "separate" and p["chunk_size"] == 4 << 20
    assert p["workload_dir"] == str(tmp_path / "open" / "mlps" / "results" / "sys" / "benchfs" / "ior")
    assert p["division_expected"] == "open" and "not an MLPerf Storage benchmark" in p["open_reasons"][0]
    assert plan(tmp_path, clients=["s1"])["placement"] == "shared"


def test_the_config_renders_to_toml_that_reads_back_the_same():
    config = {"log_level": "info", "storage": {"data_dir": '/a "quoted" path', "stats": True, "ids": [1, 2]},
              "ucx": {"tls": "tcp"}}
    assert tomllib.loads(benchfs.render_toml(config)) == config


@pytest.mark.parametrize(("over", "says"), [
    ({"clients": []}, "mlps_benchfs_clients is empty"),
    ({"servers": []}, "mlps_benchfs_servers is empty"),
    ({"servers": ["s2", "s1", "s2"]}, "mlps_benchfs_servers names s2 more than once; list each host once "
                                      "(more ranks on a host: mlps_benchfs_ranks_per_server)"),
    ({"clients": ["c1", "c1"]}, "mlps_benchfs_clients names c1 more than once"),
    ({"transfer_sizes": ["1x"]}, "mlps_benchfs_transfer_sizes='1x': expected a size like 4096, 64k"),
    ({"block_sizes": ["100k"]}, "mlps_benchfs_block_sizes 100k is not a multiple of transfer size 64k"),
    ({"ranks_per_client": []}, "mlps_benchfs_ranks_per_clients is empty"),
    ({"registry_dir": "relative/reg"}, "mlps_benchfs_registry_dir"),
    ({"ranks_per_server": 0}, "mlps_benchfs_ranks_per_server"),
    ({"config": {"storage": {"deep": {"x": 1}}}}, "mlps_benchfs_config.storage.deep: dict values are not supported"),
    ({"config": {"bad key": 1}}, "mlps_benchfs_config key 'bad key'"),
])
def test_bad_input_stops_the_plan_naming_the_setting(tmp_path, over, says):
    with pytest.raises(UserError, match=None) as caught:
        plan(tmp_path, **over)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "open").exists()


def test_a_run_starts_with_its_leaf_toml_and_both_mpirun_commands(tmp_path):
    p = plan(tmp_path)
    started = benchfs.start_phase(plan=p, index=2, staging_dir="/var/tmp/st", ior="/opt/ior", daemon="/opt/benchfsd",
                                  mpi=MPI, context={}, files={}, copies={})
    leaf = tmp_path / "open" / "mlps" / "results" / "sys" / "benchfs" / "ior" / started["stamp"]
    assert started["leaf"] == str(leaf)
    assert (leaf / "benchfs.toml").read_text() == p["config_text"]
    argv = started["rank_argv"]
    assert argv[:6] == ["/opt/ior", "-a", "BENCHFS", "--benchfs.registry=/shared/reg", "--benchfs.datadir=/local/bfs",
                        f"--benchfs.chunk-size={4 << 20}"]
    assert argv[-4:] == ["-O", "summaryFormat=JSON", "-O", f"summaryFile={started['output']}/ior.json"]
    assert "c1:2" in started["cmd"] and started["np"] == 2
    daemon = started["daemon"]
    assert "s1:2,s2:2" in daemon["mpirun"] and daemon["mpirun"][-1] != "/opt/benchfsd" and daemon["np"] == 4
    assert daemon["launcher"] == "s1" and daemon["folder"].startswith(started["stage"])
    meta = json.loads((leaf / frame.metadata_name(started["stamp"], "benchfs")).read_text())
    assert meta["status"] == "running" and meta["division"] == "open" and meta["not_mlperf_storage"]
    assert meta["servers"]["executed_command"][-1] == "/opt/benchfsd"


def test_check_mode_writes_nothing(tmp_path):
    started = benchfs.start_phase(plan=plan(tmp_path), index=1, staging_dir="/st", ior="ior", daemon="d", mpi=MPI,
                                  context={}, files={}, copies={}, check=True)
    assert started["changed"] is False and not (tmp_path / "open").exists()


def test_figures_come_from_iors_summary_per_operation():
    doc = {"summary": [{"operation": "write", "bwMaxMIB": 210.5, "bwMeanMIB": 200.0, "bwMinMIB": 190.0,
                        "OPsMean": 3200.0, "OPsMax": 3300.0, "MeanTime": 0.5, "numTasks": 4},
                       {"operation": "read", "bwMeanMIB": 400.0, "OPsMean": 6400.0}]}
    figures = benchfs.ior_figures(doc)
    assert figures["write"]["bw_mean_MiBps"] == 200.0 and figures["write"]["iops_mean"] == 3200.0
    assert figures["read"]["bw_max_MiBps"] is None and figures["write"]["num_tasks"] == 4
    with pytest.raises(UserError, match="no \"summary\" entries"):
        benchfs.ior_figures({"tests": []})


def test_the_daemon_record_names_missing_logs_and_forced_stops(tmp_path):
    (tmp_path / "daemon").mkdir()
    (tmp_path / "daemon" / "rank_0.log").write_text("shutdown complete\n")
    record = benchfs.daemon_record(tmp_path, 2, {"ready_seconds": 0.4}, {
        "stop": {"forced": False, "shutdown_missing": [], "left_pids": []},
        "reap": {"s1": {"found": [], "left_pids": []}, "s2": {"found": [4242], "left_pids": []}}})
    assert record["logs_missing"] == [1] and record["shutdown_missing"] == [1]
    assert record["stop_forced"] and record["killed_after_stop"] == {"s2": [4242]} and record["stopped"]


def test_results_json_keeps_earlier_sweeps(tmp_path):
    workload = tmp_path / "wl"
    for name, bw in (("20260101_000001", 100.0), ("20260101_000002", 200.0)):
        (workload / name).mkdir(parents=True)
        frame.update_metadata(workload / name, name, {"status": "completed", "parameters": {"transfer_size": "1m"},
                                                      "figures": {"write": {"bw_mean_MiBps": bw}}}, "benchfs")
    benchfs.write_results_json(workload, ["20260101_000001"])
    document = benchfs.write_results_json(workload, ["20260101_000002"])
    assert sorted(document["sweeps"]) == ["20260101_000001", "20260101_000002"]
    assert document["sweeps"]["20260101_000002"]["runs"][0]["figures"]["write"]["bw_mean_MiBps"] == 200.0
    with pytest.raises(UserError, match="none of the sweep's leaves"):
        benchfs.write_results_json(workload, ["nope"])
