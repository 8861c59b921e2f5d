"""module_utils/mlps_benchfs_daemon.py without mpirun: the registry wipe, the ready count, the state
file, the job's mark and every bad input as one line (exit 2). The lifecycle under a real mpirun is in
tests/integration/test_benchfs_daemon.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlps_module_utils import mlps_benchfs_daemon as bd

SCRIPT = Path(bd.__file__).resolve()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30,
                          check=False)


def test_the_wipe_removes_node_files_only_never_a_folder_or_a_links_target(tmp_path):
    registry = tmp_path / "reg"
    registry.mkdir()
    for name in ("node_0.addr", "node_1.addr", "node_1.exit", "other.txt"):
        (registry / name).write_text("x")
    (registry / "node_dir").mkdir()
    target = tmp_path / "precious"
    target.write_text("keep")
    (registry / "node_9.addr").symlink_to(target)
    removed = bd.wipe_registry(str(registry))
    assert removed == ["node_0.addr", "node_1.addr", "node_1.exit", "node_9.addr"]
    assert sorted(p.name for p in registry.iterdir()) == ["node_dir", "other.txt"]
    assert target.read_text() == "keep"


def test_only_addr_files_count_as_registered(tmp_path):
    for name in ("node_0.addr", "node_1.addr", ".node_2.addr.tmp5", "node_3.exit"):
        (tmp_path / name).write_text("x")
    assert bd.registered(str(tmp_path)) == ["node_0.addr", "node_1.addr"]
    assert bd.registered(str(tmp_path / "missing")) == []


def test_shutdown_lines_are_read_per_rank_from_the_logs_this_host_sees(tmp_path):
    (tmp_path / "rank_0.log").write_text("start\nshutdown complete\n")
    (tmp_path / "rank_1.log").write_text("start\nshutdown requested\n")
    assert bd.shutdown_logged(str(tmp_path), 3, bd.DEFAULT_SHUTDOWN) == {"0": True, "1": False}


def test_the_mark_finds_only_the_jobs_processes(tmp_path):
    env = {**os.environ, bd.RUN_MARK: "job-a"}
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=env)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             env={**os.environ, bd.RUN_MARK: "job-b"})
    try:
        assert bd.wait_until(lambda: mine.pid in bd.marked("job-a"), 5)
        assert other.pid not in bd.marked("job-a")
        done = run("reap", "--run-id", "job-a", "--timeout", "2")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"found": [mine.pid], "left_pids": [], "stopped": True}
        assert mine.wait(timeout=5) == -15
        assert other.poll() is None
    finally:
        for proc in (mine, other):
            proc.kill()
            proc.wait()


def test_a_state_file_of_a_finished_job_stops_as_already_stopped(tmp_path):
    state = {"schema": bd.STATE_SCHEMA, "pid": 2**22 + 7, "pgid": 2**22 + 7, "pid_start_ticks": 1,
             "run_id": "gone", "np": 2, "registry": str(tmp_path), "logs": str(tmp_path)}
    (tmp_path / "state.json").write_text(json.dumps(state))
    done = run("stop", "--state", str(tmp_path / "state.json"), "--timeout", "1")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["already"] and out["stopped"] and not out["forced"]


@pytest.mark.parametrize(("args", "says"), [
    (["stop", "--state", "{tmp}/nope.json"], "--state {tmp}/nope.json: no such file"),
    (["stop", "--state", "{tmp}/bad.json"], "not a mlps_benchfs_daemon state file"),
    (["reap", "--run-id", "a b;rm"], "--run-id 'a b;rm': use 1-64 letters"),
    (["start", "--state", "{tmp}/s.json", "--run-id", "r", "--np", "2", "--daemon", "{tmp}/d",
      "--registry", "{tmp}", "--config", "{tmp}/c.toml", "--logs", "{tmp}/logs"], "no mpirun command after --"),
    (["start", "--state", "{tmp}/s.json", "--run-id", "r", "--np", "2", "--daemon", "{tmp}/d",
      "--registry", "{tmp}", "--config", "{tmp}/c.toml", "--logs", "{tmp}/logs", "--", "{tmp}/no-mpirun"],
     "mpirun {tmp}/no-mpirun: not found"),
    (["start", "--state", "{tmp}/s.json", "--run-id", "r", "--np", "0", "--daemon", "{tmp}/d",
      "--registry", "{tmp}", "--config", "{tmp}/c.toml", "--logs", "{tmp}/logs", "--", "mpirun"],
     "--np 0: must be at least 1"),
    (["start", "--state", "{tmp}/s.json", "--run-id", "r", "--np", "2", "--daemon", "{tmp}/missing",
      "--registry", "{tmp}", "--config", "{tmp}/c.toml", "--logs", "{tmp}/logs", "--", "mpirun"],
     "--daemon {tmp}/missing: no such file"),
    (["start", "--state", "{tmp}/s.json", "--run-id", "r", "--np", "2", "--daemon", "{tmp}/d",
      "--registry", "{tmp}/noreg", "--config", "{tmp}/c.toml", "--logs", "{tmp}/logs", "--", "mpirun"],
     "--registry {tmp}/noreg: not a folder"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, says):
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    (tmp_path / "d").write_text("")
    (tmp_path / "c.toml").write_text("")
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run(*[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert says.format(tmp=tmp_path) in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_start_refuses_while_the_state_files_job_still_runs(tmp_path):
    me = bd.proc_row(os.getpid())
    state = {"schema": bd.STATE_SCHEMA, "pid": os.getpid(), "pgid": me[1], "pid_start_ticks": me[2],
             "run_id": "live", "np": 1, "registry": str(tmp_path), "logs": str(tmp_path)}
    (tmp_path / "s.json").write_text(json.dumps(state))
    (tmp_path / "d").write_text("")
    (tmp_path / "c.toml").write_text("")
    (tmp_path / "node_0.addr").write_text("stale")
    done = run("start", "--state", str(tmp_path / "s.json"), "--run-id", "r", "--np", "1", "--daemon",
               str(tmp_path / "d"), "--registry", str(tmp_path), "--config", str(tmp_path / "c.toml"),
               "--logs", str(tmp_path / "logs"), "--", sys.executable)
    assert done.returncode == 2 and "still run; stop them first" in done.stderr
    assert (tmp_path / "node_0.addr").exists()  # nothing touched


def test_the_ready_wait_fails_fast_when_the_launcher_dies(tmp_path):
    """A launcher that exits before every rank registered fails at once, not after the timeout."""
    registry = tmp_path / "reg"
    registry.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"])
    args = type("A", (), {"registry": str(registry), "np": 2, "ready_timeout": 60})()
    began = time.monotonic()
    with pytest.raises(bd.StartError, match=r"exited with status 3 after .* with 0 of 2 ranks registered"):
        bd.wait_ready(proc, args, began)
    assert time.monotonic() - began < 5
