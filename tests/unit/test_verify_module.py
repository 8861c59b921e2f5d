"""library/mlps_verify.py: renders with ansible-doc, and run for real through `ansible localhost`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adhoc import run_module
from tests.unit.test_rules_synthetic import build_training_workload

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
V1 = ROOT / "tests" / "fixtures" / "mlperf_results" / "storage_results_v1.0"


def _env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def ansible(module_args: dict, *extra: str) -> tuple[str, dict]:
    return run_module("mlps_verify", module_args, *extra)[:2]

def test_module_documentation_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_verify"],
                          capture_output=True, text=True, cwd=ROOT, env=_env(), check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "fail_on" in proc.stdout and "EXAMPLES" in proc.stdout and "RETURN VALUES" in proc.stdout


@pytest.mark.integration
def test_module_returns_the_verdict_as_data():
    status, result = ansible({"path": str(V1)}, "--check")
    assert status == "SUCCESS", result
    assert result["verdict"] == "CLOSED" and result["exit_code"] == 0 and result["changed"] is False
    assert result["document"]["schema"] == "mlps-verdict/1"
    assert [w["verdict"] for w in result["workloads"]] == ["CLOSED"] * 3
    assert result["cmd"][1:4] == ["-m", "mlps.cli", "verify"]


@pytest.mark.integration
def test_module_fails_on_the_listed_verdicts(tmp_path):
    build_training_workload(tmp_path, runs=4)
    status, result = ansible({"path": str(tmp_path), "fail_on": ["INVALID"]})
    assert status == "FAILED!"
    assert result["verdict"] == "INVALID" and "verdict INVALID" in result["msg"]
    assert any(f["rule"] == "TRAIN-RUNS-COUNT" for f in result["findings"])
    # grouped, readable lines for the campaigns' verdict print
    assert any(line.startswith("INVALID TRAIN-RUNS-COUNT:") for line in result["lines"])
    status, result = ansible({"path": str(tmp_path)})
    assert status == "SUCCESS" and result["verdict"] == "INVALID"
    assert (result["rc"], result["exit_code"]) == (0, 3)


@pytest.mark.integration
def test_module_reports_an_unreadable_tree_in_one_line(tmp_path):
    status, result = ansible({"path": str(tmp_path / "absent")})
    assert status == "FAILED!" and result["rc"] == 4
    assert "no such directory" in result["msg"] and "\n" not in result["msg"]


@pytest.mark.integration
def test_module_names_an_interpreter_without_mlps(tmp_path):
    plain = "/usr/bin/python3"
    if not Path(plain).exists():
        pytest.fail("the test needs a system python3 without mlps at /usr/bin/python3")
    status, result = ansible({"path": str(V1), "python": plain})
    assert status == "FAILED!"
    assert "cannot run the verifier" in result["msg"] and "mlps installed" in result["msg"]
