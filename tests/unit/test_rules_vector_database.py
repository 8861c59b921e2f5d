"""VDB-* rules on synthetic VectorDB workloads: a complete CLOSED workload passes every rule (its recall and
query count are only noted: their targets are deferred); each rule has failing cases of its own."""

from __future__ import annotations

import shutil

import pytest

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import all_rules
from mlps.rulebook.verify import verify
from tests.unit.vdb_builder import build_vdb_workload, edit_json, put, stamp

VDB_RULES = sorted(rule.id for rule in all_rules() if rule.benchmarks == ("vector_database",))
NOTED = {"VDB-RECALL": Outcome.WARNING, "VDB-MIN-QUERIES": Outcome.INFO}


def found(result, rule_id, outcome=None):
    return [f for f in result.findings if f.rule_id == rule_id and (outcome is None or f.outcome == outcome)]


def verdict(result) -> str:
    (workload,) = result.workloads
    return workload["verdict"]


def run(workload, number: int = 1):
    return workload / "run" / stamp(number)


def datagen(workload):
    return workload / "datagen" / stamp(0)


def meta(leaf):
    return leaf / f"vector_database_{leaf.name}_metadata.json"


def everywhere(workload, change) -> None:
    """Apply `change` to the metadata of the datagen and every run leaf."""
    for leaf in [datagen(workload), *sorted((workload / "run").iterdir())]:
        edit_json(meta(leaf), change)


def test_every_vdb_rule_is_registered():
    assert VDB_RULES == ["VDB-BACKEND", "VDB-CODE", "VDB-DIM", "VDB-FS-SEPARATION", "VDB-GROUND-TRUTH", "VDB-INDEX",
                         "VDB-INDEX-BUILT", "VDB-METRICS", "VDB-MIN-QUERIES", "VDB-OBJECT", "VDB-PARAMS", "VDB-PATHS",
                         "VDB-POPULATED", "VDB-RECALL", "VDB-RUNS-COUNT", "VDB-SCALE", "VDB-SUMMARY-AGREE"]
    for rule in all_rules():
        if rule.id in VDB_RULES:
            assert rule.section.split(" ")[0].startswith("5."), rule.id


def test_a_complete_closed_workload_passes_every_vdb_rule(tmp_path):
    build_vdb_workload(tmp_path)
    result = verify(tmp_path)
    assert verdict(result) == "CLOSED", [f.line() for f in result.findings]
    for rule_id in VDB_RULES:
        assert result.rules[rule_id]["evaluated"] == 1, rule_id
        outcomes = {f.outcome for f in found(result, rule_id)}
        assert outcomes == ({NOTED[rule_id]} if rule_id in NOTED else set()), (rule_id, outcomes)
    assert not found(result, "BENCH-UNCHECKED") and result.rules["LEAF-STATUS"]["evaluated"] == 1
    figures = result.workloads[0]["aggregate"]
    assert figures["from_leaf"] == stamp(1) and figures["index_type"] == "DISKANN"
    assert figures["recall_histogram"]["queries"] == 40 and sum(figures["recall_histogram"]["counts"]) == 40


# --- VDB-SCALE / VDB-DIM / VDB-POPULATED ---------------------------------------------------------------
def test_another_scale_warns_and_a_missing_dimension_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path, load_over={"num_vectors": 500_000, "inserted_vectors": 500_000})
    result = verify(tmp_path)
    assert len(found(result, "VDB-SCALE", Outcome.WARNING)) == 6 and verdict(result) == "CLOSED"
    edit_json(run(workload) / "summary.json", lambda s: s.pop("dimension"))
    result = verify(tmp_path)
    (bad,) = found(result, "VDB-SCALE", Outcome.INVALID)
    assert "num_vectors or dimension missing" in bad.message and verdict(result) == "INVALID"


def test_a_run_of_another_dimension_than_the_datagen_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload, 2) / "summary.json", lambda s: s.update(dimension=768))
    (bad,) = found(verify(tmp_path), "VDB-DIM")
    assert bad.outcome == Outcome.INVALID and bad.expected == 1536 and bad.actual == 768


def test_without_a_datagen_leaf_the_dimension_is_unchecked(tmp_path):
    workload = build_vdb_workload(tmp_path)
    shutil.rmtree(workload / "datagen")
    (unchecked,) = found(verify(tmp_path), "VDB-DIM", Outcome.UNCHECKED)
    assert unchecked.missing.endswith("datagen/<YYYYMMDD_HHMMSS>/summary.json")


def test_a_partly_loaded_collection_is_invalid(tmp_path):
    build_vdb_workload(tmp_path, load_over={"inserted_vectors": 999_000})
    (bad,) = found(verify(tmp_path), "VDB-POPULATED")
    assert bad.outcome == Outcome.INVALID and bad.actual == 999_000


# --- VDB-INDEX-BUILT ----------------------------------------------------------------------------------
def test_the_index_built_compacted_and_queried(tmp_path):
    workload = build_vdb_workload(tmp_path, load_over={"compacted": False})
    edit_json(datagen(workload) / "load.json", lambda d: d.update(compacted=False))
    (not_compacted,) = found(verify(tmp_path), "VDB-INDEX-BUILT")
    assert "compaction configured but not done" in not_compacted.message
    everywhere(workload, lambda m: m["parameters"]["workflow"].update(compact=False))
    assert not found(verify(tmp_path), "VDB-INDEX-BUILT")
    edit_json(run(workload, 3) / "summary.json", lambda s: s.update(index_type="HNSW"))
    edit_json(datagen(workload) / "summary.json", lambda s: s.pop("index_type"))
    result = verify(tmp_path)
    assert [f.message for f in found(result, "VDB-INDEX-BUILT")] == [f"{stamp(0)}: no index_type recorded"]
    edit_json(datagen(workload) / "summary.json", lambda s: s.update(index_type="DISKANN"))
    (other,) = found(verify(tmp_path), "VDB-INDEX-BUILT")
    assert other.expected == "DISKANN" and other.actual == "HNSW"


# --- VDB-RUNS-COUNT -----------------------------------------------------------------------------------
def test_four_runs_are_invalid(tmp_path):
    build_vdb_workload(tmp_path, runs=4)
    (bad,) = found(verify(tmp_path), "VDB-RUNS-COUNT")
    assert bad.outcome == Outcome.INVALID and (bad.expected, bad.actual) == (5, 4)


def test_a_run_without_summary_is_rebuilt_with_a_warning_or_invalid_without_statistics(tmp_path):
    workload = build_vdb_workload(tmp_path)
    (run(workload, 2) / "summary.json").unlink()
    result = verify(tmp_path)
    (rebuilt,) = found(result, "VDB-RUNS-COUNT")
    assert rebuilt.outcome == Outcome.WARNING and "rebuilt from statistics.json" in rebuilt.message
    assert verdict(result) == "CLOSED" and not found(result, "VDB-METRICS")
    (run(workload, 2) / "statistics.json").unlink()
    result = verify(tmp_path)
    (gone,) = found(result, "VDB-RUNS-COUNT")
    assert gone.outcome == Outcome.INVALID and gone.missing.endswith(f"{stamp(2)}/summary.json")


def test_a_failed_run_is_not_counted(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(meta(run(workload, 5)), lambda m: m.update(status="failed", message="milvus crashed"))
    result = verify(tmp_path)
    assert found(result, "LEAF-STATUS", Outcome.INVALID)
    assert found(result, "VDB-RUNS-COUNT")[0].actual == 4


# --- VDB-RECALL / VDB-MIN-QUERIES / VDB-METRICS -------------------------------------------------------
@pytest.mark.parametrize("value", [0.0, None, "high", 1.5])
def test_a_zero_missing_or_impossible_recall_is_invalid(tmp_path, value):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload) / "summary.json", lambda s: s.update(recall=value))
    result = verify(tmp_path)
    (bad,) = found(result, "VDB-RECALL", Outcome.INVALID)
    assert bad.evidence.endswith(f"{stamp(1)}/summary.json")
    (noted,) = found(result, "VDB-RECALL", Outcome.WARNING)
    assert "over 4 run(s)" in noted.message


def test_a_recall_block_counts_by_its_mean(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload) / "summary.json", lambda s: s.update(recall={"mean_recall": 0.0}))
    assert found(verify(tmp_path), "VDB-RECALL", Outcome.INVALID)


def test_a_short_run_or_no_query_count_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(meta(run(workload, 2)), lambda m: m["parameters"]["run"].update(runtime=20))
    (short,) = found(verify(tmp_path), "VDB-MIN-QUERIES", Outcome.INVALID)
    assert short.actual == 20 and short.expected == ">= 30 s"
    everywhere(workload, lambda m: m["parameters"]["run"].update(mode="query_count"))
    assert not found(verify(tmp_path), "VDB-MIN-QUERIES", Outcome.INVALID)

    def strip(summary):
        for key in ("query_count", "throughput_qps"):
            summary.pop(key)
    edit_json(run(workload, 3) / "summary.json", strip)
    result = verify(tmp_path)
    (missing,) = found(result, "VDB-MIN-QUERIES", Outcome.INVALID)
    assert "neither query_count" in missing.message
    (metrics,) = found(result, "VDB-METRICS")
    assert metrics.actual == ["throughput_qps"]


def test_query_count_falls_back_to_qps_times_time(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload) / "summary.json", lambda s: s.pop("query_count"))
    result = verify(tmp_path)
    assert not found(result, "VDB-MIN-QUERIES", Outcome.INVALID)


def test_a_missing_latency_figure_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload, 4) / "summary.json", lambda s: s.pop("p999_latency_ms"))
    (bad,) = found(verify(tmp_path), "VDB-METRICS")
    assert bad.outcome == Outcome.INVALID and bad.actual == ["p999_latency_ms"]


# --- VDB-SUMMARY-AGREE --------------------------------------------------------------------------------
def test_a_summary_that_differs_from_its_statistics_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(run(workload) / "summary.json", lambda s: s.update(throughput_qps=s["throughput_qps"] * 2))
    (bad,) = found(verify(tmp_path), "VDB-SUMMARY-AGREE")
    assert bad.outcome == Outcome.INVALID and bad.actual == ["throughput_qps"]
    assert "summary.json and statistics.json disagree" in bad.message


def test_statistics_that_differ_from_the_rank_files_are_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    with (run(workload, 2) / "rank_1" / "queries.csv").open("a") as handle:
        handle.write("1767225700.0,4,0.5\n")
    (bad,) = found(verify(tmp_path), "VDB-SUMMARY-AGREE")
    assert "statistics.json and the rank files disagree" in bad.message
    assert {"total_queries", "throughput_qps", "max_latency_ms"} <= set(bad.actual)


def test_a_rank_file_that_cannot_be_pooled_is_invalid(tmp_path):
    workload = build_vdb_workload(tmp_path)
    put(run(workload, 2) / "rank_0" / "queries.csv", "timestamp,batch_size,batch_time_seconds\nx,1,1\n")
    (bad,) = found(verify(tmp_path), "VDB-SUMMARY-AGREE")
    assert "cannot be pooled" in bad.message and "queries.csv:2" in bad.message


# --- VDB-GROUND-TRUTH ---------------------------------------------------------------------------------
def test_ground_truth_verdicts(tmp_path):
    workload = build_vdb_workload(tmp_path)
    (run(workload) / "result_verdict.json").unlink()
    (missing,) = found(verify(tmp_path), "VDB-GROUND-TRUTH")
    assert missing.outcome == Outcome.WARNING and missing.missing.endswith("result_verdict.json")
    put(run(workload) / "result_verdict.json", {"result": "degraded", "num_queries_evaluated": 40,
                                                "flat_setup": {"coverage": 0.995}})
    (degraded,) = found(verify(tmp_path), "VDB-GROUND-TRUTH")
    assert degraded.outcome == Outcome.WARNING
    put(run(workload) / "result_verdict.json", {"result": "invalid", "num_queries_evaluated": 40,
                                                "flat_setup": {"coverage": 0.9, "reason": "copy failed"}})
    (invalid,) = found(verify(tmp_path), "VDB-GROUND-TRUTH")
    assert invalid.outcome == Outcome.INVALID and "copy failed" in invalid.message


# --- VDB-PATHS / VDB-FS-SEPARATION / VDB-OBJECT -------------------------------------------------------
def test_storage_root_equal_to_results_is_invalid_and_unrecorded_warns(tmp_path):
    workload = build_vdb_workload(tmp_path)
    edit_json(meta(run(workload)), lambda m: m["parameters"]["storage"].update(storage_root="/results/"))
    edit_json(meta(run(workload, 2)), lambda m: m["parameters"]["storage"].pop("storage_root"))
    result = verify(tmp_path)
    assert [(f.outcome, f.evidence.split("/")[-2]) for f in found(result, "VDB-PATHS")] == [
        (Outcome.INVALID, stamp(1)), (Outcome.WARNING, stamp(2))]


def test_a_leaf_without_metadata_warns_on_paths_and_leaves_params_unchecked(tmp_path):
    workload = build_vdb_workload(tmp_path)
    meta(run(workload, 3)).unlink()
    result = verify(tmp_path)
    (paths,) = found(result, "VDB-PATHS")
    (params,) = found(result, "VDB-PARAMS")
    assert paths.outcome == Outcome.WARNING and params.outcome == Outcome.UNCHECKED
    assert params.missing.endswith(f"{stamp(3)}/vector_database_{stamp(3)}_metadata.json")
    assert verdict(result) == "UNCHECKED"


@pytest.mark.parametrize(("record", "outcome"), [
    ({"same_filesystem": True, "data_fs": "/dev/sda"}, Outcome.INVALID), ({"same": True}, Outcome.INVALID),
    ({"data_fs": "/dev/sda"}, Outcome.WARNING), (None, Outcome.WARNING)])
def test_one_filesystem_is_invalid_and_unrecorded_warns(tmp_path, record, outcome):
    workload = build_vdb_workload(tmp_path)
    edit_json(meta(run(workload)), lambda m: m.update(fs_separation=record))
    (bad,) = found(verify(tmp_path), "VDB-FS-SEPARATION")
    assert bad.outcome == outcome


def test_the_object_api_is_exempt_from_paths_and_names_its_backend(tmp_path):
    workload = build_vdb_workload(tmp_path)

    def to_object(m, backend):
        m["parameters"]["storage"] = {"storage_type": "object"}
        m["parameters"]["database"]["storage_backend"] = backend
        m["fs_separation"] = None
    everywhere(workload, lambda m: to_object(m, "s3-wasabi"))
    result = verify(tmp_path)
    assert not found(result, "VDB-PATHS") and not found(result, "VDB-FS-SEPARATION") and not found(result, "VDB-OBJECT")
    everywhere(workload, lambda m: to_object(m, "azure-blob"))
    bad = found(verify(tmp_path), "VDB-OBJECT")
    assert len(bad) == 6 and bad[0].outcome == Outcome.INVALID and bad[0].actual == "azure-blob"


# --- VDB-BACKEND / VDB-INDEX / VDB-PARAMS -------------------------------------------------------------
def test_pgvector_is_open_only(tmp_path):
    closed = tmp_path / "c"
    build_vdb_workload(closed, engine="pgvector", index="HNSW", load_over={"engine": "pgvector", "index_type": "HNSW"})
    bad = found(verify(closed), "VDB-BACKEND")
    assert len(bad) == 6 and bad[0].outcome == Outcome.INVALID and bad[0].actual == "pgvector"
    opened = tmp_path / "o"
    build_vdb_workload(opened, division="open", engine="pgvector", index="HNSW",
                       load_over={"engine": "pgvector", "index_type": "HNSW"})
    result = verify(opened)
    assert not found(result, "VDB-BACKEND") and verdict(result) == "OPEN"


def test_an_engine_other_than_its_folder_is_invalid(tmp_path):
    build_vdb_workload(tmp_path, engine="pgvector", division="open")      # the files say milvus
    bad = found(verify(tmp_path), "VDB-BACKEND")
    assert bad and "engine milvus under the folder pgvector" in bad[0].message


def test_closed_indexes(tmp_path):
    build_vdb_workload(tmp_path / "c", index="IVF_FLAT", load_over={"index_type": "IVF_FLAT"})
    bad = found(verify(tmp_path / "c"), "VDB-INDEX")
    assert len(bad) == 6 and bad[0].outcome == Outcome.INVALID
    build_vdb_workload(tmp_path / "o", division="open", index="IVF_FLAT", load_over={"index_type": "IVF_FLAT"})
    assert not found(verify(tmp_path / "o"), "VDB-INDEX")
    build_vdb_workload(tmp_path / "s", division="open", index="SCANN", load_over={"index_type": "SCANN"})
    assert {f.outcome for f in found(verify(tmp_path / "s"), "VDB-INDEX")} == {Outcome.WARNING}


def test_an_index_other_than_its_folder_is_invalid(tmp_path):
    build_vdb_workload(tmp_path, index="HNSW")
    bad = found(verify(tmp_path), "VDB-INDEX")
    assert len(bad) == 6 and "index DISKANN under the folder HNSW" in bad[0].message


def test_closed_may_change_only_its_tunables(tmp_path):
    workload = build_vdb_workload(tmp_path)
    everywhere(workload, lambda m: m["override_parameters"].update({"database.host": "10.0.0.1",
                                                                     "index.M": 32}))
    bad = found(verify(tmp_path), "VDB-PARAMS")
    assert len(bad) == 6 and bad[0].actual == ["database.host"]
    edit_json(meta(run(workload)), lambda m: m["parameters"]["run"].update(mode="burst"))
    modes = [f for f in found(verify(tmp_path), "VDB-PARAMS") if "run.mode" in f.message]
    assert len(modes) == 1 and modes[0].actual == "burst"


def test_open_may_change_the_host(tmp_path):
    workload = build_vdb_workload(tmp_path, division="open")
    everywhere(workload, lambda m: m["override_parameters"].update({"database.host": "10.0.0.1"}))
    assert not found(verify(tmp_path), "VDB-PARAMS")


# --- VDB-CODE -----------------------------------------------------------------------------------------
def test_a_code_image_pointer_to_an_image_not_in_the_tree_warns(tmp_path):
    workload = build_vdb_workload(tmp_path)
    (run(workload) / ".mlps-code-image").write_text("md5-tree-v2:" + "a" * 32 + "\n")
    (warning,) = found(verify(tmp_path), "VDB-CODE")
    assert warning.outcome == Outcome.WARNING and "code-aaaaaaaa" in warning.missing
