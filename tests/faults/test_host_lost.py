"""A client lost in the middle of a run (its link taken down) on a 3-host cluster: the play ends
within 2 minutes, the run leaf says failed with the host and the phase, the other hosts' samplers
are stopped with their series kept, nothing of the campaign runs on the surviving hosts, and the
earlier leaves are untouched."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.cluster import procs
from tests.faults import live
from tests.venvs import cluster_vars

pytestmark = pytest.mark.integration


@pytest.fixture
def shm_data():
    path = Path("/dev/shm") / f"mlps-fault-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def link(cluster, host: str, state: str) -> None:
    subprocess.run(["ip", "-n", cluster.host(host).netns, "link", "set", "eth0", state], check=True, timeout=30)


def test_a_host_lost_mid_run_fails_the_leaf_naming_it_and_leaves_nothing_running(
        tmp_path, cluster_factory, cluster_venv, shm_data):
    # A cluster of its own: this test breaks one of its hosts.
    cluster = cluster_factory(3)
    results = tmp_path / "results"
    # 18 files: a multiple of the 3 ranks (one per host), as the planner requires
    extra = live.fault_vars(results, shm_data, **cluster_vars(), mlps_training_runs=2,
                            mlps_training_num_files_train=18, mlps_training_datagen="always",
                            mlps_training_watch_interval=5)
    staging = extra["mlps_training_staging_dir"]
    proc = live.start("run_training.yml", cluster.inventory, extra, tmp_path / "play.log")
    try:
        # the warm-up runs: 3 ranks (one per host) of DLIO plus mpirun on the launcher
        live.wait_for(lambda: live.run_started(results, staging, 1)
                      and len([p for p in live.processes(staging) if "/run-" in p]) >= 4,
                      900, "the warm-up to run on every host")
        earlier = {command: live.tree_digest(live.leaves(results, command)[0]) for command in ("datasize", "datagen")}
        link(cluster, "h3", "down")
        lost_at = time.monotonic()
        rc = live.finish(proc, 300)
        ended_after = time.monotonic() - lost_at
    finally:
        if proc.poll() is None:
            proc.kill()
        link(cluster, "h3", "up")
    log = (tmp_path / "play.log").read_text()
    assert rc != 0, log[-3000:]
    assert ended_after < 120, f"the play took {ended_after:.0f} s to end after h3 was lost"

    (warmup,) = live.leaves(results)
    record = live.metadata(warmup)
    assert record["status"] == "failed", record
    assert record["failure"]["hosts"] == ["h3"] and record["failure"]["phase"] == "run 1/2 (warm-up)"
    assert "h3" in record["message"] and "h3" in log
    series = warmup / f"training_{warmup.name}_timeseries"
    for host in ("h1", "h2"):  # the surviving samplers were stopped and their series fetched
        lines = (series / f"{host}.jsonl").read_text().splitlines()
        assert len(lines) >= 2, host
    assert record["timeseries_hosts"]["h1"] >= 2 and record["timeseries_hosts"]["h2"] >= 2

    survivors = {cluster.host(h).netns for h in ("h1", "h2")}
    live.wait_for(lambda: not live.processes(staging, procs.pids_in_netns(survivors)), 30,
                  "no campaign process (mpirun, DLIO rank, sampler) left on h1 and h2")
    for command, digest in earlier.items():
        assert live.tree_digest(live.leaves(results, command)[0]) == digest, command
