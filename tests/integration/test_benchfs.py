"""playbooks/run_benchfs.yml for real on the 3-host namespace cluster (real ansible-playbook over SSH,
real Open MPI mpirun across the hosts) with the contract stand-ins tests/standins/benchfs/benchfsd_mpi
and ior: daemons on h1 and h2 with IOR on h3 (separate placement, a 2-point sweep), everything on all
three hosts (shared placement), a rank that dies at start (fails fast; its stale registry files are
gone on the next start), a daemon that ignores SIGTERM (killed after the stop timeout) and SIGINT to
ansible-playbook during an IOR run (the exit hook stops the daemons). After each play no daemon is left
on any host (the namespace hosts share one /proc, so one scan sees all).
The lifecycle script alone under mpirun: tests/integration/test_benchfs_daemon.py."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.faults import live
from tests.integration.playbook import PlaybookRun, run_playbook
from tests.venvs import cluster_vars

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

STANDINS = Path(__file__).resolve().parents[1] / "standins" / "benchfs"


def daemons_alive(registry: Path) -> list[int]:
    """The machine's processes (any host of the cluster: one /proc) that carry a play's run mark and
    name this test's registry folder: other tests' daemons, beside on the other worker, are not ours."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                marked = b"\0MLPS_BENCHFS_RUN=" in b"\0" + (entry / "environ").read_bytes()
                if marked and str(registry).encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def sweep(cluster, tmp_path: Path, registry: Path, **extra) -> PlaybookRun:
    data = tmp_path / "data"
    extra_vars = {**cluster_vars(), "mlps_results_dir": str(tmp_path / "results"),
                  "mlps_benchfs_daemon": str(STANDINS / "benchfsd_mpi"), "mlps_benchfs_ior": str(STANDINS / "ior"),
                  "mlps_benchfs_registry_dir": str(registry), "mlps_benchfs_data_dir": str(data),
                  "mlps_benchfs_system": "test-sys", "mlps_benchfs_settle": 0, "mlps_benchfs_stop_timeout": 5,
                  "mlps_benchfs_poll_interval": 1, "mlps_benchfs_block_sizes": ["1m"], "mlps_benchfs_facts": False,
                  "mlps_benchfs_config": {"storage": {"data_dir": str(data)}, **extra.pop("config", {})}, **extra}
    run = run_playbook("run_benchfs.yml", cluster.inventory, extra_vars, timeout=600)
    assert daemons_alive(registry) == [], "a BenchFS daemon outlived the play"
    return run


def leaves(tmp_path: Path) -> list[tuple[Path, dict]]:
    workload = tmp_path / "results" / "open" / "mlps" / "results" / "test-sys" / "benchfs" / "ior"
    return [(leaf, json.loads((leaf / f"benchfs_{leaf.name}_metadata.json").read_text()))
            for leaf in sorted(p for p in workload.iterdir() if p.is_dir())]


def test_servers_on_two_hosts_and_ior_on_the_third(cluster3, cluster_venv, tmp_path):
    registry = tmp_path / "registry"
    run = sweep(cluster3, tmp_path, registry, mlps_benchfs_servers=["h1", "h2"], mlps_benchfs_clients=["h3"],
                mlps_benchfs_ranks_per_server=2, mlps_benchfs_transfer_sizes=["64k", "256k"], mlps_benchfs_facts=True,
                config={"storage": {"data_dir": str(tmp_path / "data"), "stats": True}})
    assert run.rc == 0, run.messages() or run.stdout[-3000:]
    found = leaves(tmp_path)
    # facts of servers and client at both ends, and the capsule naming both binaries by their bytes
    for snapshot in ("start", "end"):
        info = json.loads((tmp_path / "results" / f"cluster_info_{snapshot}.json").read_text())
        assert sorted(h["hostname"] for h in info["hosts"]) == ["h1", "h2", "h3"]
    assert found[0][1]["cluster_info_start"] == str(tmp_path / "results" / "cluster_info_start.json")
    (capsule_file,) = (tmp_path / "results" / "capsules").glob("benchfs-*.json")
    capsule = json.loads(capsule_file.read_text())
    for name in ("benchfsd_mpi", "ior"):
        digest = hashlib.sha256((STANDINS / name).read_bytes()).hexdigest()
        assert capsule["code"][name]["code_image"] == f"sha256:{digest}", capsule["code"]
    assert "playbooks/run_benchfs.yml" in capsule["rerun"]["argv"]
    assert len(found) == 2
    for (leaf, meta), size in zip(found, ("64k", "256k"), strict=True):
        assert meta["status"] == "completed" and meta["division"] == "open" and meta["not_mlperf_storage"]
        assert meta["parameters"]["transfer_size"] == size and meta["servers"]["placement"] == "separate"
        assert meta["servers"]["np"] == 4 and "h1:2,h2:2" in meta["servers"]["executed_command"]
        assert "h3:1" in meta["executed_command"]
        summary = json.loads((leaf / "ior.json").read_text())["summary"]
        assert meta["figures"]["write"]["bw_mean_MiBps"] == summary[0]["bwMeanMIB"] > 0
        assert (leaf / "benchfs.toml").read_text() == (leaf / "daemon" / "benchfs.toml").read_text()
        for rank in range(4):
            assert "shutdown complete" in (leaf / "daemon" / f"rank_{rank}.log").read_text()
            assert json.loads((leaf / "daemon" / "stats" / f"rank_{rank}" / "stats.json").read_text())["rank"] == rank
        assert meta["daemons"]["stopped"] and not meta["daemons"]["stop_forced"]
        series = {p.stem for p in (leaf / f"benchfs_{leaf.name}_timeseries").glob("*.jsonl")}
        assert series == {"h1", "h2", "h3"}
    for rank, host in ((0, "h1"), (1, "h1"), (2, "h2"), (3, "h2")):
        log = (found[0][0] / "daemon" / f"rank_{rank}.log").read_text()
        assert re.search(rf"starting on {host} of 4 ranks", log), (rank, log)
    results = json.loads((found[0][0].parent / "results.json").read_text())
    assert [r["leaf"] for r in results["sweeps"][found[0][0].name]["runs"]] == [leaf.name for leaf, _ in found]


def test_a_rank_that_dies_fails_fast_then_shared_placement_starts_clean(cluster3, cluster_venv, tmp_path):
    registry = tmp_path / "registry"
    run = sweep(cluster3, tmp_path, registry, mlps_benchfs_ranks_per_server=1, mlps_benchfs_ready_timeout=120,
                config={"standin": {"fail_rank": 1}})
    assert run.rc != 0
    said = " ".join(run.messages())
    assert "rank 1:" in said and "cannot open the UCX worker" in said, said
    waited = re.search(r"mpirun exited with status \d+ after ([0-9.]+) s with [0-3] of 3 ranks registered", said)
    assert waited and float(waited.group(1)) < 30, f"the start did not fail when mpirun died: {said}"
    stale = sorted(p.name for p in registry.glob("node_*.addr"))
    assert "node_1.addr" not in stale and stale, stale
    (leaf, meta), = leaves(tmp_path)
    assert meta["status"] == "failed" and "did not start" in meta["message"]
    assert "cannot open the UCX worker" in (leaf / "daemon" / "rank_1.log").read_text()

    again = sweep(cluster3, tmp_path, registry, mlps_benchfs_ranks_per_server=1)
    assert again.rc == 0, again.messages() or again.stdout[-3000:]
    leaf, meta = leaves(tmp_path)[-1]
    assert meta["status"] == "completed" and meta["servers"]["placement"] == "shared"
    started = json.loads((leaf / "daemon" / "daemon.json").read_text())
    assert set(stale) <= set(started["wiped"])


def test_a_daemon_that_ignores_sigterm_is_killed_after_the_timeout(cluster3, cluster_venv, tmp_path):
    run = sweep(cluster3, tmp_path, tmp_path / "registry", mlps_benchfs_servers=["h1", "h2"],
                mlps_benchfs_clients=["h3"], mlps_benchfs_stop_timeout=2, config={"standin": {"ignore_sigterm": True}})
    assert run.rc != 0
    said = " ".join(run.messages())
    assert "did not all stop gracefully" in said, said
    (leaf, meta), = leaves(tmp_path)
    assert meta["status"] == "completed"  # IOR's figures stand; the stop is recorded beside them
    assert meta["daemons"]["stop_forced"] and meta["daemons"]["shutdown_missing"] == [0, 1]
    assert meta["daemons"]["stop_seconds"] >= 2 and meta["daemons"]["stopped"]
    assert "ignoring signal 15" in (leaf / "daemon" / "rank_0.log").read_text()


def ior_alive() -> list[int]:
    """The IOR stand-in's ranks of an interrupted run (they sleep with --standin.sleep)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if any(a.endswith(b"/standins/benchfs/ior") for a in argv) and b"--standin.sleep=120" in argv:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_an_interrupt_during_a_client_run_leaves_nothing_anywhere(cluster3, cluster_venv, tmp_path):
    data, log, registry = tmp_path / "data", tmp_path / "run.log", tmp_path / "registry"
    extra = {**cluster_vars(), "mlps_results_dir": str(tmp_path / "results"), "mlps_benchfs_facts": False,
             "mlps_benchfs_daemon": str(STANDINS / "benchfsd_mpi"), "mlps_benchfs_ior": str(STANDINS / "ior"),
             "mlps_benchfs_registry_dir": str(registry), "mlps_benchfs_data_dir": str(data),
             "mlps_benchfs_config": {"storage": {"data_dir": str(data)}}, "mlps_benchfs_system": "test-sys",
             "mlps_benchfs_servers": ["h1", "h2"], "mlps_benchfs_clients": ["h3"], "mlps_benchfs_settle": 0,
             "mlps_benchfs_stop_timeout": 5, "mlps_benchfs_poll_interval": 1, "mlps_benchfs_lease_timeout": 15,
             "mlps_benchfs_block_sizes": ["1m"], "mlps_benchfs_ior_args": ["--standin.sleep=120"]}
    proc = live.start("run_benchfs.yml", cluster3.inventory, extra, log)
    try:
        live.wait_for(lambda: bool(ior_alive()) and bool(daemons_alive(registry)), 300,
                      "IOR running against the daemons")
        proc.send_signal(signal.SIGINT)
        try:
            live.finish(proc, 180)
        except subprocess.TimeoutExpired:
            raise AssertionError("no exit within 180 s of SIGINT:\n" + log.read_text()[-4000:]) from None
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "the BenchFS daemons launched on h1 that this campaign started stopped" in text, text[-3000:]
    assert daemons_alive(registry) == []
    live.wait_for(lambda: not ior_alive(), 60, "IOR's ranks to stop themselves (stale lease)")
    (_leaf, meta), = leaves(tmp_path)
    assert meta["status"] == "interrupted"
