"""Campaigns on a real Slurm (munged, slurmctld and a slurmd per namespace host; tests/cluster):
a tiny training campaign submitted with `mlps slurm submit` whose inventory is the allocation and
whose ranks start with srun (facts over MPI through srun too); facts over mpirun in a job, its
daemons started through Slurm; scancel of a campaign launching with mpirun the same way; and the
preflight's refusal when the clients are more than the allocation holds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.faults import live
from tests.integration.playbook import BIN, ROOT, run_playbook
from tests.integration.test_training import TINY
from tests.venvs import cluster_vars

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def shm_data():
    path = Path("/dev/shm") / f"mlps-slurm-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def slurm_env(cluster) -> dict:
    """This machine's environment plus the cluster's Slurm client settings (SLURM_CONF)."""
    pairs = (line.split("=", 1) for line in cluster.slurm_paths.env.read_text().splitlines() if "=" in line)
    return dict(os.environ, ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}", **dict(pairs))


def inventory_config(cluster, folder: Path) -> Path:
    """The mlps_slurm plugin's file: the allocation's nodes, reached with the cluster's ssh settings."""
    path = folder / "allocation.mlps_slurm.yml"
    path.write_text(json.dumps({"plugin": "mlps_slurm", "host_vars": {
        "ansible_user": "root", "ansible_ssh_common_args": f"-F {cluster.ssh_config}",
        "ansible_control_path_dir": str(cluster.control_dir), "ansible_python_interpreter": cluster.python,
        "mlps_mpi_rsh_agent": f"ssh -F {cluster.ssh_config}"}}))
    return path


def training_vars(results: Path, data: Path, **extra) -> dict:
    staging = f"/var/tmp/mlps-slurm-{uuid.uuid4().hex[:8]}"
    return cluster_vars(mlps_results_dir=str(results), mlps_data_dir=str(data), mlps_training_system="faults",
                        mlps_training_staging_dir=staging, mlps_training_accelerators_per_host=1,
                        **{**TINY, "mlps_training_num_files_train": 18}, **extra)


def submit(cluster, folder: Path, results: Path, extra: dict, *more: str,
           playbook: str = "run_training.yml") -> subprocess.Popen:
    argv = [str(BIN / "mlps"), "slurm", "submit", str(ROOT / "playbooks" / playbook), "-N", "3",
            "--results", str(results), "--inventory-config", str(inventory_config(cluster, folder)), *more,
            "--", "-e", json.dumps(extra)]
    return subprocess.Popen(argv, cwd=ROOT, env=slurm_env(cluster), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def submitted(proc: subprocess.Popen, results: Path, timeout: float) -> tuple[int, str, Path]:
    """(exit code, job id, job folder) of `mlps slurm submit`."""
    out, err = proc.communicate(timeout=timeout)
    found = re.search(r"submitted job (\d+)", out)
    assert found, out + err
    (folder,) = (results / "slurm").iterdir()
    return proc.returncode, found.group(1), folder


def test_a_campaign_submitted_as_a_job_runs_on_the_allocation_through_srun(slurm_cluster3, cluster_venv, tmp_path,
                                                                           shm_data):
    results = tmp_path / "results"
    extra = training_vars(results, shm_data, mlps_launch_with="srun", mlps_facts_method="mpi", mlps_training_runs=1)
    rc, job, folder = submitted(submit(slurm_cluster3, tmp_path, results, extra, "--wait"), results, 900)
    assert rc == 0, (folder / f"slurm-{job}.out").read_text()[-4000:]
    record = json.loads((folder / "slurm_job.json").read_text())
    assert record["job_id"] == job and record["playbook_rc"] == 0
    assert record["scontrol"]["NodeList"] == "h[1-3]" and record["scontrol"]["NumNodes"] == "3"
    ended = json.loads((folder / "slurm_job_end.json").read_text())
    assert ended["sacct"][0]["JobID"] == job and ended["sacct"][0]["State"] == "COMPLETED", ended
    runs = live.leaves(results)
    assert runs and {live.metadata(leaf)["status"] for leaf in runs} == {"completed"}
    meta = live.metadata(runs[0])
    command = meta["argv"]
    assert command[0].endswith("srun") and f"--jobid={job}" in command and "--mpi=pmix" in command
    assert meta["ranks_per_host"] == {"h1": 1, "h2": 1, "h3": 1}
    # the allocation is the inventory: its job id is among the variables the capsule keeps
    (capsule,) = (results / "capsules").glob("training-*.json")
    assert f'"mlps_slurm_job_id": "{job}"' in capsule.read_text()
    facts = json.loads((results / "cluster_info_start.json").read_text())
    assert {host["facts"]["collection_method"] for host in facts["hosts"]} == {"mpi"}
    assert sorted(host["hostname"] for host in facts["hosts"]) == ["h1", "h2", "h3"]


def test_facts_over_mpirun_inside_a_job(slurm_cluster3, cluster_venv, tmp_path):
    """The other launcher: mpirun inside the allocation, its daemons started through Slurm. Its remote
    shell is set to one that always fails: the facts arrive only if mpirun never used it."""
    results = tmp_path / "results"
    extra = cluster_vars(mlps_results_dir=str(results), mlps_data_dir=str(tmp_path), mlps_facts_method="mpi",
                         mlps_mpi_rsh_agent="/bin/false")
    rc, job, folder = submitted(submit(slurm_cluster3, tmp_path, results, extra, "--wait", playbook="facts.yml"),
                                results, 300)
    assert rc == 0, (folder / f"slurm-{job}.out").read_text()[-3000:]
    facts = json.loads((results / "cluster_info.json").read_text())
    assert sorted(host["hostname"] for host in facts["hosts"]) == ["h1", "h2", "h3"]
    assert {host["facts"]["collection_method"] for host in facts["hosts"]} == {"mpi"}


def test_scancel_stops_the_campaign_as_an_interrupt_does(slurm_cluster3, cluster_venv, tmp_path, shm_data):
    results = tmp_path / "results"
    extra = training_vars(results, shm_data, mlps_launch_with="mpirun", mlps_training_runs=2)
    rc, job, folder = submitted(submit(slurm_cluster3, tmp_path, results, extra), results, 60)
    assert rc == 0
    live.wait_for(lambda: live.run_started(results, extra["mlps_training_staging_dir"], 1), 600, "run 1 to start")
    # let the samplers see the ranks (they look every 2 s): one that never saw them waits out its
    # start-up bound instead of following them out
    time.sleep(5)
    subprocess.run(["scancel", job], env=slurm_env(slurm_cluster3), check=True)
    live.wait_for((folder / "slurm_job.json").exists, 60, "the job's record")
    staging = extra["mlps_training_staging_dir"]
    try:
        live.wait_for(lambda: not live.processes(staging), 30, "the ranks and samplers to stop")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {live.processes(staging)}") from None
    record = json.loads((folder / "slurm_job.json").read_text())
    assert record["playbook_rc"] != 0
    first = live.metadata(live.leaves(results)[0])
    assert first["status"] == "interrupted", first
    # the other launcher than the submitted campaign's: mpirun, its daemons a step of the job
    argv = first["argv"]
    assert argv[argv.index("--mca") + 1:argv.index("--mca") + 3] == ["plm", "slurm"] and "plm_rsh_agent" not in argv


def test_preflight_refuses_clients_outside_the_allocation(slurm_cluster3, cluster_venv, tmp_path, shm_data):
    env = slurm_env(slurm_cluster3)
    granted = subprocess.run(["salloc", "-N", "2", "--no-shell"], env=env, capture_output=True, text=True,
                             timeout=60, check=True)
    job = re.search(r"Granted job allocation (\d+)", granted.stderr).group(1)
    try:
        # the static inventory names 3 clients; the allocation holds 2 of them
        run = run_playbook("preflight.yml", slurm_cluster3.inventory,
                           training_vars(tmp_path / "results", shm_data, mlps_launch_with="srun",
                                         mlps_slurm_job_id=job))
    finally:
        subprocess.run(["scancel", job], env=env, check=False)
    assert run.rc != 0
    rows = [row for row in json.loads((tmp_path / "results" / "preflight.json").read_text())["checks"]
            if row["name"] == "mpirun_launch" and row["ok"] is False]
    assert rows, run.messages()
    # srun refuses a node list beyond the allocation as a whole: no client answered
    assert {row["host"] for row in rows} == {"h1", "h2", "h3"}
    assert all(row["detail"].startswith("srun from h1 over 3 hosts got no rank") for row in rows), rows
    assert all(f"Slurm job {job}" in row["fix"] for row in rows), rows
