"""A campaign run as a live ansible-playbook process, for tests that interrupt it or break a host
while it runs, and what they look for afterwards (leftover processes, leaf statuses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from tests.integration.playbook import BIN, ROOT
from tests.integration.test_training import TINY


def fault_vars(results: Path, data: Path, **extra) -> dict:
    """The tiny campaign of tests/integration/test_training.py with its own staging folder, whose
    path marks every process of this campaign (mpirun and DLIO carry it in their argv)."""
    staging = f"/var/tmp/mlps-fault-{uuid.uuid4().hex[:8]}"
    return {"mlps_results_dir": str(results), "mlps_data_dir": str(data), "mlps_training_system": "faults",
            "mlps_training_staging_dir": staging, **TINY, **extra}


def start(playbook: str, inventory, extra_vars: dict, log: Path) -> subprocess.Popen:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1",
               PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / playbook),
            "-e", json.dumps(extra_vars)]
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process by the caller's finish()
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def signal_when(proc: subprocess.Popen, ready, what: str, sig: int, wait: float = 600) -> tuple[int, float]:
    """Once `ready()` holds, send `sig` to ansible-playbook: (its exit code, time.monotonic() of the
    signal); it is killed if it does not end within 120 s."""
    try:
        wait_for(ready, wait, what)
        signalled_at = time.monotonic()
        proc.send_signal(sig)
        return finish(proc, 120), signalled_at
    finally:
        if proc.poll() is None:
            proc.kill()


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        if proc.stdout:
            proc.stdout.close()


def workload(results: Path) -> Path:
    return results / "closed" / "mlps" / "results" / "faults" / "training" / "unet3d"


def leaves(results: Path, command: str = "run") -> list[Path]:
    folder = workload(results) / command
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def metadata(leaf: Path) -> dict:
    return json.loads((leaf / f"training_{leaf.name}_metadata.json").read_text())


def _holds(entry: Path, marker: str) -> bool:
    """Whether a process has a file open under `marker` (a sampler writing its series there)."""
    try:
        return any(marker in os.readlink(fd) for fd in (entry / "fd").iterdir())
    except OSError:
        return False


def processes(marker: str, pids: set[int] | None = None) -> list[str]:
    """Command lines of live processes holding `marker` in their argv (mpirun, DLIO ranks) or in an
    open file (samplers; their arguments are not on their command line), optionally among `pids`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if pids is not None and int(entry.name) not in pids:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (marker.encode() in raw or _holds(entry, marker)):
            found.append(raw.replace(b"\0", b" ").decode(errors="replace"))
    return found


def wait_for(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_started(results: Path, staging: str, index: int) -> bool:
    """True once the run leaf number `index` is recorded as running and DLIO's ranks exist."""
    runs = leaves(results)
    if len(runs) < index:
        return False
    try:
        meta = metadata(runs[index - 1])
    except FileNotFoundError:   # the leaf exists; its inputs are written before its first metadata
        return False
    return meta.get("status") == "running" and len([p for p in processes(staging) if "/run-" in p]) >= 2


def tree_digest(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under root: what 'untouched' means in these tests."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}
