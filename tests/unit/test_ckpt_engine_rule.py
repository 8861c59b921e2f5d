"""CKPT-ENGINE: native-engine or scaled checkpoint results are OPEN; DLIO results at scale 1 pass."""

from __future__ import annotations

from mlps.plan.checkpoint import plan_checkpoint
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_checkpoint_workload, edit_json


def leaves(workload):
    return sorted(workload.glob("2*"))


def engine_findings(result):
    return [f for f in result.findings if f.rule_id == "CKPT-ENGINE"]


def record(workload, *, summary=None, metadata=None):
    """Add fields to every leaf's summary.json and metadata, as a run of our campaign records them."""
    for leaf in leaves(workload):
        if summary is not None:
            edit_json(leaf / "summary.json", lambda d: d.update(summary))
        if metadata is not None:
            edit_json(leaf / f"checkpointing_{leaf.name}_metadata.json", lambda d: d.update(metadata))


def test_dlio_results_pass(tmp_path):
    build_checkpoint_workload(tmp_path)
    result = verify(tmp_path)
    assert engine_findings(result) == []
    assert result.rules["CKPT-ENGINE"]["evaluated"] == 1
    assert result.verdict == Verdict.CLOSED


def test_dlio_engine_at_scale_1_recorded_by_the_plan_passes(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    fields = plan_checkpoint("llama3-8b", 8).run_record()
    record(workload, summary={"engine": "dlio", "size_scale": 1.0}, metadata=fields)
    result = verify(tmp_path)
    assert engine_findings(result) == [] and result.verdict == Verdict.CLOSED


def test_native_engine_is_open_with_the_reason(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    fields = plan_checkpoint("llama3-8b", 8, engine="native").run_record()
    record(workload, summary={"engine": "native", "size_scale": 1.0}, metadata=fields)
    result = verify(tmp_path)
    found = engine_findings(result)
    assert [f.outcome for f in found] == [Outcome.OPEN, Outcome.OPEN]          # one per leaf
    assert "native MPI engine" in found[0].message and found[0].evidence.endswith("summary.json")
    assert result.verdict == Verdict.OPEN


def test_scale_other_than_1_is_open(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    record(workload, metadata={"engine": "dlio", "size_scale": 0.001})
    found = engine_findings(verify(tmp_path))
    assert {f.outcome for f in found} == {Outcome.OPEN}
    assert "scaled by 0.001" in found[0].message and found[0].actual == 0.001


def test_summary_and_metadata_disagreeing_is_invalid(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    record(workload, summary={"engine": "native", "size_scale": 0.5}, metadata={"engine": "dlio", "size_scale": 1})
    result = verify(tmp_path)
    outcomes = {(f.outcome, f.message.split(":")[0]) for f in engine_findings(result)}
    assert (Outcome.INVALID, "summary and metadata name different engines") in outcomes
    assert (Outcome.INVALID, "summary and metadata record different size_scales") in outcomes
    assert result.verdict == Verdict.INVALID


def test_unknown_engine_and_bad_scale_are_invalid(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    record(workload, summary={"engine": "fio", "size_scale": "tiny"})
    messages = [f.message for f in engine_findings(verify(tmp_path)) if f.outcome == Outcome.INVALID]
    assert any("unknown checkpoint engine 'fio'" in m for m in messages)
    assert any("size_scale='tiny' is not a number" in m for m in messages)
