"""Every rule fails on a valid synthetic tree changed in exactly one thing (the passing fixture is
the unchanged tree: tests/unit/test_rules_synthetic.py)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from mlps import cluster as cluster_model
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.registry import Rule, all_rules
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import (
    START,
    build_checkpoint_workload,
    build_training_workload,
    build_v1_workload,
    edit_json,
    stamp,
    write_checkpoint_leaf,
    write_json,
)


def only(result, rule_id):
    return [f for f in result.findings if f.rule_id == rule_id]


def assert_fails(result, rule_id, outcome=Outcome.INVALID):
    """The rule reports `outcome` (INFO notes beside another outcome are ignored)."""
    found = [f for f in only(result, rule_id) if outcome == Outcome.INFO or f.outcome != Outcome.INFO]
    assert found, f"{rule_id} gave no finding; all: {[f.line() for f in result.findings]}"
    assert {f.outcome for f in found} == {outcome}, [f.line() for f in found]
    return found


def runs_of(workload):
    return sorted((workload / "run").glob("2*"))


def rewrite_overrides(leaf, lines):
    (leaf / "dlio_config" / "overrides.yaml").write_text("".join(f"- {line}\n" for line in lines))


# --- training: identity and parameters -----------------------------------------------------------
def test_train_model_h100_under_edition_3_is_open_with_the_reason(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs_of(workload):
        rewrite_overrides(leaf, ["workload=unet3d_h100", "++workload.dataset.num_files_train=28000"])
    result = verify(tmp_path)
    found = assert_fails(result, "TRAIN-MODEL", Outcome.OPEN)
    assert "what-if only in edition 3.0" in found[0].message
    assert result.verdict == Verdict.OPEN


def test_train_model_unknown_model_is_invalid(tmp_path):
    workload = build_training_workload(tmp_path, model="bert")
    for leaf in runs_of(workload):
        rewrite_overrides(leaf, ["workload=bert_b200"])
    assert_fails(verify(tmp_path), "TRAIN-MODEL")


def test_train_consistent(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[3] / "summary.json", lambda d: d.update(num_files_train=30_000))
    assert_fails(verify(tmp_path), "TRAIN-CONSISTENT")


def test_train_params_invalid_key(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = runs_of(workload)[2]
    rewrite_overrides(leaf, ["workload=unet3d_b200", "++workload.reader.batch_size=4"])
    found = assert_fails(verify(tmp_path), "TRAIN-PARAMS")
    assert found[0].actual == "reader.batch_size=4"


def test_train_params_open_key(tmp_path):
    workload = build_training_workload(tmp_path)
    rewrite_overrides(runs_of(workload)[2], ["workload=unet3d_b200", "++workload.dataset.format=tfrecord"])
    result = verify(tmp_path)
    assert_fails(result, "TRAIN-PARAMS", Outcome.OPEN)
    assert result.verdict == Verdict.OPEN


def test_train_params_missing_evidence_is_a_warning_naming_the_file(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = runs_of(workload)[1]
    (leaf / "dlio_config" / "overrides.yaml").unlink()
    found = assert_fails(verify(tmp_path), "TRAIN-PARAMS", Outcome.WARNING)
    assert found[0].missing.endswith(f"{leaf.name}/dlio_config/overrides.yaml")


def test_train_odirect(tmp_path):
    workload = build_training_workload(tmp_path, model="retinanet")
    for leaf in runs_of(workload):
        rewrite_overrides(leaf, ["workload=retinanet_b200", "++workload.reader.odirect=True"])
    assert_fails(verify(tmp_path), "TRAIN-ODIRECT")


def test_train_odirect_allowed_for_unet3d(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs_of(workload):
        rewrite_overrides(leaf, ["workload=unet3d_b200", "++workload.reader.odirect=True"])
    assert only(verify(tmp_path), "TRAIN-ODIRECT") == []


def test_train_unet_checkpoint_v1(tmp_path):
    build_v1_workload(tmp_path, checkpoint="false")
    assert_fails(verify(tmp_path), "TRAIN-UNET-CKPT")


# --- training: dataset size and phases ----------------------------------------------------------
def test_train_datasize_too_small(tmp_path):
    build_training_workload(tmp_path, files=20_000)
    found = assert_fails(verify(tmp_path), "TRAIN-DATASIZE")
    assert found[0].expected == ">= 28000" and found[0].actual == 20_000


def test_train_datasize_accepts_ceil_minus_one_in_edition_3(tmp_path):
    build_training_workload(tmp_path, files=27_999)
    assert only(verify(tmp_path), "TRAIN-DATASIZE") == []


def test_train_datasize_memory_term(tmp_path):
    # 8 hosts x 1 TiB: the memory term (300 002 files) dominates the steps term (56 000)
    build_training_workload(tmp_path, accels=16, hosts=8, files=60_000, host_gib=1024.0)
    found = assert_fails(verify(tmp_path), "TRAIN-DATASIZE")
    assert found[0].expected == ">= 300002"


def test_train_phases_missing_datasize(tmp_path):
    build_training_workload(tmp_path, datasize=False)
    found = assert_fails(verify(tmp_path), "TRAIN-PHASES", Outcome.WARNING)
    assert found[0].missing


def test_train_datagen_missing(tmp_path):
    build_training_workload(tmp_path, datagen=False)
    assert_fails(verify(tmp_path), "TRAIN-DATAGEN-ONE")


def test_train_datagen_twice(tmp_path):
    workload = build_training_workload(tmp_path)
    first = next((workload / "datagen").iterdir())
    shutil.copytree(first, workload / "datagen" / stamp(START - timedelta(minutes=30)))
    assert_fails(verify(tmp_path), "TRAIN-DATAGEN-ONE")


def test_train_run_data_underrun(tmp_path):
    workload = build_training_workload(tmp_path)
    meta = next((workload / "datasize").rglob("*_metadata.json"))
    edit_json(meta, lambda d: d["parameters"]["dataset"].update(num_files_train=40_000))
    found = assert_fails(verify(tmp_path), "TRAIN-RUN-DATA")
    assert "DATASIZE-UNDERRUN" in found[0].message


def test_train_run_data_overrun(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = next((workload / "datagen").iterdir())
    edit_json(leaf / "summary.json", lambda d: d.update(num_files_train=1000))
    found = assert_fails(verify(tmp_path), "TRAIN-RUN-DATA")
    assert any("DATAGEN-OVERRUN" in f.message for f in found)


# --- training: figures ----------------------------------------------------------------------------
def test_train_au_fail(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[2] / "summary.json",
              lambda d: d["metric"].update(train_au_meet_expectation="fail"))
    assert_fails(verify(tmp_path), "TRAIN-AU")


def test_train_au_below_edition_minimum(tmp_path):
    workload = build_training_workload(tmp_path)

    def low(data):
        data["metric"].update(train_au_percentage=[89.0] * 5, train_au_mean_percentage=89.0)

    edit_json(runs_of(workload)[4] / "summary.json", low)
    found = assert_fails(verify(tmp_path), "TRAIN-AU")
    assert found[0].expected == ">= 90"


def test_train_au_warmup_is_not_judged(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[0] / "summary.json",
              lambda d: d["metric"].update(train_au_meet_expectation="fail"))
    assert only(verify(tmp_path), "TRAIN-AU") == []


def test_train_aggregate_empty_list(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[1] / "summary.json", lambda d: d["metric"].update(train_au_percentage=[]))
    assert_fails(verify(tmp_path), "TRAIN-AGGREGATE")


def test_train_aggregate_mean_not_from_list(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[1] / "summary.json",
              lambda d: d["metric"].update(train_throughput_mean_samples_per_second=99.0))
    assert_fails(verify(tmp_path), "TRAIN-AGGREGATE")


def test_train_variance_above_threshold_warns(tmp_path):
    build_training_workload(tmp_path, scales=[1.0, 1.0, 1.3, 0.8, 1.1, 0.9])
    found = assert_fails(verify(tmp_path), "TRAIN-VARIANCE", Outcome.WARNING)
    assert found[0].actual > 0.05


def test_train_variance_is_reported_as_info(tmp_path):
    build_training_workload(tmp_path)
    found = assert_fails(verify(tmp_path), "TRAIN-VARIANCE", Outcome.INFO)
    assert 0 < found[0].actual < 0.05


# --- training: runs -------------------------------------------------------------------------------
def test_train_runs_count_v3(tmp_path):
    build_training_workload(tmp_path, runs=5)
    found = assert_fails(verify(tmp_path), "TRAIN-RUNS-COUNT")
    assert (found[0].expected, found[0].actual) == (6, 5)


def test_train_runs_count_too_many(tmp_path):
    build_training_workload(tmp_path, runs=7)
    assert_fails(verify(tmp_path), "TRAIN-RUNS-COUNT")


def test_train_runs_count_v1(tmp_path):
    build_v1_workload(tmp_path, runs=4)
    found = assert_fails(verify(tmp_path), "TRAIN-RUNS-COUNT")
    assert found[0].expected == 5


def test_train_runs_gap(tmp_path):
    build_training_workload(tmp_path, gap=3 * 600)
    assert_fails(verify(tmp_path), "TRAIN-RUNS-GAP")


# --- training: files --------------------------------------------------------------------------------
def test_train_files_missing_log(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = runs_of(workload)[3]
    (leaf / "dlio.log").unlink()
    found = assert_fails(verify(tmp_path), "TRAIN-FILES")
    assert found[0].missing.endswith(f"{leaf.name}/dlio.log")


def test_train_files_missing_outputs_is_a_warning(tmp_path):
    workload = build_training_workload(tmp_path)
    (runs_of(workload)[3] / "0_output.json").unlink()
    assert_fails(verify(tmp_path), "TRAIN-FILES", Outcome.WARNING)


def test_train_results_json_missing(tmp_path):
    build_training_workload(tmp_path, results_json=False)
    assert_fails(verify(tmp_path), "TRAIN-RESULTS-JSON")


def test_train_results_json_stale(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(workload / "run" / "results.json", lambda d: d.update(train_mean_of_au_percentage=50.0))
    assert_fails(verify(tmp_path), "TRAIN-RESULTS-JSON", Outcome.WARNING)


def test_train_report_missing_v1(tmp_path):
    build_v1_workload(tmp_path, report=False)
    assert_fails(verify(tmp_path), "TRAIN-REPORT")


def test_train_report_wrong_figure_v1(tmp_path):
    workload = build_v1_workload(tmp_path)
    edit_json(workload / "mlperf_storage_report.json",
              lambda d: d["overall"].update(train_throughput_stdev_samples_per_second=1.0))
    found = assert_fails(verify(tmp_path), "TRAIN-REPORT")
    assert found[0].message.startswith("overall.train_throughput_stdev_samples_per_second")


# --- system rules -----------------------------------------------------------------------------------
def test_single_host_with_few_accelerators(tmp_path):
    build_training_workload(tmp_path, accels=2)
    assert_fails(verify(tmp_path), "TRAIN-SINGLEHOST-ACCEL", Outcome.WARNING)


def test_accel_equal(tmp_path):
    build_training_workload(tmp_path, accels=9, hosts=2, files=31_500)
    found = assert_fails(verify(tmp_path), "SYS-ACCEL-EQUAL")
    assert found[0].actual == [5, 4]


def test_host_ram_per_accelerator(tmp_path):
    build_training_workload(tmp_path, host_gib=2.0)
    assert_fails(verify(tmp_path), "SYS-HOST-RAM-PER-ACCEL", Outcome.WARNING)


def test_node_consistency(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    for leaf in runs_of(workload):
        edit_json(leaf / "summary.json", lambda d: d.update(host_memory_GB=[64.0, 200.0]))
    assert_fails(verify(tmp_path), "SYS-NODE-CONSISTENCY", Outcome.WARNING)


def test_fs_separation_same_filesystem(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[2] / "fs_separation.json", lambda d: d.update(same_filesystem=True))
    found = assert_fails(verify(tmp_path), "SYS-FS-SEPARATION")
    assert found[0].host == "h0"


def host_facts(name, gib, paths=None, cores=32):
    return {"schema": "mlps-host-facts/1", "hostname": name, "machine_id": f"id-{name}",
            "meminfo": {"MemTotal": int(gib * 2**30)},
            "cpuinfo": {"summary": {"physical_cores": cores, "logical_cpus": 2 * cores}}, "paths": paths or {}}


def test_fs_separation_from_cluster_info_paths(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs_of(workload):
        (leaf / "fs_separation.json").unlink()
    disk = {"path": "/data", "mountpoint": "/", "fstype": "ext4", "device": "/dev/vda1"}
    facts = [host_facts("h7", 64.0, {"/data": disk, "/res": dict(disk, path="/res")})]
    info = cluster_model.build_cluster(facts, data_path="/data", results_path="/res").to_dict()
    write_json(workload.parent.parent / "cluster_info.json", info)          # once per system, above the leaves
    found = assert_fails(verify(tmp_path), "SYS-FS-SEPARATION")
    assert found[0].host == "h7" and found[0].evidence.endswith("sys1/cluster_info.json")


def test_node_consistency_from_cluster_info(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    info = cluster_model.build_cluster([host_facts("h0", 64.0), host_facts("h1", 200.0)]).to_dict()
    leaf = runs_of(workload)[0]
    write_json(leaf / "cluster_info.json", info)
    found = assert_fails(verify(tmp_path), "SYS-NODE-CONSISTENCY", Outcome.WARNING)
    assert "memory" in found[0].message


def test_fs_separation_without_evidence_warns(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs_of(workload):
        (leaf / "fs_separation.json").unlink()
    found = assert_fails(verify(tmp_path), "SYS-FS-SEPARATION", Outcome.WARNING)
    assert found[0].missing.endswith("fs_separation.json")


def test_path_args(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs_of(workload)[1] / "fs_separation.json", lambda d: d.update(results_path="/data/"))
    assert_fails(verify(tmp_path), "SYS-PATH-ARGS")


def test_shared_fs_different_inodes(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    edit_json(runs_of(workload)[1] / "shared_fs.json", lambda d: d["hosts"]["h1"].update(st_ino=1))
    assert_fails(verify(tmp_path), "SYS-SHARED-FS")


def test_shared_fs_host_cannot_see_sentinel(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    edit_json(runs_of(workload)[1] / "shared_fs.json", lambda d: d["hosts"].update(h1={"error": "ENOENT"}))
    found = assert_fails(verify(tmp_path), "SYS-SHARED-FS")
    assert found[0].host == "h1"


def test_shared_fs_without_probe_warns(tmp_path):
    build_training_workload(tmp_path, accels=16, hosts=2, files=56_000, shared=False)
    assert_fails(verify(tmp_path), "SYS-SHARED-FS", Outcome.WARNING)


# --- reader ------------------------------------------------------------------------------------------
def test_read_files_corrupt_summary(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = runs_of(workload)[2]
    (leaf / "summary.json").write_text('{"start": "2026-01-05T10:00:00", "metric": {')
    found = assert_fails(verify(tmp_path), "READ-FILES")
    assert found[0].evidence.endswith("summary.json") and "not valid JSON" in found[0].message


def test_read_files_too_large(tmp_path):
    build_training_workload(tmp_path)
    result = verify(tmp_path, size_limit=1000)
    found = assert_fails(result, "READ-FILES")
    assert any("above the 1000-byte limit" in f.message for f in found)


def test_read_files_symlink_out_of_tree_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    tree = tmp_path / "tree"
    workload = build_training_workload(tree)
    leaf = runs_of(workload)[2]
    (leaf / "summary.json").unlink()
    os.symlink(outside, leaf / "summary.json")
    result = verify(tree)
    assert_fails(result, "READ-FILES", Outcome.WARNING)
    assert any(f.rule_id == "TRAIN-FILES" and f.missing and f.missing.endswith("summary.json")
               for f in result.findings)


def test_read_files_placeholder_is_info(tmp_path):
    workload = build_training_workload(tmp_path)
    (runs_of(workload)[2] / "0_per_epoch_stats.json").write_text("PRUNED BY STAFF\n")
    assert_fails(verify(tmp_path), "READ-FILES", Outcome.INFO)


def test_read_tree_junk_is_ignored_and_noted(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = runs_of(workload)[2]
    (leaf / "._summary.json").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (workload / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (leaf / "~$notes.docx").write_bytes(b"lock")
    result = verify(tmp_path)
    found = assert_fails(result, "READ-TREE", Outcome.INFO)
    assert found[0].actual == 3
    assert result.verdict == Verdict.CLOSED


def test_read_tree_symlink_out_of_tree_outside_a_leaf(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("x")
    tree = tmp_path / "tree"
    build_training_workload(tree)
    os.symlink(tmp_path / "elsewhere.txt", tree / "closed" / "notes.txt")
    assert_fails(verify(tree), "READ-TREE", Outcome.WARNING)


# --- checkpointing ------------------------------------------------------------------------------------
def ckpt_leaves(workload):
    return sorted(p for p in workload.iterdir() if p.is_dir())


def test_ckpt_model(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    workload.rename(workload.with_name("llama3-13b"))
    assert_fails(verify(tmp_path), "CKPT-MODEL")


def test_ckpt_counts(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    first = ckpt_leaves(workload)[0]
    shutil.rmtree(first)
    write_checkpoint_leaf(first, start=START, writes=5, reads=0)
    found = assert_fails(verify(tmp_path), "CKPT-COUNTS")
    assert {f.actual for f in found} == {5}


def test_ckpt_counts_not_required_in_open(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    first = ckpt_leaves(workload)[0]
    shutil.rmtree(first)
    write_checkpoint_leaf(first, start=START, writes=5, reads=0)
    assert only(verify(tmp_path, profile="open"), "CKPT-COUNTS") == []


def test_ckpt_invocations_three(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    later = START + timedelta(seconds=300)
    write_checkpoint_leaf(workload / stamp(later), start=later, writes=0, reads=10)
    assert_fails(verify(tmp_path), "CKPT-INVOCATIONS")


def test_ckpt_invocations_reads_before_writes(tmp_path):
    workload = results_of(tmp_path)
    write_checkpoint_leaf(workload / stamp(START), start=START, writes=0, reads=10)
    second = START + timedelta(seconds=130)
    write_checkpoint_leaf(workload / stamp(second), start=second, writes=10, reads=0)
    assert_fails(verify(tmp_path), "CKPT-INVOCATIONS")


def results_of(tmp_path):
    return tmp_path / "closed" / "Org" / "results" / "sys1" / "checkpointing" / "llama3-8b"


def test_ckpt_gap_over_30_s(tmp_path):
    build_checkpoint_workload(tmp_path, gap=60)
    found = assert_fails(verify(tmp_path), "CKPT-GAP", Outcome.WARNING)
    assert found[0].actual == 60.0


def test_ckpt_gap_negative_is_clock_skew(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    read = ckpt_leaves(workload)[1]
    meta = next(read.glob("*_metadata.json"))
    edit_json(meta, lambda d: d.update(invocation_start_time="2026-01-05T08:00:00Z"))
    found = assert_fails(verify(tmp_path), "CKPT-GAP", Outcome.WARNING)
    assert "clock skew" in found[0].message


def test_ckpt_timestamp_gap(tmp_path):
    build_checkpoint_workload(tmp_path, gap=500)
    assert_fails(verify(tmp_path), "CKPT-TS-GAP")


def test_ckpt_processes_closed_other_count_is_open(tmp_path):
    build_checkpoint_workload(tmp_path, procs=16)
    assert_fails(verify(tmp_path), "CKPT-PROCS", Outcome.OPEN)


def test_ckpt_processes_not_a_multiple(tmp_path):
    workload = build_checkpoint_workload(tmp_path, procs=12, accelerator="mi355")
    workload.rename(workload.with_name("llama3-70b"))
    assert_fails(verify(tmp_path), "CKPT-PROCS")


def test_ckpt_per_host(tmp_path):
    build_checkpoint_workload(tmp_path, procs=8, hosts=4)
    found = assert_fails(verify(tmp_path), "CKPT-PER-HOST")
    assert found[0].actual == 2


def test_ckpt_subset_on_70b(tmp_path):
    workload = results_of(tmp_path).with_name("llama3-70b")
    lines = ["workload=llama3_70b", "++workload.checkpoint.mode=subset", "++workload.checkpoint.num_checkpoints_read=0"]
    write_checkpoint_leaf(workload / stamp(START), start=START, writes=10, reads=0, overrides=lines)
    assert_fails(verify(tmp_path), "CKPT-SUBSET")


def test_ckpt_fsync_disabled(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    first = ckpt_leaves(workload)[0]
    shutil.rmtree(first)
    write_checkpoint_leaf(first, start=START, writes=10, reads=0, fsync="false")
    assert_fails(verify(tmp_path), "CKPT-FSYNC")


def test_ckpt_fsync_without_config_warns(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    (ckpt_leaves(workload)[0] / "dlio_config" / "config.yaml").unlink()
    found = assert_fails(verify(tmp_path), "CKPT-FSYNC", Outcome.WARNING)
    assert found[0].missing.endswith("config.yaml")


def test_ckpt_accelerator_memory(tmp_path):
    workload = results_of(tmp_path)
    write_checkpoint_leaf(workload / stamp(START), start=START, writes=10, reads=10, procs=1, accelerator="h100",
                          host_gib=30.0)
    found = assert_fails(verify(tmp_path, profile="open"), "CKPT-ACCEL-MEM")
    assert found[0].actual == 80


def test_ckpt_accelerator_unknown_warns(tmp_path):
    build_checkpoint_workload(tmp_path, accelerator=None)
    assert_fails(verify(tmp_path), "CKPT-ACCEL-MEM", Outcome.WARNING)


def test_ckpt_cache_ratio_single_invocation(tmp_path):
    build_checkpoint_workload(tmp_path, split=False, host_gib=377.24)
    assert_fails(verify(tmp_path), "CKPT-CACHE-RATIO", Outcome.WARNING)


def test_ckpt_params(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    first = ckpt_leaves(workload)[0]
    lines = (first / "dlio_config" / "overrides.yaml").read_text()
    (first / "dlio_config" / "overrides.yaml").write_text(lines + "- ++workload.checkpoint.fsync=True\n")
    assert_fails(verify(tmp_path), "CKPT-PARAMS", Outcome.OPEN)


def test_ckpt_files(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    (ckpt_leaves(workload)[1] / "checkpointing_run.stdout.log").unlink()
    found = assert_fails(verify(tmp_path), "CKPT-FILES")
    assert found[0].missing.endswith("checkpointing_run.stdout.log")


def test_ckpt_files_results_json(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    (workload / "results.json").unlink()
    assert_fails(verify(tmp_path), "CKPT-FILES")


# --- a rule that raises -------------------------------------------------------------------------------
def test_a_crashing_rule_gives_an_error_and_an_invalid_verdict(tmp_path, monkeypatch):
    build_training_workload(tmp_path)
    rule = next(r for r in all_rules() if r.id == "TRAIN-AU")

    def boom(self, ctx):
        raise KeyError("metric")

    monkeypatch.setattr(type(rule), "check", boom)
    result = verify(tmp_path)
    found = assert_fails(result, "TRAIN-AU", Outcome.ERROR)
    assert "KeyError" in found[0].message
    assert result.verdict == Verdict.INVALID


def test_every_rule_has_a_failing_case_here():
    # Rules may keep their failing cases in their own test_*_rule.py or test_rules_<family>.py file beside this one.
    here = Path(__file__)
    beside = set(here.parent.glob("test_*_rule.py")) | set(here.parent.glob("test_rules_*.py"))
    not_failing = {here, here.parent / "test_rules_synthetic.py", here.parent / "test_rules_registry.py"}
    source = "".join(p.read_text(encoding="utf-8") for p in [here, *sorted(beside - not_failing)])
    untested = [rule.id for rule in all_rules() if f'"{rule.id}"' not in source]
    assert untested == []
    assert issubclass(type(all_rules()[0]), Rule)


def test_json_document_lists_the_finding(tmp_path):
    build_training_workload(tmp_path, runs=5)
    document = verify(tmp_path).as_dict()
    text = json.dumps(document)
    assert document["schema"] == "mlps-verdict/1" and document["verdict"] == "INVALID"
    assert '"rule": "TRAIN-RUNS-COUNT"' in text
    assert document["rules"]["TRAIN-RUNS-COUNT"] == {"evaluated": 1, "findings": 1}


@pytest.mark.parametrize("profile", ["closed", "open", "preflight"])
def test_profiles_select_rules(tmp_path, profile):
    build_training_workload(tmp_path)
    result = verify(tmp_path, profile=profile)
    evaluated = {rule_id for rule_id, stats in result.rules.items() if stats["evaluated"]}
    expected = {r.id for r in all_rules() if profile in r.profiles and "training" in r.describe()["benchmarks"]}
    tree_scope = {r.id for r in all_rules() if r.scope == "tree"}
    assert evaluated - tree_scope == expected - {"TRAIN-UNET-CKPT", "TRAIN-REPORT", "TRAIN-PREFETCH"}  # 1.0 only


def test_mem_measured_unknown_memory_in_cluster_info(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    unknown = host_facts("h1", 64.0)
    unknown["meminfo"] = {}
    info = cluster_model.build_cluster([host_facts("h0", 64.0), unknown]).to_dict()
    write_json(runs_of(workload)[0] / "cluster_info.json", info)
    found = assert_fails(verify(tmp_path), "SYS-MEM-MEASURED", Outcome.WARNING)
    assert found[0].host == "h1"


def test_mem_measured_zero_padded_summary_is_noted(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    for leaf in runs_of(workload):
        edit_json(leaf / "summary.json", lambda d: d.update(host_memory_GB=[128.0, 0.0]))
    result = verify(tmp_path)
    assert_fails(result, "SYS-MEM-MEASURED", Outcome.INFO)
    assert result.verdict == Verdict.CLOSED


@pytest.mark.parametrize(("division", "override"), [
    ("closed", "++workload.framework=tensorflow"), ("open", "++workload.framework=tensorflow"),
    ("closed", "++workload.dataset.num_samples_per_file=2"), ("open", "++workload.dataset.num_samples_per_file=2")])
def test_open_tunables_framework_and_samples_per_file_give_open_not_invalid(tmp_path, division, override):
    workload = build_training_workload(tmp_path, division=division)
    for leaf in runs_of(workload):
        rewrite_overrides(leaf, ["workload=unet3d_b200", "++workload.dataset.num_files_train=28000",
                                 "++workload.reader.read_threads=8", override])
    result = verify(tmp_path)
    key = override.removeprefix("++workload.")
    assert {f.actual for f in only(result, "TRAIN-PARAMS")} == {key}
    assert {f.outcome for f in only(result, "TRAIN-PARAMS")} == {Outcome.OPEN}
    assert not [f for f in result.findings if f.outcome in (Outcome.INVALID, Outcome.ERROR)], \
        [f.line() for f in result.findings if f.outcome == Outcome.INVALID]
    assert result.verdict == Verdict.OPEN


def test_single_host_clients_rule_of_edition_3_is_not_applied_to_a_v1_tree(tmp_path):
    workload = build_v1_workload(tmp_path)
    for leaf in sorted(p for p in workload.iterdir() if p.is_dir()):
        write_json(leaf / "training_metadata.json", {"executed_command": "mpirun -host a:4,b:4 dlio_benchmark"})
    detected = verify(tmp_path)                        # v1.0 layout: edition 1.0, which had no such rule
    assert detected.editions == ["1.0"] and detected.rules["TRAIN-SINGLEHOST-CLIENTS"]["evaluated"] == 0
    assert only(detected, "TRAIN-SINGLEHOST-CLIENTS") == []
    forced = verify(tmp_path, edition="3.0")           # the same leaves judged by edition 3.0's rule
    hits = only(forced, "TRAIN-SINGLEHOST-CLIENTS")
    assert len(hits) == 5 and {(h.expected, h.actual) for h in hits} == {(1, 2)}
