"""pytest fixtures for the multi-host test cluster (registered from tests/conftest.py).

cluster3         session-wide cluster of 3 hosts (h1 is the launcher)
slurm_cluster3   session-wide cluster of 3 hosts running Slurm (cluster.slurm_paths.env holds SLURM_CONF)
cluster_factory  make(hosts=N, private_mounts=..., ...) -> a fresh Cluster, torn down at session end

Each cluster is owned by the pytest process: if the session dies without running its finalizers
(SIGKILL, OOM), the next `up` on the machine sweeps what it left behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster, ClusterError, require_environment
from tests.cluster.procs import Owner

# Short on purpose: ssh control socket paths must fit in 107 bytes.
BASE_DIR = Path(os.environ.get("MLPS_TEST_CLUSTER_BASE", "/tmp/mlps-tc"))

ClusterFactory = Callable[..., Cluster]


def _prune_old_dirs(base: Path) -> None:
    """Remove dirs of clusters that are down (keys and logs of earlier sessions)."""
    if not base.is_dir():
        return
    for entry in base.iterdir():
        try:
            state = Cluster.load(entry).state
        except ClusterError:
            continue  # not ours, or half-written: leave it
        if state == "down":
            shutil.rmtree(entry, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster_factory() -> Iterator[ClusterFactory]:
    made: list[Cluster] = []
    owner = Owner.current()

    def make(hosts: int = 3, **options: object) -> Cluster:
        problem = None
        try:
            require_environment(slurm_tools=bool(options.get("slurm")))
        except ClusterError as exc:
            problem = str(exc)
        if problem:  # outside the except block, so the report is this one line
            pytest.fail(problem, pytrace=False)
        if not made:
            BASE_DIR.mkdir(parents=True, exist_ok=True)
            _prune_old_dirs(BASE_DIR)
        cluster = Cluster(BASE_DIR / f"{owner.pid}-{len(made) + 1}", hosts, owner=owner, **options)
        made.append(cluster)  # before up(): a failed up still gets its finalizer
        return cluster.up()

    yield make

    # Runs even when tests fail or the session is interrupted with Ctrl-C.
    errors = []
    for cluster in reversed(made):
        try:
            cluster.down()
        except ClusterError as exc:
            errors.append(str(exc))
            continue
        shutil.rmtree(cluster.dir, ignore_errors=True)
    if errors:
        raise ClusterError("; ".join(errors))


@pytest.fixture(scope="session")
def cluster3(cluster_factory: ClusterFactory) -> Cluster:
    return cluster_factory(3)


@pytest.fixture(scope="session")
def slurm_cluster3(cluster_factory: ClusterFactory) -> Cluster:
    return cluster_factory(3, slurm=True)
