"""module_utils/mlps_launch.py with real processes and no cluster: abort lines, the timeout, a
stale lease and a lost host each stop the launch's whole process group; the host watch checks
every host at once and calls a host lost only after two failed sweeps. ssh is the stand-in
tests/standins/fake_ssh.py."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mlps_module_utils import mlps_launch

FAKE_SSH = f"{sys.executable} {Path(__file__).resolve().parents[1] / 'standins' / 'fake_ssh.py'}"


def _launch(script: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A process group like mpirun's: a shell-less Python parent with one child, both writing."""
    out = tmp_path / "out.log"
    handle = out.open("wb")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)
    handle.close()
    return proc, out


def _live_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (an orphan's zombie may wait for init to reap it)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _group_gone(pgid: int) -> bool:
    deadline = time.monotonic() + 5
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _live_members(pgid)


CHILD_AND_SLEEP = ("import subprocess, sys, time; "
                   "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                   "print('rank 0 started', flush=True); time.sleep(60)")


def test_output_scan_matches_whole_lines_only(tmp_path):
    log = tmp_path / "log"
    log.write_bytes(b"fine\nError executing job with overri")
    scan = mlps_launch.OutputScan([str(log)], [r"Error executing job"])
    assert scan.match() is None                       # half a line is not judged yet
    with log.open("ab") as handle:
        handle.write(b"des\n")
    assert scan.match() == "Error executing job with overrides"


def test_an_abort_line_stops_the_whole_group(tmp_path):
    script = CHILD_AND_SLEEP.replace("print('rank 0 started', flush=True)",
                                     "print('Traceback (most recent', flush=True)")
    proc, out = _launch(script, tmp_path)
    _out, _err, why = mlps_launch.follow(proc, output_paths=[str(out)], abort_patterns=[r"^Traceback"],
                                         kill_grace=2)
    assert why == ("abort", "Traceback (most recent")
    assert _group_gone(proc.pid)                       # the child went with the parent


def test_the_timeout_stops_the_launch(tmp_path):
    proc, out = _launch(CHILD_AND_SLEEP, tmp_path)
    _out, _err, why = mlps_launch.follow(proc, output_paths=[str(out)], timeout=2, kill_grace=2)
    assert why == ("timeout", 2) and _group_gone(proc.pid)
    assert "timeout of 2 s" in mlps_launch.failure_message(*why)


def test_a_stale_lease_stops_the_launch_as_interrupted(tmp_path):
    lease = tmp_path / "lease"
    lease.touch()
    proc, _out = _launch(CHILD_AND_SLEEP, tmp_path)
    _o, _e, why = mlps_launch.follow(proc, lease_file=str(lease), lease_timeout=2)
    assert why == ("interrupted", 2) and _group_gone(proc.pid)
    assert str(lease) in mlps_launch.failure_message(*why, lease_file=str(lease))


def test_a_launch_that_ends_by_itself_is_not_stopped(tmp_path):
    proc, out = _launch("print('done')", tmp_path)
    _o, _e, why = mlps_launch.follow(proc, output_paths=[str(out)], abort_patterns=["Error"], timeout=30)
    assert why is None and proc.returncode == 0


def test_the_host_watch_checks_every_host_at_once(tmp_path, monkeypatch):
    log = tmp_path / "probes"
    monkeypatch.setenv("MLPS_FAKE_SSH_LOG", str(log))
    monkeypatch.setenv("MLPS_FAKE_SSH_DELAY", "0.5")
    hosts = [f"h{i}" for i in range(1, 9)]
    answered = mlps_launch.HostWatch(hosts, FAKE_SSH, interval=10).sweep()
    assert answered == dict.fromkeys(hosts, True)
    probes = [line.split() for line in log.read_text().splitlines()]
    assert sorted(p[0] for p in probes) == sorted(hosts)
    # concurrent: every probe started before the first one ended
    assert max(float(p[1]) for p in probes) < min(float(p[2]) for p in probes)


def test_a_host_is_lost_after_two_failed_sweeps_and_the_launch_stops(tmp_path, monkeypatch):
    down = tmp_path / "down"
    down.write_text("h3\n")
    monkeypatch.setenv("MLPS_FAKE_SSH_DOWN", str(down))
    watch = mlps_launch.HostWatch(["h2", "h3"], FAKE_SSH, interval=0.2)
    answered = watch.sweep()
    assert answered == {"h2": True, "h3": False}
    proc, _out = _launch(CHILD_AND_SLEEP, tmp_path)
    started = time.monotonic()
    _o, _e, why = mlps_launch.follow(proc, watch_hosts=["h2", "h3"], rsh_agent=FAKE_SSH, watch_interval=1)
    assert why == ("lost", ["h3"]) and _group_gone(proc.pid)
    assert time.monotonic() - started < 55            # stopped by the watch, not by the rank ending
    assert "host h3 stopped answering" in mlps_launch.failure_message(*why)
