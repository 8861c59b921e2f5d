"""playbooks/preflight.yml on the 3-host namespace cluster: a clean run passes; then every check is
broken on purpose in one run, and every problem shows up in one report and one failed task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.playbook import run_playbook
from tests.venvs import cluster_vars

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

HOSTS = ["h1", "h2", "h3"]


def read_report(results: Path) -> dict:
    return json.loads((results / "preflight.json").read_text())


def test_a_clean_cluster_passes_and_writes_the_report(cluster3, cluster_venv, tmp_path):
    data = Path("/dev/shm") / f"mlps-preflight-{os.getpid()}"
    results = tmp_path / "results"
    try:
        run = run_playbook("preflight.yml", cluster3.inventory, cluster_vars(
            mlps_data_dir=str(data), mlps_results_dir=str(results), mlps_preflight_num_files_train=2))
        assert run.rc == 0, run.messages() or run.stdout[-3000:]
    finally:
        subprocess.run(["rm", "-rf", str(data)], check=False)
    doc = read_report(results)
    assert doc["schema"] == "mlps-preflight/1" and doc["ok"] is True and doc["skipped"] is False
    names = [c["name"] for c in doc["checks"]]
    assert list(dict.fromkeys(names)) == doc["check_names"]
    not_passed = [(c["name"], c["host"], c["ok"]) for c in doc["checks"] if c["ok"] is not True]
    # the data directory (/dev/shm) is on the controller too, so even the controller compares the two
    assert not_passed == [], not_passed
    for name in ("reachable", "venv", "dlio_import", "mpi_match", "mpirun_launch", "data_shared", "host_memory"):
        assert [c["host"] for c in doc["checks"] if c["name"] == name] == HOSTS, name
    separation = [c for c in doc["checks"] if c["name"] == "fs_separation"]
    assert all("hard link" in c["found"] for c in separation)
    assert "preflight passed" in run.stdout and "status  check" in run.stdout
    assert not list(data.parent.glob(f"{data.name}/.mlps-preflight-*"))  # sentinel and probe files removed


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def test_every_failure_appears_in_one_report(cluster_factory, cluster_venv, tmp_path):
    """One run with: h3's sshd stopped, h2's launcher path pointing nowhere, the data directory on
    each host's private tmpfs (host-local, 512 MiB: too small for 100 unet3d files), the results
    directory under the same private mount point (on the controller a 1 MiB tmpfs: full; on the
    clients inside their tmpfs: the data's filesystem), accelerators per host 0 and a mistyped
    mlps_facts setting."""
    cluster = cluster_factory(3, private_mounts=True)
    os.kill(cluster.host("h3").sshd_pid, signal.SIGTERM)
    time.sleep(0.3)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("\n".join(
        f"{line} mlps_preflight_mpirun=/nonexistent/bin/mpirun" if line.startswith("h2 ") else line
        for line in cluster.inventory.read_text().splitlines()) + "\n")
    local = Path(cluster.private_path)
    results = local / f"mlps-preflight-results-{os.getpid()}"
    _mount_tmpfs(results, "1m")
    try:
        run = run_playbook("preflight.yml", inventory, cluster_vars(
            mlps_data_dir=str(local / "mlps-preflight-data"), mlps_results_dir=str(results),
            mlps_preflight_num_files_train=100, mlps_preflight_accelerators_per_host=0,
            mlps_facts_path_timeout="soon"))
        doc = read_report(results)
    finally:
        subprocess.run(["umount", str(results)], check=False)
        results.rmdir()
    assert run.rc != 0
    # One failed task (the last one), naming every failure; every other task kept going (h3's
    # unreachable results were ignored by design and are findings in the report).
    failures = [e["event_data"] for e in run.events if e.get("event") == "runner_on_failed"
                and not e["event_data"].get("ignore_errors")]
    assert [f["task"] for f in failures] == ["Fail once with every problem found"], failures
    assert not run.stats.get("dark"), run.stats
    messages = [failures[0]["res"]["msg"]]
    assert doc["ok"] is False
    failed = {(c["name"], c["host"]): c for c in doc["checks"] if c["ok"] is False and c["severity"] == "error"}
    expected = {
        ("reachable", "h3"),                                        # sshd stopped
        ("mpirun_present", "h2"),                                   # launcher path override
        ("mpirun_launch", "h3"),                                    # no rank on the dead host
        ("data_shared", "h2"),                                      # host-local data directory
        ("fs_separation", "h1"),                                    # data and results on one tmpfs
        ("data_capacity", "h1"), ("data_capacity", "h2"),           # 512 MiB for 13.6 GiB of files
        ("results_capacity", "controller"),                         # 1 MiB tmpfs
        ("inventory_values", "h1"), ("inventory_values", "h2"), ("inventory_values", "h3"),  # 0 accelerators
        ("inventory_types", "h1"), ("inventory_types", "h2"), ("inventory_types", "h3"),     # float expected
    }
    assert expected <= set(failed), sorted(expected - set(failed))
    for (name, host), check in failed.items():
        assert host in check["detail"], (name, host, check["detail"])
        assert check["expected"] and check["found"] and check["fix"], (name, host)
        assert f"{name} on {host}" in messages[0]
    assert "Connection refused" in failed[("reachable", "h3")]["detail"]
    assert "/nonexistent/bin/mpirun" in failed[("mpirun_present", "h2")]["found"]
    assert "host-local" in failed[("data_shared", "h2")]["detail"]
    assert "apt-get install -y nfs-common" in failed[("data_shared", "h2")]["fix"]   # the hosts run Debian
    assert "mlps_facts_path_timeout" in failed[("inventory_types", "h1")]["detail"]
    assert "accelerators per host=0" in failed[("inventory_values", "h1")]["detail"]
    # What could not run on the unreachable host says so instead of passing.
    h3 = {c["name"]: c for c in doc["checks"] if c["host"] == "h3"}
    assert h3["venv"]["ok"] is None and "unreachable" in h3["venv"]["detail"]
    # The healthy parts still pass: h1's launcher and both reachable venvs.
    passed = {(c["name"], c["host"]) for c in doc["checks"] if c["ok"] is True}
    assert {("mpirun_present", "h1"), ("venv", "h1"), ("venv", "h2"), ("data_shared", "h1")} <= passed
    assert "status  check" in run.stdout and "-> fix:" in run.stdout


def test_check_mode_still_checks_the_shared_filesystem_and_writes_nothing(cluster3, cluster_venv, tmp_path):
    """--check: the sentinel (the one scratch write a what-if needs, its own check_mode: false task) is
    written, seen by every client and removed; preflight.json is not written."""
    data = Path("/dev/shm") / f"mlps-preflight-check-{os.getpid()}"
    results = tmp_path / "results"
    data.mkdir()
    results.mkdir()
    try:
        run = run_playbook("preflight.yml", cluster3.inventory, cluster_vars(
            mlps_data_dir=str(data), mlps_results_dir=str(results), mlps_preflight_num_files_train=2),
            args=["--check"])
        assert run.rc == 0, run.messages() or run.stdout[-3000:]
        assert list(data.iterdir()) == []                       # the sentinel was removed again
    finally:
        subprocess.run(["rm", "-rf", str(data)], check=False)
    assert list(results.iterdir()) == []                        # no preflight.json
    (report,) = run.results("Judge every check").values()
    shared = [(c["host"], c["ok"]) for c in report["checks"] if c["name"] == "data_shared"]
    assert shared == [(host, True) for host in HOSTS]
    assert report["table"][-1] == f"would write {results}/preflight.json"
