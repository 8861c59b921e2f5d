"""The VectorDB driver and the embedded servers, for real: one Milvus and one PostgreSQL+pgvector per module
on free ports, tiny data (3,000 x 32), the driver run as the hosts run it (the VectorDB venv's python on the
single-file scripts)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# One embedded Milvus per host: these and test_vectordb.py run on one pytest-xdist worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("milvus")]

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "module_utils" / "mlps_vectordb.py"
SERVER = ROOT / "module_utils" / "mlps_vectordb_server.py"
VECTORS, DIM, QUERIES, K = 3000, 32, 50, 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(venv: Path, script: Path, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


class Server:
    def __init__(self, venv: Path, engine: str, folder: Path):
        self.venv, self.engine, self.folder = venv, engine, folder
        self.state = folder / "state.json"
        self.port = free_port()
        extra = ["--health-port", free_port()] if engine == "milvus" else []
        began = time.monotonic()
        proc = run(venv, SERVER, "start", "--engine", engine, "--data", folder / "data", "--port", self.port,
                   "--state", self.state, "--log", folder / "server.log", "--timeout", 120, *extra, timeout=180)
        self.start_seconds = time.monotonic() - began
        assert proc.returncode == 0, proc.stderr
        self.info = json.loads(proc.stdout)
        self.uri = self.info["uri"]

    def stop(self) -> dict:
        proc = run(self.venv, SERVER, "stop", "--state", self.state, "--timeout", 30, timeout=90)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def milvus(vectordb_venv, tmp_path_factory):
    server = Server(vectordb_venv, "milvus", tmp_path_factory.mktemp("milvus"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pgvector(vectordb_venv):
    # PostgreSQL runs as an unprivileged user under root, who cannot enter pytest's 0700 tmp folders
    folder = Path(tempfile.mkdtemp(prefix="mlps-vdb-pg-", dir="/var/tmp"))
    folder.chmod(0o755)
    try:
        server = Server(vectordb_venv, "pgvector", folder)
        yield server
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load(venv, server, out: Path, index: str, params: dict, *extra, timeout: float = 60) -> subprocess.CompletedProcess:
    return run(venv, DRIVER, "load", "--engine", server.engine, "--uri", server.uri, "--collection",
               "mlps_vdb_test_" + index.lower(), "--num-vectors", VECTORS, "--dimension", DIM, "--seed", 7,
               "--insert-batch", 1000, "--index", index, "--index-params", json.dumps(params), "--index-timeout",
               timeout, "--num-queries", QUERIES, "--query-seed", 42, "--k", K, "--out", out, *extra)


def query(venv, server, out: Path, index: str, *extra) -> subprocess.Popen:
    argv = [str(venv / "bin" / "python"), str(DRIVER), "query", "--engine", server.engine, "--uri", server.uri,
            "--collection", "mlps_vdb_test_" + index.lower(), "--dimension", str(DIM), "--num-queries",
            str(QUERIES), "--query-seed", "42", "--k", str(K), "--out", str(out), *map(str, extra)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def recall(load_dir: Path, rank_dir: Path) -> float:
    truth = json.loads((load_dir / "ground_truth.json").read_text())["ids"]
    answers = json.loads((rank_dir / "result_ids.json").read_text())["ids"]
    assert answers, "no answers recorded"
    hits = sum(len(set(ids) & set(truth[int(q)][:K])) for q, ids in answers.items())
    return hits / (K * len(answers))


def every_query_once(venv, server, out: Path, index: str) -> Path:
    proc = query(venv, server, out, index, "--mode", "query_count", "--query-count", QUERIES, "--batch-size", 5)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert " mlps-vectordb query done " in stdout
    return out / "rank_0"


def test_seeded_vectors_and_exact_ground_truth(vectordb_venv):
    """Any batch size regenerates the same vectors, and the chunked top-k equals a full argsort."""
    code = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import mlps_vectordb as v\n"
        "v.CHUNK_ROWS = 100\n"
        "a = np.concatenate([b for _, b in v.iter_batches(3, 1050, 16, 1050)])\n"
        "b = np.concatenate([b for _, b in v.iter_batches(3, 1050, 16, 37)])\n"
        "assert a.shape == (1050, 16) and np.array_equal(a, b)\n"
        "assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5) and a.min() >= 0\n"
        "assert not np.array_equal(a, np.concatenate([b for _, b in v.iter_batches(4, 1050, 16, 500)]))\n"
        "q = v.query_vectors(42, 20, 16)\n"
        "got = v.exact_neighbours(3, 1050, 16, q, 10)\n"
        "want = np.argsort(-(q @ a.T), axis=1, kind='stable')[:, :10]\n"
        "assert [list(r) for r in want] == got, 'top-k differs'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([str(vectordb_venv / "bin" / "python"), "-c", code, str(DRIVER.parent)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_start_refuses_a_taken_port(vectordb_venv, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for engine in ("milvus", "pgvector"):
            began = time.monotonic()
            proc = run(vectordb_venv, SERVER, "start", "--engine", engine, "--data", tmp_path / engine, "--port",
                       port, "--state", tmp_path / f"{engine}.json", "--log", tmp_path / f"{engine}.log")
            assert proc.returncode == 2, proc.stderr
            assert f"--port {port}: already in use" in proc.stderr and len(proc.stderr.splitlines()) == 1
            assert time.monotonic() - began < 10 and not (tmp_path / f"{engine}.json").exists()


def test_pgvector_start_names_a_folder_its_user_cannot_enter(vectordb_venv, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root hands PostgreSQL to another user")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    proc = run(vectordb_venv, SERVER, "start", "--engine", "pgvector", "--data", closed / "data", "--port",
               free_port(), "--state", tmp_path / "s.json", "--log", tmp_path / "s.log")
    assert proc.returncode == 2, proc.stderr
    blocked = re.search(r"user mlps-pg cannot enter (\S+) \(PostgreSQL runs as that user\)", proc.stderr)
    assert blocked and closed.is_relative_to(blocked.group(1)), proc.stderr
    assert not (closed / "data").exists()


def test_milvus_flat_answers_are_the_ground_truth(vectordb_venv, milvus, tmp_path):
    proc = load(vectordb_venv, milvus, tmp_path / "load", "FLAT", {})
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "load" / "load.json").read_text())
    assert record["schema"] == "mlps-vectordb-load/1" and record["inserted_vectors"] == VECTORS
    assert record["server_version"].startswith("v2.3.5") and record["index_type"] == "FLAT"
    assert record["ground_truth"]["num_queries"] == QUERIES and record["timings"]["insert_s"] > 0
    assert "phase=insert" in proc.stdout and " mlps-vectordb load done " in proc.stdout
    rank_dir = every_query_once(vectordb_venv, milvus, tmp_path / "q", "FLAT")
    assert recall(tmp_path / "load", rank_dir) == 1.0


def test_milvus_hnsw_two_ranks_timed(vectordb_venv, milvus, tmp_path):
    proc = load(vectordb_venv, milvus, tmp_path / "load", "HNSW", {"M": 16, "efConstruction": 100}, "--compact")
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "load" / "load.json").read_text())
    assert record["compacted"] and record["timings"]["compact_s"] is not None
    assert record["index_params"] == {"M": 16, "efConstruction": 100}
    ranks = [query(vectordb_venv, milvus, tmp_path / "q", "HNSW", "--mode", "timed", "--runtime", 2, "--rank", r,
                   "--world-size", 2, "--search-params", '{"ef": 4}') for r in (0, 1)]
    for rank, proc in enumerate(ranks):
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        folder = tmp_path / "q" / f"rank_{rank}"
        rows = (folder / "queries.csv").read_text().splitlines()
        assert rows[0] == "timestamp,batch_size,batch_time_seconds" and len(rows) > 10
        stamps = [float(row.split(",")[0]) for row in rows[1:]]
        assert stamps == sorted(stamps) and 1.0 < stamps[-1] - stamps[0] < 3.0
        info = json.loads((folder / "rank.json").read_text())
        assert info["rank"] == rank and info["errors"] == 0 and info["queries"] == len(rows) - 1
        assert info["search_params"] == {"ef": K}  # ef below k is raised to k
        answers = json.loads((folder / "result_ids.json").read_text())["ids"]
        assert str(rank * (QUERIES // 2)) in answers  # rank r starts at r * (num_queries // world)
        assert all(len(ids) == K for ids in answers.values())
    rank_dir = every_query_once(vectordb_venv, milvus, tmp_path / "all", "HNSW")
    assert recall(tmp_path / "load", rank_dir) >= 0.9


def test_bad_index_and_unreachable_server(vectordb_venv, milvus, tmp_path):
    proc = load(vectordb_venv, milvus, tmp_path / "bad", "IVFPQ", {})
    assert proc.returncode == 2 and "--index IVFPQ: not an index of milvus; use one of HNSW, IVF_FLAT" in proc.stderr
    proc = load(vectordb_venv, milvus, tmp_path / "bad", "AISAQ", {})
    assert proc.returncode == 2 and "AISAQ is not in Milvus 2.3.5" in proc.stderr
    proc = load(vectordb_venv, milvus, tmp_path / "bad", "HNSW", {"degree": 3})
    assert proc.returncode == 2 and "--index-params degree: not a build parameter" in proc.stderr
    began = time.monotonic()
    proc = run(vectordb_venv, DRIVER, "query", "--engine", "milvus", "--uri", f"http://127.0.0.1:{free_port()}",
               "--collection", "mlps_vdb_x", "--dimension", DIM, "--runtime", 1, "--out", tmp_path / "x")
    assert proc.returncode == 3 and "does not answer" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert time.monotonic() - began < 10


def test_probe_finds_diskann_unsupported(vectordb_venv, milvus):
    proc = run(vectordb_venv, DRIVER, "probe", "--engine", "milvus", "--uri", milvus.uri, "--index", "DISKANN",
               "--timeout", 8)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["reachable"] and result["server_version"].startswith("v2.3.5")
    assert result["index_supported"]["DISKANN"] is False and result["index_supported"]["AISAQ"] is False
    assert "DISKANN build did not finish in 8 s" in result["reason"]


def test_pgvector_hnsw_recall_and_two_ranks(vectordb_venv, pgvector, tmp_path):
    proc = load(vectordb_venv, pgvector, tmp_path / "load", "HNSW", {"m": 16, "ef_construction": 64}, "--compact")
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "load" / "load.json").read_text())
    assert record["inserted_vectors"] == VECTORS and "vector 0.8.5" in record["server_version"]
    assert "index_pct=100.0" in proc.stdout
    rank_dir = every_query_once(vectordb_venv, pgvector, tmp_path / "all", "HNSW")
    assert recall(tmp_path / "load", rank_dir) >= 0.9
    ranks = [query(vectordb_venv, pgvector, tmp_path / "q", "HNSW", "--runtime", 1, "--rank", r, "--world-size", 2,
                   "--batch-size", 4) for r in (0, 1)]
    for rank, proc in enumerate(ranks):
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        info = json.loads((tmp_path / "q" / f"rank_{rank}" / "rank.json").read_text())
        assert info["queries"] > 0 and info["queries"] == 4 * info["batches"]
        assert info["search_params"] == {"hnsw.ef_search": 200}


def test_pgvector_index_timeout_exits_4(vectordb_venv, pgvector, tmp_path):
    proc = load(vectordb_venv, pgvector, tmp_path / "load", "HNSW", {"m": 64, "ef_construction": 400},
                timeout=0.2)
    assert proc.returncode == 4, proc.stderr
    assert "--index HNSW with --index-timeout 0.2: the server's HNSW build did not finish in 0.2 s" in proc.stderr


def test_status_then_stop_frees_the_ports(vectordb_venv, milvus, pgvector):
    for server in (milvus, pgvector):
        status = json.loads(run(vectordb_venv, SERVER, "status", "--state", server.state).stdout)
        assert status["running"] and status["healthy"] and status["pids"]
        began = time.monotonic()
        result = server.stop()
        assert result == {"stopped": True, "already": False, "forced": False, "ports_free": True, "left_pids": []}
        assert time.monotonic() - began < 30
        assert server.stop()["already"] is True
        status = json.loads(run(vectordb_venv, SERVER, "status", "--state", server.state).stdout)
        assert not status["running"] and not status["healthy"]
