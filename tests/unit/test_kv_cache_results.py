"""mlps.results.kv_cache: the run summary's arithmetic, reading rank files from a hostile tree, the
comparison with a stored summary, and the figures and table cells the report takes from it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlps.errors import UserError
from mlps.report.build import build
from mlps.report.tables import kv_cells
from mlps.results import kv_cache
from mlps.results.figures import kv_results
from mlps.results.reader import read_tree
from tests.unit.kv_builder import STAMP, build_kv_leaf, put, rank_doc

PUBLISHED = (Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v3.0"
             / "closed" / "HPE" / "results" / "K3000-kvcache" / "kv_cache" / "llama3.1-8b" / "run"
             / "20260807_155647" / "summary.json")


def doc(read_bw: float, p95: float, storage_entries: int = 5, **cache) -> dict:
    return {"summary": {"avg_throughput_tokens_per_sec": 10 * read_bw, "storage_throughput_tokens_per_sec": read_bw,
                        "storage_io_latency_ms": {"p95": p95},
                        "cache_stats": {"tier_storage_read_bandwidth_gbps": read_bw,
                                        "tier_storage_write_bandwidth_gbps": read_bw / 2,
                                        "storage_entries": storage_entries, **cache}}}


def rank(option, trial, rank_, data) -> kv_cache.RankResult:
    return kv_cache.RankResult(option, trial, rank_, f"option_{option}/trial_{trial}/rank_{rank_}/r.json", data)


def run(ranks, **over):
    args = {"npernode": 1, "host_count": 2, "total_ranks": 2, "trials_per_option": 2, "run_datetime": STAMP,
            "options": (1,)} | over
    return kv_cache.aggregate(ranks, **args)


# --- aggregate -----------------------------------------------------------------------------------------
def test_sum_within_a_trial_mean_over_trials_max_of_p95():
    summary = run([rank(1, 1, 0, doc(1.0, 10.0, storage_read_device_p95_ms=7.0)),
                   rank(1, 1, 1, doc(2.0, 30.0, storage_read_device_p95_ms=9.0)),
                   rank(1, 2, 0, doc(4.0, 20.0, storage_read_device_p95_ms=8.0)),
                   rank(1, 2, 1, doc(5.0, 25.0))])
    option = summary["options"]["1"]
    assert option["aggregated_read_bandwidth_gbps"] == pytest.approx((3.0 + 9.0) / 2)
    assert option["aggregated_write_bandwidth_gbps"] == pytest.approx((1.5 + 4.5) / 2)
    assert option["aggregated_avg_throughput_tokens_per_sec"] == pytest.approx(60.0)
    assert option["aggregated_p95_latency_ms"] == 30.0
    assert option["aggregated_device_read_p95_ms"] == 9.0 and option["aggregated_storage_read_p95_ms"] is None
    assert [t["read_bandwidth_gbps"] for t in option["per_trial"]] == [3.0, 9.0]
    assert [r["storage_io_p95_ms"] for r in option["per_rank_p95"]] == [10.0, 30.0, 20.0, 25.0]
    assert option["partial_failure"] is False and summary["partial_failure"] is False
    assert (option["rank_count"], option["trial_count"]) == (2, 2)


def test_missing_and_unreadable_rank_files_are_listed_and_count_as_nothing():
    summary = run([rank(1, 1, 0, doc(1.0, 10.0)), rank(1, 1, 1, None), rank(1, 2, 0, doc(4.0, 20.0))])
    option = summary["options"]["1"]
    assert option["missing_files"] == ["option_1/trial_1/rank_1/r.json", "option_1/trial_2/rank_1"]
    assert option["aggregated_read_bandwidth_gbps"] == pytest.approx((1.0 + 4.0) / 2)
    assert option["partial_failure"] is True and summary["partial_failure"] is True
    assert [t["ranks_present"] for t in option["per_trial"]] == [1, 1]


def test_cpu_tier_ranks_are_listed_and_contribute_their_zero():
    summary = run([rank(1, 1, 0, doc(0.0, 1.0, storage_entries=0)), rank(1, 1, 1, doc(2.0, 3.0))],
                  trials_per_option=1)
    option = summary["options"]["1"]
    assert option["cpu_tier_ranks"] == ["option_1/trial_1/rank_0/r.json"]
    assert option["aggregated_read_bandwidth_gbps"] == 2.0


def test_tier_shares_and_hit_rate():
    summary = run([rank(1, 1, 0, doc(1.0, 1.0, tier_cpu_kv_bytes_read_gb=1.0, tier_storage_kv_bytes_read_gb=3.0,
                                     cache_hit_rate=0.2)),
                   rank(1, 1, 1, doc(1.0, 1.0, tier_storage_kv_bytes_read_gb=4.0, cache_hit_rate=0.4))],
                  trials_per_option=1)
    option = summary["options"]["1"]
    assert option["tier_read_share"] == {"gpu": 0.0, "cpu": 0.125, "storage": 0.875}
    assert option["cache_hit_rate_mean"] == pytest.approx(0.3)


def test_trial_failures_mark_the_run_partial():
    summary = run([rank(1, t, r, doc(1.0, 1.0)) for t in (1, 2) for r in (0, 1)],
                  trial_failures={"option_1/trial_2": {"status": "failed"}})
    assert summary["options"]["1"]["partial_failure"] is False and summary["partial_failure"] is True


def test_the_summary_has_the_published_structure():
    """Same keys as the published v3.0 summary.json (ours adds the labelled P95s and the views)."""
    published = json.loads(PUBLISHED.read_text())
    ours = kv_cache.aggregate([], npernode=2, host_count=16, total_ranks=32, trials_per_option=3,
                              run_datetime="20260807_155647")
    assert list(ours) == list(published) and list(ours["options"]) == ["1", "2", "3"]
    for key in ("1", "2", "3"):
        assert set(published["options"][key]) <= set(ours["options"][key])
        assert ours["options"][key]["option"] == int(key)
        assert {"aggregated_device_read_p95_ms", "aggregated_device_write_p95_ms",
                "aggregated_storage_read_p95_ms"} <= set(ours["options"][key])
    assert json.loads(json.dumps(ours)) == ours


# --- comparing with a stored summary -------------------------------------------------------------------
def test_differences_are_relative_and_name_the_field():
    stored = run([rank(1, 1, 0, doc(1.0, 10.0))], trials_per_option=1)
    again = json.loads(json.dumps(stored))
    again["options"]["1"]["aggregated_read_bandwidth_gbps"] *= 1 + 1e-12
    assert kv_cache.summary_differences(stored, again) == []
    again["options"]["1"]["aggregated_read_bandwidth_gbps"] *= 1 + 1e-6
    assert [d[0] for d in kv_cache.summary_differences(stored, again)] == ["options.1.aggregated_read_bandwidth_gbps"]


def test_missing_files_compare_by_location_not_by_the_machine_path():
    stored = {"options": {"1": {"missing_files": ["/lustre/run/option_1/trial_2/rank_1"]}}}
    computed = {"options": {"1": {"missing_files": ["option_1/trial_2/rank_1"]}}}
    assert kv_cache.summary_differences(stored, computed) == []
    computed["options"]["1"]["missing_files"] = ["option_1/trial_2/rank_0"]
    assert kv_cache.summary_differences(stored, computed)[0][0] == "options.1.missing_files"


# --- reading rank files ---------------------------------------------------------------------------------
def test_rank_files_are_read_compacted_from_a_leaf(tmp_path):
    leaf = build_kv_leaf(tmp_path, trials=1)
    (run_leaf,) = [lf for w in read_tree(tmp_path).workloads for lf in w.leaves]
    assert run_leaf.path == leaf and len(run_leaf.kv_ranks.results) == 3 * 2
    first = run_leaf.kv_ranks.results[0]
    assert first.file == f"option_1/trial_1/rank_0/kvcache_results_{STAMP}.json"
    assert "end_to_end_latencies" not in first.doc and first.doc["summary"]["cache_stats"]["storage_entries"] == 12
    assert run_leaf.kv_ranks.trials == {1: [1], 2: [1], 3: [1]}
    assert kv_cache.summary_differences(run_leaf.summary, kv_cache.recompute(run_leaf)) == []


def test_a_rank_file_linked_out_of_the_tree_is_refused(tmp_path):
    outside = tmp_path / "outside.json"
    put(outside, rank_doc(1, 1, 0))
    root = tmp_path / "tree"
    leaf = build_kv_leaf(root, trials=1)
    target = leaf / "option_1" / "trial_1" / "rank_0" / f"kvcache_results_{STAMP}.json"
    target.unlink()
    os.symlink(outside, target)
    (run_leaf,) = [lf for w in read_tree(root).workloads for lf in w.leaves]
    assert [(p.kind, p.path.rsplit("/", 3)[-3:]) for p in run_leaf.problems] == [
        ("symlink", ["trial_1", "rank_0", f"kvcache_results_{STAMP}.json"])]
    assert (1, 1, 0) not in {r.location for r in run_leaf.kv_ranks.results}


def test_a_trial_folder_linked_out_of_the_tree_is_not_followed(tmp_path):
    root = tmp_path / "tree"
    leaf = build_kv_leaf(root, trials=1)
    elsewhere = tmp_path / "elsewhere"
    (leaf / "option_2" / "trial_1").rename(elsewhere)
    os.symlink(elsewhere, leaf / "option_2" / "trial_1")
    (run_leaf,) = [lf for w in read_tree(root).workloads for lf in w.leaves]
    assert {p.kind for p in run_leaf.problems} == {"symlink"}
    assert {r.option for r in run_leaf.kv_ranks.results} == {1, 3}


def test_a_rank_file_that_is_not_json_is_a_problem_and_counts_as_missing(tmp_path):
    leaf = build_kv_leaf(tmp_path, trials=1)
    (leaf / "option_1" / "trial_1" / "rank_1" / f"kvcache_results_{STAMP}.json").write_text("{not json")
    (run_leaf,) = [lf for w in read_tree(tmp_path).workloads for lf in w.leaves]
    assert [p.kind for p in run_leaf.problems] == ["unparsable"]
    assert kv_cache.recompute(run_leaf)["options"]["1"]["missing_files"] == [
        f"option_1/trial_1/rank_1/kvcache_results_{STAMP}.json"]


# --- figures and the table row -------------------------------------------------------------------------
def test_kv_results_and_the_table_row_from_rank_files(tmp_path):
    build_kv_leaf(tmp_path)
    (workload,) = read_tree(tmp_path).workloads
    figures = kv_results(workload.runs)
    assert figures["source"] == "rank files" and figures["client_nodes"] == 2
    option = figures["option_1"]
    cells = kv_cells(figures)
    assert cells["KVCache llama3.1-8b Storage Only - Read B/W (GiB/s)"] == option["aggregated_read_bandwidth_gbps"]
    # the storage read P95 where the rank files give it
    assert cells["KVCache llama3.1-8b Storage Only - P95 Read Latency (ms)"] == option["aggregated_storage_read_p95_ms"]
    assert cells["KVCache llama3.1-70b Storage Only - Throughput (tok/s)"] == \
        figures["option_3"]["aggregated_avg_throughput_tokens_per_sec"]
    assert len(option["per_trial"]) == 3 and len(option["per_rank_p95"]) == 6


def test_the_table_row_of_the_published_summary_copies_its_figures():
    published = json.loads(PUBLISHED.read_text())
    (workload,) = [w for w in read_tree(PUBLISHED.parents[5]).workloads if w.benchmark == "kv_cache"]
    cells = kv_cells(kv_results(workload.runs))
    group = "KVCache llama3.1-8b Storage + Mem"
    assert cells[f"{group} - P95 Read Latency (ms)"] == published["options"]["2"]["aggregated_p95_latency_ms"]
    assert cells[f"{group} - Write B/W (GiB/s)"] == published["options"]["2"]["aggregated_write_bandwidth_gbps"]


def test_the_latest_error_free_leaf_is_the_one_reported(tmp_path):
    build_kv_leaf(tmp_path)
    first = next(tmp_path.rglob("run")) / STAMP
    later = first.parent / "20260102_010203"
    later.mkdir()
    put(later / "summary.json", {"options": {"1": {"aggregated_read_bandwidth_gbps": 1.0}},
                                 "partial_failure": True, "host_count": 9})
    (workload,) = read_tree(tmp_path).workloads
    assert kv_results(workload.runs)["from_leaf"] == STAMP


def test_the_report_shows_each_option_and_fills_the_kv_row(tmp_path):
    build_kv_leaf(tmp_path / "tree")
    outcome = build(tmp_path / "tree", tmp_path / "out")
    page = outcome.html.read_text()
    for title in ("Option 1: Max Storage Stress", "Option 2: Storage Throughput", "Option 3: Large Model (70B)"):
        assert title in page
    assert page.count("<svg") == 3 * 2           # per Option: bandwidth per trial, P95 per rank
    assert "Read bandwidth per trial" in page and "P95 storage time per rank (max over trials)" in page
    assert "P95 device read (ms, rule book 6.3.4.3)" in page and "share of KV bytes read from the cpu tier" in page
    (row,) = json.loads((tmp_path / "out" / "results.json").read_text())
    assert row["Benchmark Type"] == "KVCache" and row["KVCache - # Client Nodes"] == 2
    figures = kv_results(next(iter(read_tree(tmp_path / "tree").workloads)).runs)
    assert row["KVCache llama3.1-8b Storage + Mem - Read B/W (GiB/s)"] == pytest.approx(
        figures["option_2"]["aggregated_read_bandwidth_gbps"])


def test_write_summary_gives_what_the_verifier_recomputes(tmp_path):
    leaf = build_kv_leaf(tmp_path, skip={(2, 3, 0)})
    stored = json.loads((leaf / "summary.json").read_text())
    (leaf / "summary.json").unlink()
    meta = json.loads((leaf / f"kv_cache_{STAMP}_metadata.json").read_text())
    written = kv_cache.write_summary(leaf, meta)
    assert json.loads((leaf / "summary.json").read_text()) == written
    assert kv_cache.summary_differences(stored, written) == []
    assert written["options"]["2"]["missing_files"] == ["option_2/trial_3/rank_0"]


def test_write_summary_refuses_metadata_without_the_layout(tmp_path):
    leaf = build_kv_leaf(tmp_path, trials=1)
    meta = json.loads((leaf / f"kv_cache_{STAMP}_metadata.json").read_text())
    meta["npernode"] = 0
    with pytest.raises(UserError, match="npernode=0: expected a whole number >= 1"):
        kv_cache.write_summary(leaf, meta)
