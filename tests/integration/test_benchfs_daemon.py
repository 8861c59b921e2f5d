"""module_utils/mlps_benchfs_daemon.py under the real mpirun (Open MPI 5 of the client venv) on this
machine, with the contract stand-in tests/standins/benchfs/benchfsd_mpi: ready when every rank
registered, stale registry files of a failed job wiped, a rank that dies at start fails the start at
once with its log line, a clean stop in which every rank logs its shutdown, and a daemon that ignores
SIGTERM killed after the stop timeout. Across hosts: tests/integration/test_benchfs.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mlps_module_utils import mlps_benchfs_daemon as bd

pytestmark = pytest.mark.integration

SCRIPT = Path(bd.__file__).resolve()
DAEMON = Path(__file__).resolve().parents[1] / "standins" / "benchfs" / "benchfsd_mpi"


@pytest.fixture
def job(tmp_path, client_venv):
    """Runs the script's subcommands for one job; stops whatever is left at the end."""
    registry, data = tmp_path / "registry", tmp_path / "data"
    registry.mkdir()
    run_id = f"t-{uuid.uuid4().hex[:8]}"
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []

    def config(**standin) -> Path:
        path = tmp_path / f"benchfs-{len(list(tmp_path.glob('benchfs-*')))}.toml"
        lines = ["[storage]", f'data_dir = "{data}"', "stats = true", "[standin]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in standin.items()]
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(np: int, cfg: Path, *extra: str) -> subprocess.CompletedProcess:
        mpirun = [str(client_venv / "bin" / "mpirun"), *root, "--oversubscribe", "-np", str(np)]
        return subprocess.run([sys.executable, str(SCRIPT), "start", "--state", str(tmp_path / "state.json"),
                               "--run-id", run_id, "--np", str(np), "--daemon", str(DAEMON), "--registry",
                               str(registry), "--config", str(cfg), "--logs", str(tmp_path / "logs"),
                               "--settle", "0.2", *extra, "--", *mpirun],
                              capture_output=True, text=True, timeout=120, check=False)

    def stop(timeout: float = 10) -> dict:
        done = subprocess.run([sys.executable, str(SCRIPT), "stop", "--state", str(tmp_path / "state.json"),
                               "--timeout", str(timeout)], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    ns = type("Job", (), {"registry": registry, "data": data, "logs": tmp_path / "logs", "run_id": run_id,
                          "config": staticmethod(config), "start": staticmethod(start), "stop": staticmethod(stop)})
    yield ns
    subprocess.run([sys.executable, str(SCRIPT), "reap", "--run-id", run_id, "--timeout", "1"], check=False,
                   capture_output=True, timeout=30)
    assert bd.marked(run_id) == [], "a daemon of the test outlived it"


def test_ready_when_every_rank_registered_then_a_clean_stop(job):
    (job.registry / "node_7.addr").write_text("stale from a failed job")
    began = time.monotonic()
    done = job.start(4, job.config())
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["registered"] == [f"node_{r}.addr" for r in range(4)]
    assert "node_7.addr" in state["wiped"]
    assert state["ready_seconds"] < 20 and time.monotonic() - began < 30
    assert len(bd.marked(job.run_id)) == 4  # the daemons carry the job's mark
    for rank in range(4):
        assert (job.data / f"rank_{rank}" / "chunks").is_dir()
        assert "runtime config yes" in (job.logs / f"rank_{rank}.log").read_text()  # BENCHFS_CONFIG exported
    stopped = job.stop()
    assert stopped["stopped"] and not stopped["forced"] and stopped["left_pids"] == []
    assert stopped["shutdown_logged"] == {str(r): True for r in range(4)} and stopped["shutdown_missing"] == []
    assert bd.marked(job.run_id) == []
    assert sorted(p.parent.name for p in job.data.glob("rank_*/stats.json")) == [f"rank_{r}" for r in range(4)]


def test_a_rank_that_dies_at_start_fails_at_once_and_its_stale_files_go_next_time(job):
    began = time.monotonic()
    done = job.start(4, job.config(fail_rank=1), "--ready-timeout", "60")
    took = time.monotonic() - began
    assert done.returncode == 1
    assert took < 20, f"waited {took:.1f} s: the start must fail when mpirun dies, not at the timeout"
    message = done.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert "exited with status" in message and "rank 1:" in message and "cannot open the UCX worker" in message
    assert len(bd.registered(str(job.registry))) < 4
    assert bd.marked(job.run_id) == []
    again = job.start(2, job.config())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["registered"] == ["node_0.addr", "node_1.addr"]
    assert job.stop()["stopped"]


def test_a_daemon_that_ignores_sigterm_is_killed_after_the_timeout(job):
    done = job.start(2, job.config(ignore_sigterm=True))
    assert done.returncode == 0, done.stderr
    began = time.monotonic()
    stopped = job.stop(timeout=2)
    assert time.monotonic() - began >= 2
    assert stopped["forced"] and stopped["stopped"] and stopped["left_pids"] == []
    assert stopped["shutdown_missing"] == [0, 1]
    assert "ignoring signal 15" in (job.logs / "rank_0.log").read_text()
    assert bd.marked(job.run_id) == []
