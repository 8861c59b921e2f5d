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
