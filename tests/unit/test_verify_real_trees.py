"""Published MLPerf Storage trees get the verdict of the division they were published in, except
for findings that name a file the fixture copy does not carry; their figures are reproduced."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from mlps.rulebook.findings import Outcome, Verdict, verdict_of
from mlps.rulebook.verify import verify

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results"
V1 = FIXTURES / "storage_results_v1.0"
V3 = FIXTURES / "storage_results_v3.0"


@pytest.fixture(scope="module")
def v1():
    return verify(V1)


@pytest.fixture(scope="module")
def v3():
    return verify(V3)


def test_v1_trees_are_closed_outright(v1):
    assert v1.verdict == Verdict.CLOSED, [f.line() for f in v1.findings if f.outcome != Outcome.INFO]
    assert [w["verdict"] for w in v1.workloads] == ["CLOSED"] * 3
    assert {w["edition"] for w in v1.workloads} == {"1.0"}
    assert {(w["model"], w["accelerator"]) for w in v1.workloads} == {
        ("resnet50", "h100"), ("unet3d", "h100"), ("cosmoflow", "a100")}


def test_v3_trees_are_closed_but_for_files_the_copy_lacks(v3):
    assert {w["edition"] for w in v3.workloads} == {"3.0"}
    assert {w["benchmark"] for w in v3.workloads} == {"training", "checkpointing", "kv_cache", "vector_database"}
    lacking = [f for f in v3.findings if f.missing]
    assert lacking, "the copy lacks logs, so some findings must name missing files"
    for finding in lacking:
        path = finding.missing
        assert "<YYYYMMDD_HHMMSS>" in path or not (V3 / path).exists(), finding.line()
    rest = [f for f in v3.findings if not f.missing]
    assert verdict_of(rest) == Verdict.CLOSED, [f.line() for f in rest if f.outcome != Outcome.INFO]


def test_v3_training_aggregate_matches_the_summaries(v3):
    workload = next(w for w in v3.workloads if w["benchmark"] == "training")
    assert workload["warmup"] == "20260704_050040" and len(workload["measured"]) == 5
    run_dir = V3 / workload["path"] / "run"
    summaries = [json.loads((run_dir / name / "summary.json").read_text()) for name in workload["measured"]]
    figures = workload["aggregate"]
    expected_au = statistics.fmean(s["metric"]["train_au_mean_percentage"] for s in summaries)
    expected_bw = statistics.fmean(s["metric"]["train_io_mean_MB_per_second"] for s in summaries) / 1024
    assert math.isclose(figures["train_mean_of_au_percentage"], expected_au, rel_tol=1e-9)
    assert math.isclose(figures["read_bw_GiB_per_second"], expected_bw, rel_tol=1e-9)
    assert (figures["client_nodes"], figures["simulated_accelerators"]) == (8, 8)


def test_v3_checkpoint_aggregate(v3):
    workload = next(w for w in v3.workloads if w["benchmark"] == "checkpointing")
    figures = workload["aggregate"]
    assert figures["write_bw_GiB_per_second"] == pytest.approx(8.63733219350259, rel=1e-12)
    assert figures["read_bw_GiB_per_second"] == pytest.approx(12.999883786501638, rel=1e-12)


def test_v1_reports_are_reproduced_to_1e_9(v1):
    for workload in v1.workloads:
        report = json.loads((V1 / workload["path"] / "mlperf_storage_report.json").read_text())["overall"]
        mine = workload["aggregate"]["mlperf_storage_report"]
        for key, value in report.items():
            if isinstance(value, float):
                assert math.isclose(mine[key], value, rel_tol=1e-9), (workload["path"], key)
            else:
                assert str(mine[key]) == str(value), (workload["path"], key)


def test_whole_fixture_store_verifies_each_workload_with_its_own_edition():
    result = verify(FIXTURES)
    editions = {w["path"].split("/")[0]: set() for w in result.workloads}
    for workload in result.workloads:
        editions[workload["path"].split("/")[0]].add(workload["edition"])
    assert editions == {"storage_results_v1.0": {"1.0"}, "storage_results_v3.0": {"3.0"}}


def test_every_published_tree_gets_reviews_outcome_or_names_a_file_the_copy_lacks():
    """Per workload of the whole store: review's division (CLOSED for closed/, OPEN for open/); any
    other finding names a file this copy really lacks."""
    result = verify(FIXTURES)
    assert len(result.workloads) == 7
    for workload in result.workloads:
        own = [f for f in result.findings if f.workload == workload["path"]]
        for finding in own:
            if finding.missing:
                assert "<YYYYMMDD_HHMMSS>" in finding.missing or not (FIXTURES / finding.missing).exists(), \
                    finding.line()
        judged = verdict_of([f for f in own if not f.missing])
        expected = Verdict.OPEN if workload["division"] == "open" else Verdict.CLOSED
        assert judged == expected, (workload["path"], [f.line() for f in own if f.outcome != Outcome.INFO])


def test_v3_kv_leaf_is_not_closed_and_names_the_files_the_copy_lacks(v3):
    """The published KV leaf kept only summary.json: every KV rule that needs the metadata or the rank
    files says so (UNCHECKED, naming them); nothing else is found against it."""
    workload = next(w for w in v3.workloads if w["benchmark"] == "kv_cache")
    assert workload["verdict"] == "UNCHECKED"
    own = [f for f in v3.findings if f.workload == workload["path"] and f.rule_id.startswith("KV-")]
    assert {f.rule_id: f.outcome for f in own} == {"KV-LEAF-METADATA": Outcome.UNCHECKED,
                                                  "KV-SUMMARY": Outcome.UNCHECKED}
    summary_finding = next(f for f in own if f.rule_id == "KV-SUMMARY")
    assert summary_finding.message.endswith("only summary.json: the metadata and the 9 x 32 rank files are missing")
    assert summary_finding.missing.endswith("option_<O>/trial_<T>/rank_<N>/kvcache_results_<YYYYMMDD_HHMMSS>.json")
    figures = workload["aggregate"]
    assert figures["source"] == "summary.json" and figures["client_nodes"] == 16 and figures["total_ranks"] == 32
    leaf = V3 / workload["path"] / "run" / "20260807_155647" / "summary.json"
    published = json.loads(leaf.read_text())
    for key in ("1", "2", "3"):
        for name in ("aggregated_read_bandwidth_gbps", "aggregated_p95_latency_ms"):
            assert figures[f"option_{key}"][name] == published["options"][key][name]


def test_v3_vdb_findings_name_the_missing_metadata_and_warn_on_the_deferred_checks(v3):
    """The published seahorse DISKANN workload (1 datagen + 5 runs, recall 0.21): its figures agree with
    the statistics files beside two of the summaries; what needs the metadata (not in this copy) is
    UNCHECKED naming it; the missing result_verdict.json and the undefined recall target are WARNINGs."""
    workload = next(w for w in v3.workloads if w["benchmark"] == "vector_database")
    assert workload["verdict"] == "UNCHECKED" and workload["leaves"] == {"datagen": 1, "run": 5}
    own = [f for f in v3.findings if f.workload == workload["path"] and f.rule_id.startswith("VDB-")]
    by_rule: dict = {}
    for finding in own:
        by_rule.setdefault(finding.rule_id, set()).add(finding.outcome)
    assert by_rule == {"VDB-PARAMS": {Outcome.UNCHECKED}, "VDB-PATHS": {Outcome.WARNING},
                       "VDB-GROUND-TRUTH": {Outcome.WARNING}, "VDB-RECALL": {Outcome.WARNING},
                       "VDB-MIN-QUERIES": {Outcome.INFO}}
    params = [f for f in own if f.rule_id == "VDB-PARAMS"]
    assert len(params) == 6 and all(f.missing.endswith("_metadata.json") for f in params)
    assert len([f for f in own if f.rule_id == "VDB-GROUND-TRUTH"]) == 5
    (recall,) = [f for f in own if f.rule_id == "VDB-RECALL"]
    assert recall.actual == 0.209675 and "0.2097 to 0.2097 over 5 run(s)" in recall.message
    for rule in ("VDB-SUMMARY-AGREE", "VDB-SCALE", "VDB-DIM", "VDB-POPULATED", "VDB-INDEX-BUILT", "VDB-RUNS-COUNT",
                 "VDB-METRICS", "VDB-BACKEND", "VDB-INDEX"):
        assert v3.rules[rule]["evaluated"] >= 1 and rule not in by_rule, rule
    figures = workload["aggregate"]
    assert figures["from_leaf"] == "20260724_090347" and figures["client_nodes"] == 4
    assert figures["queries_per_second"] == 57922.38780680426 and figures["recall_percent"] == pytest.approx(20.9675)
    assert figures["read_bw_GiB_per_second"] == pytest.approx(1047.490716439947 / 2**30, rel=1e-12)
    assert (figures["vector_count"], figures["dimension"], figures["index_type"]) == (1_000_000, 1536, "DISKANN")
    assert len(figures["runs"]) == 5
