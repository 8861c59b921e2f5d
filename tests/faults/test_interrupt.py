"""SIGINT to ansible-playbook in the middle of a run on the 3-host cluster: within 30 s nothing of the
campaign runs on any host, the leaf says interrupted, and running the campaign again continues with
the next run without touching what the first one left. SIGTERM on localhost ends it the same way. (The namespace hosts
share this machine's process table, so one look at /proc covers every host.)"""

from __future__ import annotations

import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.faults import live
from tests.venvs import LOCAL_INVENTORY, cluster_vars

pytestmark = pytest.mark.integration


@pytest.fixture
def shm_data():
    path = Path("/dev/shm") / f"mlps-fault-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def where_to_run(request, where: str) -> tuple[object, dict]:
    """(inventory, settings) of localhost (2 ranks) or the 3-host cluster (one rank per host)."""
    if where == "localhost":
        return LOCAL_INVENTORY, {"mlps_venv": str(request.getfixturevalue("client_venv")),
                                 "mlps_training_accelerators_per_host": 2}
    cluster = request.getfixturevalue("cluster3")
    request.getfixturevalue("cluster_venv")
    return cluster.inventory, cluster_vars(mlps_training_accelerators_per_host=1, mlps_training_num_files_train=18)


@pytest.mark.cluster
def test_sigint_mid_run_stops_everything_and_the_next_campaign_continues(tmp_path, request, shm_data):
    """On the 3 hosts (localhost is the SIGTERM test's): the interrupt and the resume."""
    results = tmp_path / "results"
    inventory, settings = where_to_run(request, "cluster")
    extra = live.fault_vars(results, shm_data, mlps_training_runs=2, mlps_training_datagen="auto", **settings)
    staging = extra["mlps_training_staging_dir"]
    proc = live.start("run_training.yml", inventory, extra, tmp_path / "first.log")
    rc, interrupted_at = live.signal_when(proc, lambda: live.run_started(results, staging, 2), "run 2 to start",
                                          signal.SIGINT)
    assert rc != 0
    # within 30 s no mpirun, DLIO rank or sampler of the campaign is left
    live.wait_for(lambda: not live.processes(staging), 30, "the launch and the samplers to stop")
    stopped_after = time.monotonic() - interrupted_at
    assert stopped_after < 30 + 5  # the wait above allows 30 s from the moment ansible-playbook ended
    first, second = live.leaves(results)
    assert live.metadata(first)["status"] == "completed"
    stopped = live.metadata(second)
    assert stopped["status"] == "interrupted", stopped
    assert "interrupted" in stopped["message"]
    before = live.tree_digest(workload := live.workload(results))

    # the same campaign again: it continues with run 2 (the warm-up is done) and ends complete
    proc = live.start("run_training.yml", inventory, extra, tmp_path / "second.log")
    rc = live.finish(proc, 900)
    log = (tmp_path / "second.log").read_text()
    assert rc == 0, log[-3000:]
    assert "next is run 2 of 2" in log
    after = live.tree_digest(workload)
    assert {name: after[name] for name in before if not name.startswith("run/results.json")} == \
        {name: stat for name, stat in before.items() if not name.startswith("run/results.json")}
    runs = live.leaves(results)
    assert [live.metadata(leaf)["status"] for leaf in runs] == ["completed", "interrupted", "completed"]
    assert [live.metadata(leaf)["run_index"] for leaf in runs] == [1, 2, 2]
    assert len({live.metadata(leaf)["campaign_id"] for leaf in runs}) == 1
    assert len(live.leaves(results, "datasize")) == 1  # a continued campaign plans nothing new
    assert len(live.leaves(results, "datagen")) == 1
    assert not live.processes(staging)


def test_sigterm_is_an_interrupt_too(tmp_path, request, shm_data):
    """What scancel (and kill, systemd, a CI runner) sends: the same end as Ctrl-C, not a leaf left
    saying running."""
    results = tmp_path / "results"
    inventory, settings = where_to_run(request, "localhost")
    extra = live.fault_vars(results, shm_data, mlps_training_runs=2, mlps_training_datagen="auto", **settings)
    staging = extra["mlps_training_staging_dir"]
    proc = live.start("run_training.yml", inventory, extra, tmp_path / "run.log")
    rc, _signalled_at = live.signal_when(proc, lambda: live.run_started(results, staging, 1), "run 1 to start",
                                         signal.SIGTERM)
    assert rc != 0
    live.wait_for(lambda: not live.processes(staging), 30, "the launch and the samplers to stop")
    stopped = live.metadata(live.leaves(results)[0])
    assert stopped["status"] == "interrupted", stopped
