"""A hung filesystem: a FUSE mount whose daemon is SIGSTOPped is the data directory.
playbooks/facts.yml and playbooks/preflight.yml must finish, name the path and the host, and leave
no process waiting on the mount. The mount is our own (tests/faults/fusefs.py); the teardown
resumes and unmounts it, so nothing is left hanging even when a test fails."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlps_module_utils import mlps_procfs
from tests.faults.fusefs import HungMount
from tests.integration.playbook import run_playbook
from tests.venvs import LOCAL_INVENTORY

pytestmark = [pytest.mark.integration]

# Far above what a bounded run needs (about 30 s here); a hang ends the run at this limit, and the
# rc then says "timed out" instead of the expected one.
PLAY_LIMIT = 240
PATH_TIMEOUT = 2


@pytest.fixture
def hung(tmp_path):
    """A FUSE mount at tmp_path/mnt that stops answering; resumed and unmounted afterwards."""
    mount = HungMount(tmp_path / "mnt").start()
    mount.stop()
    try:
        yield Path(mount.target)
    finally:
        mount.close()


def waiting_on_fuse() -> list[str]:
    """Command lines of processes (other than our FUSE daemon) blocked waiting for a FUSE answer."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            wchan = Path(f"/proc/{pid}/wchan").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if wchan == "request_wait_answer" and "fusefs.py" not in cmdline:
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def test_the_mount_really_hangs(hung):
    """The fixture is the fault it claims: a plain statvfs in a child does not come back."""
    outcome = mlps_procfs.run_bounded({"stat": (os.statvfs, (str(hung),))}, 1.0)["stat"]
    assert outcome["timed_out"] is True and outcome["value"] is None
    assert waiting_on_fuse() == []  # the timed-out child was killed: a queued FUSE request lets it die


def test_facts_finish_and_name_the_hung_path(hung, tmp_path):
    results = tmp_path / "results"
    run = run_playbook("facts.yml", LOCAL_INVENTORY, {
        "mlps_data_dir": str(hung), "mlps_results_dir": str(results),
        "mlps_facts_path_timeout": PATH_TIMEOUT}, timeout=PLAY_LIMIT)
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    info = json.loads((results / "cluster_info.json").read_text())
    (host,) = info["hosts"]
    entry = host["facts"]["paths"][str(hung)]
    assert entry["error"] == f"statvfs timed out after {PATH_TIMEOUT}s"
    assert entry["fstype"] == "fuse.mlpsfuse"  # the mount is still named, from the path alone
    assert entry["total_bytes"] is None
    # the report names host and path; every other source was still read
    (shown,) = run.results("Show every client").values()
    assert f"{host['hostname']}: path {hung}: statvfs timed out after {PATH_TIMEOUT}s" in shown["msg"]
    assert host["facts"]["meminfo"]["MemTotal"] > 0
    assert waiting_on_fuse() == []


def test_preflight_fails_once_naming_the_hung_path_and_host(hung, tmp_path):
    results = tmp_path / "results"
    run = run_playbook("preflight.yml", LOCAL_INVENTORY, {
        "mlps_data_dir": str(hung), "mlps_results_dir": str(results), "mlps_venv": str(tmp_path / "no-venv"),
        "mlps_preflight_path_timeout": PATH_TIMEOUT}, timeout=PLAY_LIMIT)
    assert run.rc == 2, run.stdout[-3000:]  # the one failed assert at the end, not a timeout
    doc = json.loads((results / "preflight.json").read_text())
    capacity = [c for c in doc["checks"] if c["name"] == "data_capacity"]
    assert [(c["host"], c["ok"], c["found"]) for c in capacity] == [("localhost", False, "no answer (hung mount?)")]
    assert capacity[0]["detail"] == (f"localhost: {hung} did not answer statvfs within {PATH_TIMEOUT} s "
                                     "(hung mount?)")
    separation = next(c for c in doc["checks"] if c["name"] == "fs_separation" and c["host"] == "localhost")
    assert separation["ok"] is None and str(hung) in separation["detail"]
    # the data directory's creation did not hang either: it failed, naming path and host
    (mkdir,) = run.results("Create the data directory").values()
    assert mkdir["hung"] is True, mkdir
    assert f"{hung} did not answer mkdir within {PATH_TIMEOUT} s (hung mount?)" in mkdir["msg"]
    assert "data_capacity on localhost" in run.stdout and "did not answer statvfs" in run.stdout
    assert waiting_on_fuse() == []


def test_teardown_leaves_no_mount(tmp_path):
    """What the fixture promises: after close(), no mount and no daemon, even though it was stopped."""
    mount = HungMount(tmp_path / "mnt").start()
    mount.stop()
    daemon = mount.proc.pid
    mount.close()
    assert str(tmp_path / "mnt") not in Path("/proc/self/mounts").read_text()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{daemon}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{daemon}").exists()
