"""inventory_plugins/mlps_slurm.py on a real Slurm (slurm_cluster3): inside salloc, with a job id
from outside the job, with a node list Slurm compresses, and for a job that is over."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.cluster import procs
from tests.cluster.cluster import Cluster
from tests.integration.playbook import ADHOC_RESULT, controller_tool

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]


def _plain(value):
    """ansible-inventory --list marks strings from an inventory plugin as unsafe: {"__ansible_unsafe": s}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class Slurm:
    """The cluster, an environment whose Slurm commands use its slurm.conf, and config files."""

    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
        self.env = {
            **env,
            "SLURM_CONF": str(cluster.slurm_paths.conf),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        }

    def config(self, name: str, **options: object) -> Path:
        host_vars = {
            "ansible_user": "root",
            "ansible_ssh_common_args": shlex.join(["-F", str(self.cluster.ssh_config)]),
            "ansible_control_path_dir": str(self.cluster.control_dir),
            "ansible_python_interpreter": self.cluster.python,
        }
        path = self.workdir / f"{name}.mlps_slurm.yml"
        path.write_text(yaml.safe_dump({"plugin": "mlps_slurm", "host_vars": host_vars, **options}))
        return path

    def run(self, argv: list[str], timeout: float = 90, conf: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "SLURM_CONF": str(conf)} if conf else self.env
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=self.workdir,
                              timeout=timeout, check=False)  # fmt: skip

    def listing(self, config: Path, *, inside: list[str] = ()) -> dict:
        proc = self.run([*inside, controller_tool("ansible-inventory"), "-i", str(config), "--list"])
        assert proc.returncode == 0, proc.stderr
        return _plain(json.loads(proc.stdout))

    def ping(self, config: Path, *, inside: list[str] = ()) -> dict[str, str]:
        proc = self.run([*inside, controller_tool("ansible"), "-i", str(config), "clients", "-m",
                         "ansible.builtin.ping"])
        return dict(ADHOC_RESULT.findall(proc.stdout)) or {"(none)": proc.stdout + proc.stderr}

    def state(self, job_id: str) -> str:
        return self.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"], timeout=15).stdout.strip()


@pytest.fixture(scope="module")
def slurm(slurm_cluster3: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Slurm:
    return Slurm(slurm_cluster3, tmp_path_factory.mktemp("slurm-inventory"))


@pytest.fixture(scope="module")
def in_salloc(slurm: Slurm) -> dict:
    """One `salloc -N 2` that records its job, lists the inventory and pings the hosts from inside."""
    config = slurm.config("inside")
    job_file = slurm.workdir / "job.txt"
    script = 'printf "%s %s\\n" "$SLURM_JOB_ID" "$SLURM_JOB_NODELIST" > "$1" && shift && exec "$@"'
    inside = ["salloc", "-N", "2", "sh", "-c", script, "salloc-job", str(job_file)]
    listing = slurm.listing(config, inside=inside)
    first_job = job_file.read_text().split()
    ping = slurm.ping(config, inside=["salloc", "-N", "3", "sh", "-c", script, "salloc-job", str(job_file)])
    return {"config": config, "listing": listing, "job_id": first_job[0], "nodelist": first_job[1], "ping": ping}


def test_the_cluster_runs_slurm_on_every_host(slurm: Slurm) -> None:
    status = slurm.cluster.status()
    assert status["healthy"] and status["slurm_nodes"] == {"h1": "idle", "h2": "idle", "h3": "idle"}, status
    srun = slurm.run(["srun", "-N", "3", "hostname"], timeout=30)
    assert sorted(srun.stdout.split()) == ["h1", "h2", "h3"], srun.stderr
    assert (slurm.cluster.dir / "slurm.env").read_text() == f"SLURM_CONF={slurm.cluster.slurm_paths.conf}\n"


def test_inside_salloc_the_allocated_hosts_are_the_clients(slurm: Slurm, in_salloc: dict) -> None:
    listing, info = in_salloc["listing"], slurm.cluster.slurm_info
    expected = slurm.run(["scontrol", "show", "hostnames", in_salloc["nodelist"]]).stdout.split()
    assert len(expected) == 2
    assert listing["clients"]["hosts"] == expected
    hostvars = listing["_meta"]["hostvars"]
    for name in expected:
        assert hostvars[name]["ansible_host"] == slurm.cluster.host(name).ip
        assert hostvars[name]["mlps_slurm_cpus"] == info["cpus"]
        assert hostvars[name]["mlps_slurm_memory_mib"] == info["real_memory"]
        assert hostvars[name]["mlps_slurm_partitions"] == [info["partition"]]
        assert hostvars[name]["mlps_slurm_job_id"] == in_salloc["job_id"]
        assert hostvars[name]["mlps_launcher"] == expected[0]
        assert hostvars[name]["mlps_inventory_source"] == "slurm"


def test_ansible_reaches_every_allocated_host_over_the_cluster_ssh(in_salloc: dict) -> None:
    assert in_salloc["ping"] == {"h1": "SUCCESS", "h2": "SUCCESS", "h3": "SUCCESS"}


def test_a_job_id_from_outside_the_job_and_a_compressed_node_list(slurm: Slurm) -> None:
    submit = slurm.run(["sbatch", "--parsable", "-w", "h1,h3", "-o", "/dev/null", "--wrap", "sleep 120"])
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.strip().split(";")[0]
    try:
        deadline = time.monotonic() + 30
        while slurm.state(job_id) != "RUNNING":
            assert time.monotonic() < deadline, f"job {job_id} not RUNNING after 30s: {slurm.state(job_id)}"
            time.sleep(0.2)
        config = slurm.config("byid", job_id=job_id)
        listing = slurm.listing(config)
        assert listing["clients"]["hosts"] == ["h1", "h3"]
        assert listing["_meta"]["hostvars"]["h3"]["mlps_slurm_nodelist"] == "h[1,3]"
        assert listing["_meta"]["hostvars"]["h3"]["mlps_slurm_job_id"] == job_id
        assert listing["_meta"]["hostvars"]["h3"]["mlps_launcher"] == "h1"
        assert slurm.ping(config) == {"h1": "SUCCESS", "h3": "SUCCESS"}
    finally:
        slurm.run(["scancel", job_id], timeout=15)


def test_a_finished_job_is_one_line_saying_what_to_do(slurm: Slurm, in_salloc: dict) -> None:
    job_id = in_salloc["job_id"]
    config = slurm.config("finished", job_id=job_id)
    proc = slurm.run([controller_tool("ansible-inventory"), "-i", str(config), "--list"])
    assert proc.returncode != 0  # unparsed_is_failed: no play runs on an empty inventory
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"Slurm job {job_id} (job_id in {config})")]
    assert lines, proc.stderr
    assert re.fullmatch(r".* is (COMPLETED|COMPLETING), expected RUNNING: give the id of a running job .*", lines[0])


def test_outside_any_job_without_job_id_is_one_line(slurm: Slurm, in_salloc: dict) -> None:
    proc = slurm.run([controller_tool("ansible-inventory"), "-i", str(in_salloc["config"]), "--list"])
    assert proc.returncode != 0
    assert any(line.startswith("no Slurm allocation found for ") for line in proc.stderr.splitlines()), proc.stderr


def test_a_second_slurm_cluster_runs_beside_and_leaves_nothing(slurm: Slurm, cluster_factory) -> None:
    other = cluster_factory(2, slurm=True)
    assert other.slurm_info["port"] != slurm.cluster.slurm_info["port"]
    srun = slurm.run(["srun", "-N", "2", "hostname"], timeout=30, conf=other.slurm_paths.conf)
    assert sorted(srun.stdout.split()) == ["h1", "h2"], srun.stderr
    # a job still running at teardown is stopped with the daemons
    job = slurm.run(["sbatch", "--parsable", "-N", "2", "-o", "/dev/null", "--wrap", "sleep 300"],
                    timeout=30, conf=other.slurm_paths.conf)  # fmt: skip
    assert job.returncode == 0, job.stderr
    daemons = [other.slurm_info["munged_pid"], other.slurm_info["slurmctld_pid"]] + [h.slurmd_pid for h in other.hosts]
    other.down()
    assert other.leftovers() == []
    assert not any(procs.exists(pid) for pid in daemons)
    assert not other.slurm_paths.munge.exists() and not other.slurm_paths.env.exists()
    assert other.slurm_paths.conf.exists()  # kept for a post-mortem, with the logs
    # the first cluster did not notice
    assert slurm.run(["srun", "-N", "3", "hostname"], timeout=30).returncode == 0
