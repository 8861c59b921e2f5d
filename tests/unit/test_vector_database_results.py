"""mlps.results.vector_database: simple_bench's statistics pooled over ranks, recall, disk I/O from the
samplers' series, the summaries our campaign writes, and published leaves read back."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from mlps.errors import UserError
from mlps.results import vector_database as vdb
from mlps.results.reader import read_tree
from tests.unit.vdb_builder import build_vdb_workload, load_doc, put

FIXTURE = (Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v3.0" / "closed"
           / "TTA" / "results" / "seahorse-storage" / "vector_database" / "milvus" / "DISKANN")
HEADER = vdb.QUERIES_HEADER


def rank(leaf: Path, number: int, rows: list, hostname: str = "h0") -> None:
    put(leaf / f"rank_{number}" / "queries.csv", HEADER + "\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    put(leaf / f"rank_{number}" / "rank.json", {"rank": number, "hostname": hostname})


# --- pool_ranks ------------------------------------------------------------------------------------
def test_pool_ranks_repeats_each_batch_per_query_and_spans_every_rank(tmp_path):
    rank(tmp_path, 0, [(100.0, 2, 0.010), (101.0, 1, 0.004)])
    rank(tmp_path, 1, [(100.5, 1, 0.006)], hostname="h1")
    stats = vdb.pool_ranks(tmp_path)
    # latency samples 5, 5, 4, 6 ms; batches 10, 4, 6 ms; wall clock 100.0 .. 101.004
    assert stats["total_queries"] == 4 and stats["batch_count"] == 3 and stats["num_processes"] == 2
    assert math.isclose(stats["total_time_seconds"], 1.004, rel_tol=1e-12)
    assert math.isclose(stats["throughput_qps"], 4 / 1.004, rel_tol=1e-12)
    assert (stats["min_latency_ms"], stats["max_latency_ms"]) == pytest.approx((4.0, 6.0))
    assert stats["mean_latency_ms"] == pytest.approx(5.0) and stats["median_latency_ms"] == pytest.approx(5.0)
    assert stats["p95_latency_ms"] == pytest.approx(5.85)          # numpy linear: 5 + 0.85 x (6 - 5)
    assert stats["p99_latency_ms"] == pytest.approx(5.97)
    assert stats["median_batch_time_ms"] == pytest.approx(6.0) and stats["mean_batch_time_ms"] == pytest.approx(20 / 3)
    assert stats["p95_batch_time_ms"] == pytest.approx(9.6)         # 6 + 0.9 x (10 - 6)
    assert stats["per_rank_queries"] == {"0": 3, "1": 1}
    assert [r["hostname"] for r in stats["per_rank"]] == ["h0", "h1"]


@pytest.mark.parametrize(("text", "where"), [
    ("timestamp,batch,seconds\n1,1,0.1\n", "queries.csv:1"),
    (f"{HEADER}\n1,1,0.1\nabc,1,0.1\n", "queries.csv:3"),
    (f"{HEADER}\n1,0,0.1\n", "queries.csv:2"),
    (f"{HEADER}\n1,1.5,0.1\n", "queries.csv:2"),
    (f"{HEADER}\n1,1,-0.1\n", "queries.csv:2"),
    (f"{HEADER}\n1,1,nan\n", "queries.csv:2"),
    (f"{HEADER}\n1,1\n", "queries.csv:2"),
])
def test_a_bad_queries_file_is_a_one_line_error_naming_file_and_line(tmp_path, text, where):
    put(tmp_path / "rank_0" / "queries.csv", text)
    with pytest.raises(UserError) as caught:
        vdb.pool_ranks(tmp_path)
    assert where in str(caught.value) and "\n" not in str(caught.value)


def test_a_run_without_rank_folders_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no rank_<N>/ folders"):
        vdb.pool_ranks(tmp_path)


def test_row_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(vdb, "MAX_QUERY_ROWS", 2)
    rank(tmp_path, 0, [(1, 1, 0.1)] * 3)
    with pytest.raises(UserError, match="more than 2 rows"):
        vdb.pool_ranks(tmp_path)


# --- recall ----------------------------------------------------------------------------------------
def test_recall_is_pooled_per_rank_sample(tmp_path):
    truth = {"k": 2, "ids": [[1, 2], [3, 4], [5, 6]]}
    put(tmp_path / "rank_0" / "result_ids.json", {"k": 2, "ids": {"0": [1, 9], "1": [4, 3, 7]}})
    put(tmp_path / "rank_1" / "result_ids.json", {"k": 2, "ids": {"0": [2, 1]}})
    block = vdb.recall(tmp_path, truth, 2)
    assert block["per_query_recall"] == [0.5, 1.0, 1.0] and block["num_queries_evaluated"] == 3
    assert block["mean_recall"] == pytest.approx(2.5 / 3) and block["recall_at_k"] == block["mean_recall"]
    assert (block["min_recall"], block["max_recall"], block["median_recall"]) == (0.5, 1.0, 1.0)
    assert block["p5_recall"] == pytest.approx(0.55) and block["k"] == 2


def test_recall_rejects_an_unknown_query_and_a_bad_k(tmp_path):
    put(tmp_path / "rank_0" / "result_ids.json", {"k": 2, "ids": {"7": [1]}})
    with pytest.raises(UserError, match="query '7'"):
        vdb.recall(tmp_path, {"k": 2, "ids": [[1, 2]]}, 2)
    with pytest.raises(UserError, match="k=0"):
        vdb.recall(tmp_path, {"k": 2, "ids": [[1, 2]]}, 0)


# --- disk I/O from the series ------------------------------------------------------------------------
def sample(host: str, second: int, sectors_read: int, sectors_written: int) -> str:
    counters = {"diskstats": {"sda": {"sectors_read": sectors_read, "sectors_written": sectors_written,
                                      "reads_completed": second, "writes_completed": second}}}
    return json.dumps({"schema": "mlps-timeseries/1", "host": host, "wall": 1000.0 + second, "mono": float(second),
                       "seq": second, "counters": counters})


def test_disk_io_counts_each_host_once_over_the_window(tmp_path):
    for host in ("h1", "h2"):
        lines = [sample(host, s, 2048 * s, 1024 * s) for s in range(5)]       # 1 MiB read, 0.5 MiB written per s
        put(tmp_path / "vector_database_x_timeseries" / f"{host}.jsonl", "\n".join(lines) + "\n")
    whole = vdb.disk_io(tmp_path)
    assert whole["host_count"] == 2 and whole["total_bytes_read"] == 2 * 4 * 2**20
    assert whole["total_bytes_written"] == 2 * 4 * 2**19
    assert whole["total_bytes_read_per_sec"] == pytest.approx(2 * 2**20)
    window = vdb.disk_io(tmp_path, (1001.0, 1003.0))
    assert window["total_bytes_read"] == 2 * 2 * 2**20 and window["duration_seconds"] == 2.0
    assert window["per_host"]["h1"] == {"bytes_read": 2 * 2**20, "bytes_written": 2**20, "samples": 3}


def test_disk_io_is_none_without_series(tmp_path):
    assert vdb.disk_io(tmp_path) is None


# --- writing our leaves ---------------------------------------------------------------------------------
def test_the_campaign_files_of_a_run(tmp_path):
    workload = build_vdb_workload(tmp_path, runs=1)
    leaf = workload / "run" / "20260101_010100"
    summary = json.loads((leaf / "summary.json").read_text())
    stats = json.loads((leaf / "statistics.json").read_text())
    verdict = json.loads((leaf / "result_verdict.json").read_text())
    assert isinstance(stats["recall"], dict) and len(stats["recall"]["per_query_recall"]) == 40
    assert summary["recall"] == stats["recall"]["mean_recall"] and summary["query_count"] == stats["total_queries"]
    assert (summary["num_vectors"], summary["dimension"], summary["index_type"]) == (1_000_000, 1536, "DISKANN")
    assert summary["database"] == {"database": "milvus"} and "disk_io" in summary
    assert verdict["result"] == "valid" and verdict["flat_setup"]["coverage"] == 1.0
    assert vdb.summary_differences(summary, stats) == []
    datagen = json.loads((workload / "datagen" / "20260101_010000" / "summary.json").read_text())
    assert datagen["inserted_vectors"] == 1_000_000 and datagen["timings"]["index_s"] == 3.0


@pytest.mark.parametrize(("coverage", "evaluated", "result"), [
    (1.0, 10, "valid"), (0.995, 10, "degraded"), (0.98, 10, "invalid"), (1.0, 0, "invalid"), (None, 10, "invalid")])
def test_result_verdict_follows_the_coverage(coverage, evaluated, result):
    load = load_doc(ground_truth={"method": "flat_copy", "coverage": coverage, "total_vectors": 100,
                                  "copied_vectors": None})
    verdict = vdb.result_verdict({"num_queries_evaluated": evaluated}, load)
    assert verdict["result"] == result and verdict["valid"] == (result == "valid")
    assert verdict["flat_setup"]["ok"] == (result != "invalid")


def test_coverage_is_computed_from_the_copy_when_not_given():
    load = load_doc(ground_truth={"total_vectors": 200, "copied_vectors": 199})
    assert vdb.result_verdict({"num_queries_evaluated": 5}, load)["flat_setup"]["coverage"] == 0.995


def test_a_load_record_of_another_shape_is_refused(tmp_path):
    with pytest.raises(UserError, match="inserted_vectors"):
        vdb.write_datagen_summary(tmp_path, load_doc(inserted_vectors="many"))
    with pytest.raises(UserError, match="mlps-vectordb-load/1"):
        vdb.write_datagen_summary(tmp_path, load_doc(schema="other/1"))


# --- published leaves ---------------------------------------------------------------------------------
def test_the_published_statistics_agree_with_their_summaries():
    for name, sub in (("20260724_090912", "vectordb/simple/statistics.json"),
                      ("20260724_090347", "vectordb/simple/vdb_multi_node_summary.json")):
        summary = json.loads((FIXTURE / "run" / name / "summary.json").read_text())
        stats = json.loads((FIXTURE / "run" / name / sub).read_text())
        assert vdb.summary_differences(summary, stats) == []
        summary["p99_latency_ms"] *= 1.001
        summary["recall"] = 0.5
        assert [d[0] for d in vdb.summary_differences(summary, stats)] == ["p99_latency_ms", "recall"]


def test_a_leaf_without_summary_gets_the_one_its_statistics_give(tmp_path):
    leaf = tmp_path / "closed" / "O" / "results" / "s" / "vector_database" / "milvus" / "DISKANN" / "run" / \
        "20260724_090912"
    shutil.copytree(FIXTURE / "run" / "20260724_090912", leaf)
    (leaf / "summary.json").unlink()
    (workload,) = read_tree(tmp_path).workloads
    (read,) = workload.leaves
    assert read.summary_file is None and read.vdb.rebuilt_from == "vectordb/simple/statistics.json"
    assert read.summary["recall"] == 0.209675 and read.summary["query_count"] == 3686500
    assert "rank_summaries" not in read.summary


def test_a_statistics_link_out_of_the_tree_is_not_read(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"throughput_qps": 1.0}))
    root = tmp_path / "tree"
    leaf = root / "closed" / "O" / "results" / "s" / "vector_database" / "milvus" / "HNSW" / "run" / "20260101_000000"
    (leaf / "vectordb" / "simple").mkdir(parents=True)
    (leaf / "vectordb" / "simple" / "statistics.json").symlink_to(outside)
    (read,) = read_tree(root).workloads[0].leaves
    assert read.summary is None and read.vdb.statistics == []
    assert any(p.kind == "symlink" for p in read.problems)
