"""library/mlps_mpirun run for real through the client venv's Open MPI."""

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
