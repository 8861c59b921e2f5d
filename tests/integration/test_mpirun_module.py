"""library/mlps_mpirun run for real through the client venv's Open MPI."""

import json

import pytest

from tests.adhoc import run_module

pytestmark = pytest.mark.integration

FAILING_RANK = (
    "import sys, time\n"
    "from mpi4py import MPI\n"
    "rank = MPI.COMM_WORLD.Get_rank()\n"
    "if rank == 1:\n"
    "    print('Error executing job with overrides: []', file=sys.stderr, flush=True)\n"
    "    time.sleep(120)\n"
    "MPI.COMM_WORLD.Barrier()\n"
)


def test_a_rank_error_stops_the_launch_instead_of_waiting_for_the_timeout(tmp_path, client_venv):
    # Rank 1 reports an error and never reaches the barrier rank 0 waits in: without the watch the
    # launch would hang until its timeout.
    status, result, _ = run_module("mlps_mpirun", {
        "mpirun": str(client_venv / "bin" / "mpirun"), "np": 2,
        "command": [str(client_venv / "bin" / "python"), "-c", FAILING_RANK],
        "stdout_path": str(tmp_path / "out.log"), "stderr_path": str(tmp_path / "err.log"),
        "timeout": 100, "kill_grace": 2, "abort_patterns": ["Error executing job"]})
    assert status == "FAILED!"
    assert result["timed_out"] is False
    assert result["aborted_on"].startswith("Error executing job")
    assert "stopped on every host after a rank reported an error" in result["msg"]


def test_timeout_stops_the_launch(tmp_path, client_venv):
    status, result, _ = run_module("mlps_mpirun", {
        "mpirun": str(client_venv / "bin" / "mpirun"), "np": 1,
        "command": [str(client_venv / "bin" / "python"), "-c", "import time; time.sleep(120)"],
        "timeout": 3, "kill_grace": 2})
    assert status == "FAILED!"
    assert result["timed_out"] is True
    assert "passed its timeout of 3 s" in result["msg"]


def _ranks_alive(marker: str) -> list[str]:
    import subprocess
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True, check=False).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def test_a_stale_lease_stops_the_launch_as_interrupted(tmp_path, client_venv):
    # Nobody touches the lease after the start, as when ansible-playbook is interrupted.
    marker = f"mlps-lease-{tmp_path.name}"
    status, result, _ = run_module("mlps_mpirun", {
        "mpirun": str(client_venv / "bin" / "mpirun"), "np": 2,
        "command": [str(client_venv / "bin" / "python"), "-c", "import time; time.sleep(120)", marker],
        "lease_file": str(tmp_path / "lease"), "lease_timeout": 3, "timeout": 100})
    assert status == "FAILED!"
    assert result["interrupted"] is True and result["timed_out"] is False
    assert "stopped following the launch" in result["msg"]
    assert result["delta"] < 30
    assert _ranks_alive(marker) == []


def test_env_values_stay_out_of_the_result(tmp_path, client_venv):
    canary = f"canary-{tmp_path.name}"
    status, result, stderr = run_module("mlps_mpirun", {
        "mpirun": str(client_venv / "bin" / "mpirun"), "np": 1, "secret_env": {"MLPS_TEST_TOKEN": canary},
        "command": [str(client_venv / "bin" / "python"), "-c",
                    "import os; print(len(os.environ['MLPS_TEST_TOKEN']))"]})
    assert status in ("CHANGED", "SUCCESS"), stderr
    assert result["stdout"].strip() == str(len(canary))  # the rank got the value...
    assert "MLPS_TEST_TOKEN" in result["cmd"]  # ...the command line and the record only the name
    assert canary not in json.dumps(result) and canary not in stderr
