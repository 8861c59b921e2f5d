"""mlps.plugins.action through real ad-hoc runs: each step of a campaign action checks its own
arguments (a missing or unknown one is a failed task with one message, never a traceback), and
a UserError from the step is a failed task with its one line."""

from __future__ import annotations

import pytest

from tests.adhoc import run_module


@pytest.mark.parametrize(("action", "args", "expected"), [
    ("mlps_campaign", {"op": "phase_end"}, "missing required arguments"),
    ("mlps_campaign", {"op": "results", "workload_dir": "/x", "verify": True}, "Unsupported parameters"),
    ("mlps_campaign", {"op": "dance"}, "op='dance': expected one of"),
    ("mlps_ckpt_campaign", {"op": "phase_start", "campaign": {}}, "missing required arguments"),
])
def test_a_step_refuses_arguments_it_does_not_take(action, args, expected):
    status, result, stderr = run_module(action, args)
    assert status == "FAILED!"
    assert expected in result["msg"]
    assert "Traceback" not in stderr + result["msg"]


def test_a_step_turns_a_user_error_into_one_line(tmp_path):
    workload = tmp_path / "closed" / "o" / "results" / "s" / "training" / "unet3d"
    status, result, _ = run_module("mlps_campaign", {"op": "results", "workload_dir": str(workload)})
    assert status == "FAILED!"
    assert result["msg"].count("\n") == 0 and "no such directory" in result["msg"]


def test_each_phase_prints_only_what_changed_since_the_previous_one(tmp_path, capsys):
    import json

    from mlps.plugins.action import MlpsAction
    from tests.unit.test_rules_synthetic import build_checkpoint_workload, edit_json

    workload = build_checkpoint_workload(tmp_path)
    first, keys = MlpsAction.verdict_since(workload, "after invocation 1", [])
    assert first[0].startswith("verdict after invocation 1: ") and not any(line.startswith("new:") for line in first)
    # a problem appears: it is the one new line, the rest is counted
    leaf = sorted(p for p in workload.iterdir() if p.is_dir())[0]
    edit_json(leaf / "summary.json", lambda doc: doc.pop("end"))
    edit_json(leaf / f"checkpointing_{leaf.name}_metadata.json", lambda doc: doc.pop("invocation_end_time"))
    second, keys2 = MlpsAction.verdict_since(workload, "after invocation 2", keys)
    new = [line for line in second if line.startswith("new:")]
    assert len(new) == 1 and "CKPT-TIMESTAMPS" in new[0] and len(keys2) == len(keys) + 1, second
    assert second[0].startswith("verdict after invocation 2: INVALID")
    # nothing changed: no new line, and the count says so
    third, keys3 = MlpsAction.verdict_since(workload, "after invocation 3", keys2)
    assert not any(line.startswith("new:") for line in third) and keys3 == keys2
    assert third[-1] == f"{len(keys2)} problem(s) as after the previous phase, 0 no longer found"
    assert "verdict after invocation 3" in capsys.readouterr().out   # printed as the play goes
    counts = [json.loads(lines[0][lines[0].index("{"):]) for lines in (second, third)]
    assert counts[0] == counts[1] and counts[0]["INVALID"] >= 1


@pytest.mark.parametrize("action", ["mlps_vectordb_campaign", "mlps_ckpt_campaign", "mlps_kvcache_campaign"])
def test_every_phase_end_takes_the_verdict_options(action):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "action_plugins" / f"{action}.py"
    spec = importlib.util.spec_from_file_location(f"mlps_test_{action}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {"verify", "previous_findings"} <= set(module.STEPS["phase_end"])
