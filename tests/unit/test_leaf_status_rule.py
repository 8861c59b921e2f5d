"""LEAF-STATUS: a leaf the campaign recorded as interrupted or failed is evidence, not a result."""

from __future__ import annotations

import json
import shutil

from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_training_workload


def add_stopped_run(workload, status: str):
    """A copy of the last run leaf, one hour later, that our campaign recorded as `status`."""
    runs = sorted((workload / "run").glob("2*"))
    last = runs[-1]
    name = last.name[:-6] + "235959"
    leaf = workload / "run" / name
    shutil.copytree(last, leaf)
    (leaf / f"training_{name}_metadata.json").write_text(json.dumps({
        "status": status, "message": "found still running when a later campaign started", "command": "run"}))
    return leaf


def status_findings(result):
    return [f for f in result.findings if f.rule_id == "LEAF-STATUS"]


def test_completed_leaves_pass(tmp_path):
    build_training_workload(tmp_path)
    result = verify(tmp_path)
    assert status_findings(result) == [] and result.rules["LEAF-STATUS"]["evaluated"] == 1


def test_an_interrupted_leaf_is_invalid_and_counts_as_no_run(tmp_path):
    workload = build_training_workload(tmp_path)
    leaf = add_stopped_run(workload, "interrupted")
    result = verify(tmp_path)
    (found,) = status_findings(result)
    assert found.outcome == Outcome.INVALID and found.actual == "interrupted"
    assert leaf.name in found.message and "move" in found.fix
    # the stopped leaf is not a seventh run: the count rule stays quiet
    assert not [f for f in result.findings if f.rule_id == "TRAIN-RUNS-COUNT"]
    assert result.verdict == Verdict.INVALID


def test_a_failed_leaf_is_invalid_too(tmp_path):
    workload = build_training_workload(tmp_path)
    add_stopped_run(workload, "failed")
    assert [f.actual for f in status_findings(verify(tmp_path))] == ["failed"]
