"""The whole VectorDB campaign for real (playbooks/run_vectordb.yml): the VectorDB venv, the embedded
server started by the campaign (the real Milvus 2.3.5 standalone server, or PostgreSQL 16 + pgvector)
with its data on the storage under test (/dev/shm here, results under /tmp: two filesystems), the
datagen leaf (load, index, compact, exact ground truth), timed query runs over mpirun, every leaf's
summary.json / statistics.json / result_verdict.json, results.json and the verdict; on localhost and
with query ranks on the 3-host namespace cluster; the bad inputs that stop it before any loading; and
the server gone, its ports free, after the play and after an interrupt (SIGINT mid-run). Query ranks on the 3-host
cluster: the mlps_vectordb role's molecule scenario (pgvector on h1, a rank on every host); an unknown
engine: tests/unit/test_vdb_campaign.py (the same check step as the unknown index here)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.faults import live
from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import LOCAL_INVENTORY

# One embedded Milvus per host: these and test_vectordb_engine.py run on one pytest-xdist worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("milvus")]

# Thousands of vectors, seconds per run: OPEN by its engine/scale and INVALID by its short runs.
TINY = {
    "mlps_vectordb_division": "open", "mlps_vectordb_system": "test-sys", "mlps_vectordb_num_vectors": 3000,
    "mlps_vectordb_dimension": 32, "mlps_vectordb_runtime": 1, "mlps_vectordb_search_ef": 48,
    "mlps_vectordb_index_params": {"M": 16, "ef_construction": 64}, "mlps_vectordb_poll_interval": 1,
    "mlps_vectordb_index_timeout": 300,
}
RECALL_FLOOR = 0.9          # HNSW M=16, ef 48 on 3,000 x 32 uniform vectors gives ~0.97-0.99
PORTS = {"milvus": (19530, 9091), "pgvector": (55432,)}


@pytest.fixture
def shm_data():
    # The server's data on tmpfs: another filesystem than the results (rule book §5.4.2).
    path = Path("/dev/shm") / f"mlps-vdb-{uuid.uuid4().hex[:8]}"
    yield path
    # A failed test may leave its server running, and a host runs one embedded Milvus: stop what names
    # this test's own data folder, so the tests after it can start theirs.
    for pid in server_processes(path):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def campaign(inventory, results: Path, data: Path, venvs: dict, engine: str = "milvus", **extra) -> PlaybookRun:
    extra_vars = {"mlps_results_dir": str(results), "mlps_data_dir": str(data.parent),
                  "mlps_vectordb_data_dir": str(data), "mlps_vectordb_engine": engine, **TINY, **venvs,
                  **({"mlps_vectordb_port": PORTS["pgvector"][0]} if engine == "pgvector" else {}), **extra}
    return run_playbook("run_vectordb.yml", inventory, extra_vars, timeout=1200)


def local_venvs(client_venv, vectordb_venv) -> dict:
    return {"mlps_venv": str(client_venv), "mlps_vectordb_venv": str(vectordb_venv)}


def workload(results: Path, engine: str, index: str = "HNSW") -> Path:
    return results / "open" / "mlps" / "results" / "test-sys" / "vector_database" / engine / index


def leaves(results: Path, engine: str, command: str) -> list[Path]:
    folder = workload(results, engine) / command
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def metadata(leaf: Path) -> dict:
    return json.loads((leaf / f"vector_database_{leaf.name}_metadata.json").read_text())


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def server_processes(data: Path) -> list[int]:
    """Processes whose command line names this campaign's data folder (the server and its wrapper)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def check_server_gone(engine: str, data: Path) -> None:
    assert server_processes(data) == []
    assert all(port_free(port) for port in PORTS[engine])
    assert not data.exists()                 # the data folder the campaign created is removed


def check_campaign(results: Path, engine: str, runs: int, hosts: list[str], ranks: int = 0) -> None:
    (datagen,) = leaves(results, engine, "datagen")
    meta = metadata(datagen)
    assert meta["status"] == "completed", meta.get("message")
    summary = json.loads((datagen / "summary.json").read_text())
    assert summary["inserted_vectors"] == 3000 and summary["index_type"] == "HNSW"
    assert summary["database"] == {"database": engine}
    truth = json.loads((datagen / "ground_truth.json").read_text())
    assert len(truth["ids"]) == 1000 and all(len(row) == 10 for row in truth["ids"])
    assert meta["server"]["embedded"] is True and meta["server"]["started"]["server_version"]
    run_leaves = leaves(results, engine, "run")
    assert len(run_leaves) == runs
    seen_hosts = set()
    for leaf in run_leaves:
        meta = metadata(leaf)
        assert meta["status"] == "completed", meta.get("message")
        summary = json.loads((leaf / "summary.json").read_text())
        assert summary["throughput_qps"] > 0 and summary["query_count"] > 0
        assert summary["recall"] >= RECALL_FLOOR, summary["recall"]
        assert summary["p99_latency_ms"] >= summary["mean_latency_ms"] > 0
        verdict = json.loads((leaf / "result_verdict.json").read_text())
        assert verdict["result"] == "valid" and verdict["flat_setup"]["coverage"] == 1.0
        statistics = json.loads((leaf / "statistics.json").read_text())
        assert statistics["recall"]["num_queries_evaluated"] > 0
        assert len(statistics["recall"]["per_query_recall"]) == statistics["recall"]["num_queries_evaluated"]
        ranks_found = sorted(p.name for p in leaf.glob("rank_*"))
        assert ranks_found == [f"rank_{r}" for r in range(ranks or len(hosts))]
        seen_hosts.update(json.loads((leaf / r / "rank.json").read_text())["host"] for r in ranks_found)
        series = leaf / f"vector_database_{leaf.name}_timeseries"
        assert sorted(p.stem for p in series.iterdir()) == sorted(hosts)
        assert summary["disk_io"]["host_count"] == len(hosts)
    assert len(seen_hosts) == len(hosts)
    document = json.loads((workload(results, engine) / "results.json").read_text())
    assert document["results"]["queries_per_second"] > 0 and len(document["runs"]) == runs


def verdict_rules(run: PlaybookRun) -> tuple[str, set]:
    (final,) = run.results("Print the verdict of the campaign").values()
    lines = final["msg"]
    return lines[0], {line.split(":", 1)[0].split()[-1] for line in lines[1:]}


def test_milvus_campaign_on_localhost(tmp_path, client_venv, vectordb_venv, shm_data):
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, shm_data, local_venvs(client_venv, vectordb_venv))
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    check_campaign(results, "milvus", 5, ["localhost"])
    headline, rules = verdict_rules(run)
    # 1 s runs are below the run checker's 30 s; the tiny scale is OPEN
    assert headline.startswith("verdict of the campaign: INVALID"), headline
    assert {"VDB-MIN-QUERIES", "DIVISION-OPEN"} <= rules, rules
    assert "expected division INVALID" in run.stdout and "scale 3000 x 32" in run.stdout
    # the preflight ran first: the server's data and its loaded index sized on the server host
    checks = {c["name"]: c for c in json.loads((results / "preflight.json").read_text())["checks"]}
    assert checks["inventory_values"]["found"] == "vector_database milvus HNSW 3000 x 32 open"
    assert "the loaded HNSW index and Milvus" in checks["host_memory"]["expected"] and checks["host_memory"]["ok"]
    assert "milvus HNSW estimate for 3,000 x 32 vectors" in checks["data_capacity"]["expected"]
    check_server_gone("milvus", shm_data)


def test_pgvector_campaign_on_localhost(tmp_path, client_venv, vectordb_venv, shm_data):
    results = tmp_path / "results"
    # two runs: the five-run shape is the Milvus test's
    run = campaign(LOCAL_INVENTORY, results, shm_data, local_venvs(client_venv, vectordb_venv), engine="pgvector",
                   mlps_vectordb_runs=2, mlps_vectordb_npernode=2, mlps_vectordb_facts=False)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    check_campaign(results, "pgvector", 2, ["localhost"], ranks=2)
    headline, rules = verdict_rules(run)
    assert headline.startswith("verdict of the campaign: INVALID"), headline
    assert {"VDB-MIN-QUERIES", "DIVISION-OPEN"} <= rules, rules
    assert "engine pgvector (CLOSED runs Milvus: VDB-BACKEND" in run.stdout
    # the verdict after each phase, the problems the runs share said once and then counted
    assert run.stdout.count("verdict after datagen: ") == 1 and run.stdout.count("verdict after run 2/2: ") == 1
    assert "problem(s) as after the previous phase" in run.stdout
    check_server_gone("pgvector", shm_data)


def test_a_server_the_user_runs_is_used_as_it_is_and_left_running(tmp_path, client_venv, vectordb_venv):
    """mlps_vectordb_uri: nothing started, stopped or sized by us; query_count mode (a fixed number of queries)."""
    script = Path(__file__).resolve().parents[2] / "module_utils" / "mlps_vectordb_server.py"
    # PostgreSQL runs as an unprivileged user under root, who cannot enter pytest's 0700 tmp folders
    folder = Path(tempfile.mkdtemp(prefix="mlps-vdb-user-", dir="/var/tmp"))
    folder.chmod(0o755)
    state = folder / "state.json"

    def server(*args):
        return subprocess.run([str(vectordb_venv / "bin" / "python"), str(script), *map(str, args)],
                              capture_output=True, text=True, timeout=120, check=False)
    try:
        started = server("start", "--engine", "pgvector", "--data", folder / "data", "--port", PORTS["pgvector"][0] + 1,
                         "--state", state, "--log", folder / "server.log", "--timeout", 60)
        assert started.returncode == 0, started.stderr
        uri = json.loads(started.stdout)["uri"]
        results = tmp_path / "results"
        run = campaign(LOCAL_INVENTORY, results, folder / "unused", local_venvs(client_venv, vectordb_venv),
                       engine="pgvector", mlps_vectordb_uri=uri, mlps_vectordb_mode="query_count",
                       mlps_vectordb_query_count=200, mlps_vectordb_runs=2, mlps_vectordb_facts=False)
        assert run.rc == 0, run.messages() or run.stdout[-3000:]
        (datagen,) = leaves(results, "pgvector", "datagen")
        assert metadata(datagen)["server"]["embedded"] is False
        runs = leaves(results, "pgvector", "run")
        assert len(runs) == 2
        for leaf in runs:
            assert metadata(leaf)["status"] == "completed"
            summary = json.loads((leaf / "summary.json").read_text())
            ranks = list(leaf.glob("rank_*"))
            assert summary["query_count"] == 200 * len(ranks) and summary["recall"] >= RECALL_FLOOR
        assert "the database server on localhost that this campaign started stopped" not in run.stdout
        assert not (folder / "unused").exists()                  # a user server's data is not ours to make
        status = server("status", "--state", state)
        assert status.returncode == 0 and json.loads(status.stdout)["running"] is True, status.stdout + status.stderr
    finally:
        server("stop", "--state", state, "--timeout", 30)
        shutil.rmtree(folder, ignore_errors=True)


def bad_input(tmp_path, client_venv, vectordb_venv, data: Path, **extra) -> str:
    results = tmp_path / "results"
    run = campaign(LOCAL_INVENTORY, results, data, local_venvs(client_venv, vectordb_venv),
                   mlps_vectordb_facts=False, **extra)
    assert run.rc != 0
    (message,) = run.messages()
    assert not (workload(results, extra.get("mlps_vectordb_engine", "milvus"),
                         extra.get("mlps_vectordb_index", "HNSW"))).exists()      # stopped before any leaf
    assert server_processes(data) == []
    return message


@pytest.mark.parametrize(("extra", "expected"), [
    ({"mlps_vectordb_index": "SCANN"}, "mlps_vectordb_index='SCANN': milvus indexes are HNSW, DISKANN"),
    ({"mlps_vectordb_uri": "http://127.0.0.1:1"}, "mlps_vectordb_uri=http://127.0.0.1:1: the milvus server does "
                                                  "not answer"),
    # DISKANN takes no build parameters here (its HNSW ones would stop it in the preflight)
    ({"mlps_vectordb_index": "DISKANN", "mlps_vectordb_index_params": {}},
     "mlps_vectordb_index=DISKANN: the milvus server at http://127.0.0.1:19530 cannot build it"),
])
def test_bad_input_stops_before_any_loading(tmp_path, client_venv, vectordb_venv, shm_data, extra, expected):
    assert expected in bad_input(tmp_path, client_venv, vectordb_venv, shm_data, **extra)
    assert not shm_data.exists()


def test_a_data_folder_on_the_results_filesystem_stops_before_the_server_starts(tmp_path, client_venv,
                                                                                vectordb_venv):
    data = tmp_path / "vectordb"
    message = bad_input(tmp_path, client_venv, vectordb_venv, data)
    assert f"mlps_vectordb_data_dir={data} is on the same filesystem as the results folder" in message
    assert "§5.4.2" in message and not data.exists()


def test_an_interrupted_campaign_leaves_no_server_running(tmp_path, client_venv, vectordb_venv, shm_data):
    results, log = tmp_path / "results", tmp_path / "run.log"
    extra = {"mlps_results_dir": str(results), "mlps_data_dir": str(shm_data.parent),
             "mlps_vectordb_data_dir": str(shm_data), **TINY, **local_venvs(client_venv, vectordb_venv),
             "mlps_vectordb_facts": False, "mlps_vectordb_runtime": 60}
    proc = live.start("run_vectordb.yml", LOCAL_INVENTORY, extra, log)
    try:
        live.wait_for(lambda: bool(leaves(results, "milvus", "run")), 600, "the first run leaf")
        assert server_processes(shm_data)                 # the server is up while the run goes on
        proc.send_signal(signal.SIGINT)
        try:
            live.finish(proc, 300)
        except subprocess.TimeoutExpired:
            raise AssertionError("no exit within 300 s of SIGINT:\n" + log.read_text()[-4000:]) from None
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "the database server on localhost that this campaign started stopped" in text, text[-3000:]
    assert server_processes(shm_data) == []
    assert all(port_free(port) for port in PORTS["milvus"])
    (leaf,) = leaves(results, "milvus", "run")
    assert metadata(leaf)["status"] == "interrupted"
