"""The verifier agrees with review on published-shaped trees and never says CLOSED for what it did
not check: v1.0 datagen logs, run gaps before edition 3.0, uncapped read threads, KV-cache/VectorDB
(UNCHECKED, exit 5), open/ trees, folders named like code trees.

Trees are built in the shape of the published ones (tests/fixtures/mlperf_results/README.md); the
KV-cache and VectorDB leaves are the real published files copied from there."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from mlps.cli import main
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import (
    build_checkpoint_workload,
    build_training_workload,
    build_v1_workload,
    edit_json,
    write_json,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v3.0"
KV = FIXTURES / "closed" / "HPE" / "results" / "K3000-kvcache"
VDB = FIXTURES / "closed" / "TTA" / "results" / "seahorse-storage"


def findings_of(result, rule_id, outcome=None):
    return [f for f in result.findings if f.rule_id == rule_id and (outcome is None or f.outcome == outcome)]


def not_info(result):
    return [f.line() for f in result.findings if f.outcome != Outcome.INFO]


def add_override(workload: Path, line: str, config="configs") -> None:
    for leaf in sorted(p for p in workload.iterdir() if p.is_dir()):
        overrides = leaf / config / "overrides.yaml"
        overrides.write_text(overrides.read_text() + f"- {line}\n")


# --- v1.0 generation_logs (the datagen evidence v1.0 required) --------------------------------------
def write_generation_logs(tmp: Path) -> Path:
    """Closed/<org>/generation_logs/<system>/<workload>/<host>/ as v1.0 submitters published it."""
    host = tmp / "Closed" / "Org" / "generation_logs" / "sys1" / "unet3d_h100" / "host1"
    (host / "configs").mkdir(parents=True)
    (host / "configs" / "overrides.yaml").write_text(
        "- workload=unet3d_h100\n- ++workload.workflow.generate_data=True\n- ++workload.workflow.train=False\n")
    (host / "configs" / "config.yaml").write_text("workload:\n  workflow:\n    generate_data: true\n")
    (host / "configs" / "hydra.yaml").write_text("hydra:\n  job:\n    name: dlio_benchmark\n")
    (host / "dlp.log").write_text("generated\n")
    return host


def test_v1_generation_logs_are_datagen_evidence_not_a_workload(tmp_path):
    build_v1_workload(tmp_path)
    write_generation_logs(tmp_path)
    result = verify(tmp_path)
    assert [w["path"] for w in result.workloads] == ["Closed/Org/results/sys1/unet3d_h100"]
    assert result.verdict == Verdict.CLOSED, not_info(result)
    assert any("generation_logs" in s for s in result.reader["skipped"])


# --- TRAIN-RUNS-GAP: INVALID only in edition 3.0 ------------------------------------------------------
def test_runs_gap_before_edition_3_is_a_warning(tmp_path):
    workload = build_v1_workload(tmp_path)
    for index in (3, 4, 5):                  # a pause of hours before run 3, as v1.0 review published
        edit_json(workload / f"run-{index}" / "summary.json",
                  lambda d: d.update(start=d["start"].replace("T10", "T15"), end=d["end"].replace("T10", "T15")))
    result = verify(tmp_path)
    gaps = findings_of(result, "TRAIN-RUNS-GAP")
    assert gaps and {f.outcome for f in gaps} == {Outcome.WARNING}
    assert result.verdict == Verdict.CLOSED


def test_runs_gap_is_a_warning_in_2_0_and_invalid_in_3_0(tmp_path):
    build_training_workload(tmp_path, gap=3 * 600)
    older = verify(tmp_path, edition="2.0")
    assert {f.outcome for f in findings_of(older, "TRAIN-RUNS-GAP")} == {Outcome.WARNING}
    current = verify(tmp_path, edition="3.0")
    assert {f.outcome for f in findings_of(current, "TRAIN-RUNS-GAP")} == {Outcome.INVALID}


# --- reader.read_threads: no cap in any edition; v1.0 CLOSED prefetch_size <= 2 -----------------------
def test_v1_closed_with_64_read_threads_is_closed(tmp_path):
    workload = build_v1_workload(tmp_path)
    add_override(workload, "++workload.reader.read_threads=64")
    result = verify(tmp_path)
    assert result.verdict == Verdict.CLOSED, not_info(result)


def test_open_tree_with_96_read_threads_and_open_tunables_is_open(tmp_path):
    workload = build_training_workload(tmp_path, division="open")
    for leaf in sorted((workload / "run").glob("2*")):
        overrides = leaf / "dlio_config" / "overrides.yaml"
        overrides.write_text(overrides.read_text().replace("read_threads=8", "read_threads=96")
                             + "- ++workload.reader.data_loader=dali\n")
    result = verify(tmp_path)
    assert result.verdict == Verdict.OPEN, not_info(result)
    assert not findings_of(result, "TRAIN-PARAMS", Outcome.INVALID)


def test_v1_closed_prefetch_size_above_2_is_invalid(tmp_path):
    workload = build_v1_workload(tmp_path)
    add_override(workload, "++workload.reader.prefetch_size=4")
    result = verify(tmp_path)
    found = findings_of(result, "TRAIN-PREFETCH", Outcome.INVALID)
    assert len(found) == 5 and found[0].expected == "<= 2" and found[0].actual == "4"
    assert verify(tmp_path, profile="open").verdict == Verdict.OPEN     # a CLOSED-only limit


def test_v1_closed_prefetch_size_2_and_v3_prefetch_size_8_pass(tmp_path):
    workload = build_v1_workload(tmp_path / "v1")
    add_override(workload, "++workload.reader.prefetch_size=2")
    v3 = build_training_workload(tmp_path / "v3")
    add_override(v3 / "run", "++workload.reader.prefetch_size=8", config="dlio_config")
    result = verify(tmp_path)
    assert result.verdict == Verdict.CLOSED, not_info(result)


# --- open/ is never CLOSED; benchmarks without rules are UNCHECKED (exit 5) ----------------------------
def test_open_tree_without_open_findings_is_open(tmp_path):
    build_training_workload(tmp_path, division="open")
    result = verify(tmp_path)
    assert result.verdict == Verdict.OPEN
    assert [f.rule_id for f in result.findings if f.outcome == Outcome.OPEN] == ["DIVISION-OPEN"]


def test_kv_cache_and_vectordb_are_unchecked_even_under_open(tmp_path, capsys):
    shutil.copytree(KV, tmp_path / "closed" / "HPE" / "results" / KV.name)
    shutil.copytree(VDB, tmp_path / "open" / "TTA" / "results" / VDB.name)
    result = verify(tmp_path)
    assert {w["benchmark"]: w["verdict"] for w in result.workloads} == {
        "kv_cache": "UNCHECKED", "vector_database": "UNCHECKED"}
    assert result.verdict == Verdict.UNCHECKED
    # both have rules, but the copies lack the files they need (the metadata, the rank files)
    by_benchmark = {w["path"]: w["benchmark"] for w in result.workloads}
    assert not findings_of(result, "BENCH-UNCHECKED")
    assert {f.rule_id for f in result.findings if f.outcome == Outcome.UNCHECKED
            and by_benchmark.get(f.workload) == "kv_cache"} == {"KV-LEAF-METADATA", "KV-SUMMARY"}
    assert {f.rule_id for f in result.findings if f.outcome == Outcome.UNCHECKED
            and by_benchmark.get(f.workload) == "vector_database"} == {"VDB-PARAMS"}
    assert main(["verify", str(tmp_path)]) == 5
    assert "verdict: UNCHECKED" in capsys.readouterr().out


def test_unchecked_beside_a_closed_training_workload_is_not_green(tmp_path):
    build_training_workload(tmp_path)
    shutil.copytree(KV, tmp_path / "closed" / "Org" / "results" / KV.name)
    result = verify(tmp_path)
    verdicts = {w["benchmark"]: w["verdict"] for w in result.workloads}
    assert verdicts == {"training": "CLOSED", "kv_cache": "UNCHECKED"}
    assert result.verdict == Verdict.UNCHECKED


def test_checkpointing_in_edition_1_has_no_rules_and_is_unchecked(tmp_path):
    build_checkpoint_workload(tmp_path)
    result = verify(tmp_path, edition="1.0")
    assert result.verdict == Verdict.UNCHECKED, not_info(result)


# --- code trees are recognised by their content, not by a folder name ------------------------------
def test_a_system_named_test_is_judged(tmp_path):
    build_training_workload(tmp_path)
    (tmp_path / "closed" / "Org" / "results" / "sys1").rename(tmp_path / "closed" / "Org" / "results" / "test")
    result = verify(tmp_path)
    assert [w["system"] for w in result.workloads] == ["test"]
    assert result.verdict == Verdict.CLOSED, not_info(result)
    assert result.reader["skipped"] == []


def test_a_run_in_a_folder_named_tests_is_judged_and_fails(tmp_path):
    workload = build_training_workload(tmp_path)
    # a failed leaf in a folder merely named `tests` (no code in it): it must be read, not skipped
    leaf = sorted((workload / "run").glob("2*"))[-1]
    edit_json(leaf / "summary.json", lambda d: d["metric"].update(train_au_meet_expectation="fail"))
    (workload / "run" / "tests").mkdir()
    leaf.rename(workload / "run" / "tests" / leaf.name)
    result = verify(tmp_path)
    assert findings_of(result, "TRAIN-AU", Outcome.INVALID), not_info(result)
    assert result.reader["skipped"] == []


def test_code_tree_leaves_are_skipped_and_counted(tmp_path, capsys):
    build_v1_workload(tmp_path)
    code = tmp_path / "Closed" / "Org" / "code" / "dlio_benchmark"
    data = code / "tests" / "test_data"
    write_json(data / "summary.json", {"metric": {}})
    (data / ".hydra").mkdir()
    (code / "main.py").parent.mkdir(parents=True, exist_ok=True)
    (code / "main.py").write_text("print('dlio')\n")
    result = verify(tmp_path)
    assert len(result.workloads) == 1
    assert result.reader["skipped_leaf_like"] == 1
    warned = findings_of(result, "READ-TREE", Outcome.WARNING)
    assert warned and "test_data" in warned[0].message
    assert result.verdict == Verdict.CLOSED
    assert main(["verify", str(tmp_path)]) == 0
    assert "1 leaf-like folder(s) in skipped trees not judged" in capsys.readouterr().out


def test_a_tests_folder_holding_python_is_a_code_tree(tmp_path):
    build_v1_workload(tmp_path)
    tests = tmp_path / "Closed" / "Org" / "results" / "sys1" / "tests"
    write_json(tests / "case" / "summary.json", {"metric": {}})
    (tests / "test_reader.py").write_text("def test(): pass\n")
    result = verify(tmp_path)
    assert len(result.workloads) == 1 and result.reader["skipped_leaf_like"] == 1


def test_gap_timestamps_helper_shapes(tmp_path):
    # the v1 builder's start times are what the gap test rewrites (hour 10): guard that assumption
    workload = build_v1_workload(tmp_path)
    text = (workload / "run-3" / "summary.json").read_text()
    assert '"start": "2026-01-05T10:' in text
    assert timedelta(hours=5).total_seconds() > 2 * 600


def test_a_leaf_named_test_with_its_launch_script_is_judged(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = sorted((workload / "run").glob("2*"))[-1]
    edit_json(leaf / "summary.json", lambda d: d["metric"].update(train_au_meet_expectation="fail"))
    (leaf / "run.sh").write_text("mlpstorage training run\n")
    leaf.rename(workload / "run" / "test")          # a run leaf renamed `test`, its script beside it
    result = verify(tmp_path)
    assert findings_of(result, "TRAIN-AU", Outcome.INVALID), not_info(result)
    assert result.reader["skipped"] == []


def test_v1_datagen_logs_in_a_gen_folder_are_not_a_workload(tmp_path):
    build_v1_workload(tmp_path)
    gen = tmp_path / "Closed" / "Org" / "results" / "sys1" / "unet3d_h100-gen" / "host1"
    shutil.copytree(write_generation_logs(tmp_path / "logs"), gen)
    result = verify(tmp_path)
    assert [w["path"] for w in result.workloads] == ["Closed/Org/results/sys1/unet3d_h100"]
    assert result.verdict == Verdict.CLOSED, not_info(result)
    assert any("unet3d_h100-gen" in s and "datagen logs" in s for s in result.reader["skipped"])


# --- a benchmark the verifier does not know is UNCHECKED, never judged as training ----------------------
def test_unknown_benchmark_folder_is_unchecked_not_training(tmp_path, capsys):
    training = build_training_workload(tmp_path)
    (training.parent.parent / "foobench").mkdir()
    training.rename(training.parent.parent / "foobench" / "unet3d")
    result = verify(tmp_path)
    [workload] = result.workloads
    assert (workload["benchmark"], workload["verdict"]) == ("foobench", "UNCHECKED")
    assert result.verdict == Verdict.UNCHECKED
    [unchecked] = findings_of(result, "BENCH-UNCHECKED", Outcome.UNCHECKED)
    assert "'foobench'" in unchecked.message and unchecked.evidence.endswith("foobench/unet3d")
    [tree_names] = findings_of(result, "TREE-NAMES")
    assert tree_names.outcome == Outcome.WARNING and tree_names.actual == "foobench"
    assert not [f for f in result.findings if f.rule_id.startswith("TRAIN-")]
    assert main(["verify", str(tmp_path)]) == 5
    assert "verdict: UNCHECKED" in capsys.readouterr().out


def test_unknown_benchmark_even_with_failing_training_figures_is_unchecked(tmp_path):
    # as training it would be INVALID (AU fails); as an unknown benchmark it is not judged at all
    training = build_training_workload(tmp_path)
    for leaf in sorted((training / "run").glob("2*")):
        edit_json(leaf / "summary.json", lambda d: d["metric"].update(train_au_meet_expectation="fail"))
    assert verify(tmp_path).verdict == Verdict.INVALID
    (training.parent.parent / "foobench").mkdir()
    training.rename(training.parent.parent / "foobench" / "unet3d")
    assert verify(tmp_path).verdict == Verdict.UNCHECKED


def test_metadata_naming_another_benchmark_type_is_unchecked(tmp_path):
    training = build_training_workload(tmp_path)
    assert verify(tmp_path).verdict == Verdict.CLOSED
    leaf = sorted((training / "run").glob("2*"))[-1]
    write_json(leaf / f"foobench_{leaf.name}_metadata.json", {"benchmark_type": "foobench", "model": "unet3d"})
    result = verify(tmp_path)
    assert [w["benchmark"] for w in result.workloads] == ["foobench"]
    assert result.verdict == Verdict.UNCHECKED
    assert "'foobench'" in findings_of(result, "BENCH-UNCHECKED")[0].message


def test_v1_workload_folders_where_v3_puts_the_benchmark_stay_training(tmp_path):
    build_v1_workload(tmp_path)
    cosmo = tmp_path / "Closed" / "Org" / "results" / "sys1" / "cosmoflow" / "a100"
    shutil.copytree(tmp_path / "Closed" / "Org" / "results" / "sys1" / "unet3d_h100", cosmo)
    result = verify(tmp_path)
    assert {w["benchmark"] for w in result.workloads} == {"training"}
    assert not findings_of(result, "BENCH-UNCHECKED")
