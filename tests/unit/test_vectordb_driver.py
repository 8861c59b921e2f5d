"""The VectorDB driver's and server script's pure logic (no server): index names and parameters, URIs,
ranks, the data-folder claim, state files, and the progress lines' parser. The real servers are in
tests/integration/test_vectordb_engine.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from module_utils import mlps_dlio_progress as prog
from module_utils import mlps_vectordb as vdb
from module_utils import mlps_vectordb_server as srv


def test_unknown_index_lists_the_valid_ones():
    with pytest.raises(vdb.UsageError, match=r"--index IVFPQ: not an index of pgvector; use one of HNSW, IVFFLAT$"):
        vdb.index_spec("pgvector", "IVFPQ")
    with pytest.raises(vdb.UsageError, match=r"AISAQ is not in Milvus 2\.3\.5"):
        vdb.index_spec("milvus", "AISAQ")
    assert vdb.index_spec("milvus", "HNSW")["build"] == {"M": 64, "efConstruction": 200}


def test_search_ef_defaults_to_200_and_is_never_below_k():
    assert vdb.search_params("milvus", "HNSW", {}, 10) == {"ef": 200}
    assert vdb.search_params("milvus", "HNSW", {"ef": 3}, 10) == {"ef": 10}
    assert vdb.search_params("milvus", "DISKANN", {"search_list": 5}, 100) == {"search_list": 100}
    assert vdb.search_params("pgvector", "HNSW", {}, 500) == {"hnsw.ef_search": 500}
    assert vdb.search_params("milvus", "IVF_FLAT", {"nprobe": 8}, 10) == {"nprobe": 8}
    with pytest.raises(vdb.UsageError, match="is not an integer"):
        vdb.search_params("milvus", "HNSW", {"ef": "many"}, 10)
    with pytest.raises(vdb.UsageError, match=r"--search-params nprobe: not a search parameter of milvus HNSW; use ef$"):
        vdb.search_params("milvus", "HNSW", {"nprobe": 8}, 10)


def test_uri_forms():
    assert vdb.check_uri("milvus", "http://10.0.0.2:19531") == ("10.0.0.2", 19531)
    assert vdb.check_uri("milvus", "http://db") == ("db", 19530)
    assert vdb.check_uri("pgvector", "postgresql://postgres@h:5433/postgres") == ("h", 5433)
    with pytest.raises(vdb.UsageError, match=r"not a pgvector URI; give one like postgresql://user@host:port/db"):
        vdb.check_uri("pgvector", "http://h:5432")
    with pytest.raises(vdb.UsageError, match="not a milvus URI"):
        vdb.check_uri("milvus", "http://h:99999")


def test_unreachable_is_fast_and_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(vdb.Unreachable, match=f"127.0.0.1:{port} does not answer"):
            vdb.check_reachable("127.0.0.1", port, 2)


def test_rank_and_world_from_the_mpi_environment():
    assert vdb.rank_from_env({"PMIX_RANK": "3"}) == 3
    assert vdb.rank_from_env({"OMPI_COMM_WORLD_RANK": "1", "PMI_RANK": "5"}) == 1
    assert vdb.rank_from_env({"PMI_RANK": "x"}) == 0
    assert vdb.world_from_env({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert vdb.world_from_env({"PMI_SIZE": "0"}) == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["load", "--engine", "milvus", "--uri", "http://h", "--collection", "a b", "--num-vectors", "5",
      "--dimension", "4", "--seed", "1", "--index", "HNSW", "--index-timeout", "5", "--out", "o"],
     "--collection 'a b': use letters"),
    (["load", "--engine", "milvus", "--uri", "http://h", "--collection", "c", "--num-vectors", "5",
      "--dimension", "4", "--seed", "1", "--index", "HNSW", "--index-params", "[1]", "--index-timeout", "5",
      "--out", "o"], "--index-params '[1]': not a JSON object"),
    (["load", "--engine", "pgvector", "--uri", "postgresql://h/d", "--collection", "c", "--num-vectors", "5",
      "--dimension", "4", "--seed", "1", "--index", "HNSW", "--index-params", '{"m": 0}', "--index-timeout", "5",
      "--out", "o"], "--index-params m: 0 is not a positive integer"),
    (["query", "--engine", "milvus", "--uri", "http://h", "--collection", "c", "--dimension", "4", "--out", "o"],
     "--mode timed needs --runtime S > 0"),
    (["query", "--engine", "oracle", "--uri", "http://h"], "argument --engine: invalid choice: 'oracle'"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(vdb, "np", object())  # the checks come before numpy is used
    assert vdb.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_progress_lines_at_most_once_a_second():
    out = io.StringIO()
    report = vdb.Progress("query", out)
    for done in range(50):
        report.emit({"rank": 0, "queries": done})
    report.emit({"rank": 0, "queries": 50}, done=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and " mlps-vectordb query progress elapsed=" in lines[0]
    assert lines[1].endswith("rank=0 queries=50") and " query done " in lines[1]


def _feed(lines) -> dict:
    state = prog.new_state()
    prog.feed_text(state, "\n".join(lines))
    return state


def test_progress_parser_follows_a_load():
    stamp = "2026-12-02T11:41:52.910968"
    insert = f"{stamp} mlps-vectordb load progress elapsed=0.1 phase=insert rows=1000 total=3000 index_pct=-"
    index = f"{stamp} mlps-vectordb load progress elapsed=2.0 phase=index rows=3000 total=3000 index_pct=53.5"
    done = f"{stamp} mlps-vectordb load done elapsed=4.0 phase=done rows=3000 total=3000 index_pct=100.0"
    figures = prog.summarize(_feed([insert]))
    assert figures["fraction"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["text"] == "VectorDB load: inserted 1,000/3,000 rows"
    assert prog.summarize(_feed([insert, index]))["text"] == "VectorDB load: index build 54%"
    figures = prog.summarize(_feed([insert, index, done]))
    assert figures["done"] and figures["text"] == "VectorDB load done: 3,000 rows in 4s"
    state = _feed([insert, index])
    assert json.loads(json.dumps(state)) == state  # carried between Ansible polls as JSON


def test_progress_parser_sums_query_ranks():
    stamp = "2026-12-02T11:42:00.594093"
    lines = [f"{stamp} mlps-vectordb query progress elapsed=1.0 rank=0 queries=200 qps=200.0 errors=0",
             f"{stamp} mlps-vectordb query progress elapsed=1.0 rank=1 queries=170 qps=170.5 errors=1",
             f"{stamp} mlps-vectordb query progress elapsed=2.0 rank=0 queries=400 qps=200.0 errors=0"]
    figures = prog.summarize(_feed(lines))
    assert figures["phase"] == "vectordb" and not figures["done"]
    assert figures["text"] == "VectorDB queries (2 ranks): 570 queries, 370 QPS, 1 errors so far"
    finished = [*lines, f"{stamp} mlps-vectordb query done elapsed=2.0 rank=1 queries=340 qps=170.0 errors=1",
                f"{stamp} mlps-vectordb query done elapsed=2.0 rank=0 queries=400 qps=200.0 errors=0"]
    assert prog.summarize(_feed(finished))["done"]
    damaged = f"{stamp} mlps-vectordb query progress elapsed=x rank=0"
    assert _feed([damaged])["vdb_kind"] is None


def test_data_folder_claim(tmp_path):
    assert srv.claim_data_dir(str(tmp_path / "new")) is True
    assert (tmp_path / "new" / srv.MARKER).is_file()
    assert srv.claim_data_dir(str(tmp_path / "new")) is False  # ours already
    empty = tmp_path / "empty"
    empty.mkdir()
    assert srv.claim_data_dir(str(empty)) is False and (empty / srv.MARKER).is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("x")
    with pytest.raises(srv.UsageError, match="not empty and not made by mlps_vectordb_server"):
        srv.claim_data_dir(str(foreign))
    (tmp_path / "link").symlink_to(foreign)
    with pytest.raises(srv.UsageError, match="is a symlink"):
        srv.claim_data_dir(str(tmp_path / "link"))
    assert (foreign / "precious.txt").read_text() == "x"


def test_state_file_checks(tmp_path):
    with pytest.raises(srv.UsageError, match="no such file"):
        srv.read_state(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(srv.UsageError, match="not a readable state file"):
        srv.read_state(str(tmp_path / "bad.json"))
    (tmp_path / "other.json").write_text('{"engine": "milvus"}')
    with pytest.raises(srv.UsageError, match="not a mlps_vectordb_server state file"):
        srv.read_state(str(tmp_path / "other.json"))


def test_stop_of_a_gone_server_is_idempotent(tmp_path, capsys):
    state = {"schema": srv.STATE_SCHEMA, "engine": "milvus", "pid": 2 ** 22 + 1, "pgid": 2 ** 22 + 1,
             "pid_start_ticks": 1, "port": 1, "health_port": 2}
    (tmp_path / "s.json").write_text(json.dumps(state))
    assert srv.main(["stop", "--state", str(tmp_path / "s.json")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stopped"] and result["already"] and result["left_pids"] == []


def test_port_in_use_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert srv.port_in_use(sock.getsockname()[1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not srv.port_in_use(port)


def test_a_milvus_start_that_hangs_is_tried_once_more_within_the_same_time(monkeypatch, tmp_path):
    args = type("Args", (), {"timeout": 120.0})()
    seen = []

    def once(args, data_dir, log, seconds):
        seen.append(seconds)
        if len(seen) < srv.MILVUS_ATTEMPTS:
            raise srv.MilvusHung("not healthy")
        return {"pid": 1}

    monkeypatch.setattr(srv.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(srv, "start_milvus_once", once)
    log = io.BytesIO()
    assert srv.start_milvus(args, str(tmp_path), log) == {"pid": 1}
    assert len(seen) == 2 and 59 < seen[0] <= 60 and seen[1] > 59        # the time split, not doubled
    assert b"starting it again" in log.getvalue()
    seen.clear()

    def hangs(args, data_dir, log, seconds):
        seen.append(seconds)
        raise srv.MilvusHung("not healthy")

    monkeypatch.setattr(srv, "start_milvus_once", hangs)
    with pytest.raises(srv.StartError, match=r"not healthy within 120 s \(2 starts\)"):
        srv.start_milvus(args, str(tmp_path), io.BytesIO())
    assert len(seen) == 2


def _pid_file(tmp_path, monkeypatch, pid: int) -> None:
    path = tmp_path / "standalone.pid"
    path.write_text(f"{pid}\n")
    monkeypatch.setattr(srv, "MILVUS_PID_FILE", str(path))


def test_a_stale_milvus_pid_file_is_no_running_server(tmp_path, monkeypatch):
    # pids wrap: the file's pid may now be some other process, or a thread of one
    _pid_file(tmp_path, monkeypatch, os.getpid())
    assert srv.other_milvus(grace=0) is None                     # a live process, not called milvus
    _pid_file(tmp_path, monkeypatch, 2 ** 22 + 5)
    assert srv.other_milvus(grace=0) is None                     # no such process
    named, release = threading.Event(), threading.Event()

    def milvus_thread():
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text("milvus")
        tids.append(threading.get_native_id())
        named.set()
        release.wait(10)

    tids: list[int] = []
    worker = threading.Thread(target=milvus_thread)
    worker.start()
    try:
        named.wait(10)
        _pid_file(tmp_path, monkeypatch, tids[0])
        assert srv.other_milvus(grace=0) is None                 # a thread called milvus is no server
    finally:
        release.set()
        worker.join()


def test_a_running_milvus_is_named_and_one_that_ends_in_the_grace_is_no_obstacle(tmp_path, monkeypatch):
    binary = tmp_path / "milvus"                  # the process takes its name from the file it runs
    binary.symlink_to(shutil.which("sleep"))
    child = subprocess.Popen([str(binary), "30"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/comm").read_text().strip() != "milvus" and time.monotonic() < deadline:
            time.sleep(0.01)      # Popen returns before the child has run exec and taken its name
        _pid_file(tmp_path, monkeypatch, child.pid)
        pid, argv = srv.other_milvus(grace=0)
        assert pid == child.pid and argv == f"{binary} 30"
        threading.Timer(0.5, child.kill).start()
        threading.Timer(0.6, child.wait).start()
        assert srv.other_milvus(grace=10) is None
    finally:
        child.kill()
        child.wait()
