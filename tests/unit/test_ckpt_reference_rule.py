"""CKPT-CONFIG-CLOSED (4.6.3) and CKPT-TIMESTAMPS (4.7.2) on the valid checkpointing tree of
test_rules_synthetic.py, with the leaves' config.yaml replaced by the full reference workload."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_checkpoint_workload, edit_json

REFERENCE = Path(__file__).resolve().parents[2] / "configs" / "checkpointing" / "workload" / "llama3_8b.yaml"


def found(result, rule_id):
    return [f for f in result.findings if f.rule_id == rule_id and f.outcome == Outcome.INVALID]


def leaves(workload):
    return sorted(p for p in workload.iterdir() if p.is_dir())


def with_reference_config(tmp_path, change=None, division="closed"):
    workload = build_checkpoint_workload(tmp_path)
    if division == "open":
        target = tmp_path / "open"
        (tmp_path / "closed").rename(target)
        workload = target / workload.relative_to(tmp_path / "closed")
    for leaf in leaves(workload):
        config = yaml.safe_load(REFERENCE.read_text())
        writes = leaf == leaves(workload)[0]
        config["checkpoint"].update(num_checkpoints_write=10 if writes else 0, num_checkpoints_read=0 if writes else 10)
        if change:
            change(config)
        (leaf / "dlio_config" / "config.yaml").write_text(yaml.safe_dump({"workload": config}))
    return workload


def test_reference_workload_passes(tmp_path):
    with_reference_config(tmp_path)
    result = verify(tmp_path)
    assert found(result, "CKPT-CONFIG-CLOSED") == [] and result.rules["CKPT-CONFIG-CLOSED"]["evaluated"] == 1
    assert result.verdict == Verdict.CLOSED, [f.line() for f in result.findings if f.outcome != Outcome.INFO]


def test_changed_model_dimension_is_invalid_not_open(tmp_path):
    with_reference_config(tmp_path, lambda c: c["model"]["transformer"].update(hidden_size=2048))
    result = verify(tmp_path)
    hits = found(result, "CKPT-CONFIG-CLOSED")
    assert len(hits) == 2 and hits[0].expected == 4096 and hits[0].actual == 2048
    assert result.verdict == Verdict.INVALID


def test_changed_datatype_and_time_between_checkpoints(tmp_path):
    def change(config):
        config["model"]["model_datatype"] = "fp8"
        config["checkpoint"]["time_between_checkpoints"] = 0
    keys = {h.message.split("=")[0] for h in found(verify(with_reference_config(tmp_path, change).parents[4]),
                                                   "CKPT-CONFIG-CLOSED")}
    assert keys == {"model.model_datatype", "checkpoint.time_between_checkpoints"}


def test_open_division_is_not_held_to_the_reference(tmp_path):
    with_reference_config(tmp_path, lambda c: c["model"].update(num_layers=16), division="open")
    result = verify(tmp_path)
    assert result.rules["CKPT-CONFIG-CLOSED"]["evaluated"] == 0 and found(result, "CKPT-CONFIG-CLOSED") == []


def test_missing_start_or_end_time_is_invalid(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    first = leaves(workload)[0]
    edit_json(first / "summary.json", lambda d: d.pop("end"))
    edit_json(first / f"checkpointing_{first.name}_metadata.json", lambda d: d.pop("invocation_end_time"))
    (hit,) = found(verify(tmp_path), "CKPT-TIMESTAMPS")
    assert hit.actual == "no end" and hit.evidence.endswith(f"{first.name}/summary.json")


def test_metadata_times_stand_in_for_the_summary(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    edit_json(leaves(workload)[1] / "summary.json", lambda d: d.pop("start"))
    result = verify(tmp_path)
    assert found(result, "CKPT-TIMESTAMPS") == [] and result.rules["CKPT-TIMESTAMPS"]["evaluated"] == 1


# --- the whole workload is compared: keys added, removed or changed ----------------------------------
def drifted(tmp_path, change):
    with_reference_config(tmp_path, change)
    result = verify(tmp_path)
    return result, found(result, "CKPT-CONFIG-CLOSED")


def test_workflow_train_true_is_invalid(tmp_path):
    result, hits = drifted(tmp_path, lambda c: c["workflow"].update(train=True))
    assert {(h.message.split("=")[0], h.expected, h.actual) for h in hits} == {("workflow.train", False, True)}
    assert len(hits) == 2 and result.verdict == Verdict.INVALID


def test_an_added_key_is_invalid(tmp_path):
    result, hits = drifted(tmp_path, lambda c: c.setdefault("reader", {}).update(read_threads=8))
    assert len(hits) == 2 and hits[0].expected == "(absent)" and hits[0].actual == 8
    assert hits[0].message.startswith("reader.read_threads=8 is not in the llama3-8b reference")
    assert result.verdict == Verdict.INVALID


def test_a_removed_key_is_invalid(tmp_path):
    result, hits = drifted(tmp_path, lambda c: c["model"]["transformer"].pop("hidden_size"))
    assert len(hits) == 2 and (hits[0].expected, hits[0].actual) == (4096, "(absent)")
    assert hits[0].message.startswith("model.transformer.hidden_size is missing")
    assert result.verdict == Verdict.INVALID


def test_a_changed_model_name_is_invalid(tmp_path):
    _result, hits = drifted(tmp_path, lambda c: c["model"].update(name="llama3_70b"))
    assert {h.message.split("=")[0] for h in hits} == {"model.name"} and len(hits) == 2


def test_mlcommons_spelling_and_subset_keys_are_not_drift(tmp_path):
    def mlcommons(config):
        config["model"]["name"] = "llama_8b"                   # MLCommons' YAML names it so
        config["model"]["parallelism"]["data"] = 1             # and sets DP, which the process count decides
        config["checkpoint"].pop("mode")
        config["checkpoint"]["checkpoint_folder"] = "/mnt/fast/ckpt"
        config["output"] = {"folder": "/results/leaf"}         # where DLIO writes its outputs
    result, hits = drifted(tmp_path, mlcommons)
    assert hits == [] and result.rules["CKPT-CONFIG-CLOSED"]["evaluated"] == 1
    assert result.verdict == Verdict.CLOSED, [f.line() for f in result.findings if f.outcome != Outcome.INFO]


def test_open_division_may_add_keys(tmp_path):
    with_reference_config(tmp_path, lambda c: c.setdefault("reader", {}).update(read_threads=8), division="open")
    result = verify(tmp_path)
    assert found(result, "CKPT-CONFIG-CLOSED") == [] and result.verdict == Verdict.OPEN
