"""inventory_plugins/mlps_slurm.py with its Slurm commands faked (only subprocess.run is replaced):
what it asks Slurm, the hosts and variables it makes, and its one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

REPO = Path(__file__).resolve().parents[2]
NODE = (
    "NodeName={name} Arch=x86_64 CoresPerSocket=4  CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=0.10 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr={addr} NodeHostName={name} "
    "Version=22.05.8 OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  "
    "RealMemory=64000 AllocMem=0 FreeMem=60000 Sockets=2 Boards=1 State=ALLOCATED ThreadsPerCore=1 "
    "TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions={parts}  BootTime=2026-12-01T10:00:25 "
    "CfgTRES=cpu=8,mem=64000M,billing=8 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0"
)


class FakeSlurm:
    """Answers squeue/scontrol argv lists like a cluster with nodes n01..n04 (n0X at 10.0.0.X)."""

    def __init__(self, jobs: dict[str, str] | None = None) -> None:
        self.jobs = jobs or {}
        self.calls: list[dict] = []
        self.error: BaseException | None = None

    def __call__(self, argv, **kwargs):
        assert isinstance(argv, list) and not kwargs.get("shell"), "argv lists only"
        assert kwargs.get("timeout"), "every call is bounded"
        self.calls.append({"argv": argv, **kwargs})
        if self.error:
            raise self.error
        if argv[:2] == ["squeue", "-h"]:
            job = argv[argv.index("-j") + 1]
            if job not in self.jobs:
                return subprocess.CompletedProcess(argv, 1, "", "slurm_load_jobs error: Invalid job id specified\n")
            return subprocess.CompletedProcess(argv, 0, self.jobs[job], "")
        if argv[:3] == ["scontrol", "show", "hostnames"]:
            return subprocess.CompletedProcess(argv, 0, "\n".join(self._expand(argv[3])) + "\n", "")
        if argv[:4] == ["scontrol", "show", "node", "-o"]:
            lines = [NODE.format(name=n, addr=f"10.0.0.{n[-1]}", parts="batch,debug") for n in self._expand(argv[4])]
            return subprocess.CompletedProcess(argv, 0, "\n".join(lines) + "\n", "")
        raise AssertionError(f"unexpected command {argv}")

    @staticmethod
    def _expand(nodelist: str) -> list[str]:
        return {"n[01-02]": ["n01", "n02"], "n[01,03-04]": ["n01", "n03", "n04"], "n02": ["n02"]}[nodelist]


@pytest.fixture
def slurm(monkeypatch) -> FakeSlurm:
    fake = FakeSlurm()
    monkeypatch.setattr(subprocess, "run", fake)
    for name in ("SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_JOB_ID", "SLURM_CONF"):
        monkeypatch.delenv(name, raising=False)
    return fake


def parse(tmp_path: Path, config: dict, name: str = "cfg.mlps_slurm.yml") -> InventoryData:
    inventory_loader.add_directory(str(REPO / "inventory_plugins"))
    plugin = inventory_loader.get("mlps_slurm")
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"plugin": "mlps_slurm", **config}))
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path))
    return inventory


def host_vars(inventory: InventoryData, name: str) -> dict:
    return dict(inventory.get_host(name).vars)


def error_of(tmp_path: Path, config: dict) -> str:
    with pytest.raises(AnsibleParserError) as caught:
        parse(tmp_path, config)
    message = caught.value.message
    assert "\n" not in message, message
    return message


def test_inside_an_allocation_the_job_nodes_are_the_clients(tmp_path, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_NODELIST", "n[01-02]")
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    inventory = parse(tmp_path, {})
    assert [h.name for h in inventory.groups["clients"].get_hosts()] == ["n01", "n02"]
    first = host_vars(inventory, "n01")
    assert first["ansible_host"] == "10.0.0.1"
    assert first["mlps_slurm_cpus"] == 8 and first["mlps_slurm_memory_mib"] == 64000
    assert first["mlps_slurm_partitions"] == ["batch", "debug"]
    assert first["mlps_slurm_job_id"] == "77" and first["mlps_slurm_nodelist"] == "n[01-02]"
    assert first["mlps_inventory_source"] == "slurm"
    assert host_vars(inventory, "n02")["mlps_launcher"] == "n01" == first["mlps_launcher"]
    # no squeue inside the job; the list is expanded by Slurm, the nodes described in one call
    assert [c["argv"] for c in slurm.calls] == [
        ["scontrol", "show", "hostnames", "n[01-02]"],
        ["scontrol", "show", "node", "-o", "n[01-02]"],
    ]


def test_a_job_id_is_asked_for_and_host_vars_win(tmp_path, slurm):
    slurm.jobs["123"] = "RUNNING|n[01,03-04]\n"
    config = {"job_id": 123, "group": "bench", "slurm_conf": "/etc/other/slurm.conf", "timeout": 7,
              "host_vars": {"ansible_user": "mlperf", "ansible_host": "n01.ib"}}  # fmt: skip
    inventory = parse(tmp_path, config)
    assert [h.name for h in inventory.groups["bench"].get_hosts()] == ["n01", "n03", "n04"]
    assert host_vars(inventory, "n04")["ansible_user"] == "mlperf"
    assert host_vars(inventory, "n04")["ansible_host"] == "n01.ib"
    assert host_vars(inventory, "n03")["mlps_slurm_job_id"] == "123"
    assert slurm.calls[0]["argv"] == ["squeue", "-h", "-t", "all", "-j", "123", "-o", "%T|%N"]
    assert all(c["env"]["SLURM_CONF"] == "/etc/other/slurm.conf" and c["timeout"] == 7 for c in slurm.calls)


def test_outside_any_job_without_job_id_says_what_to_do(tmp_path, slurm):
    message = error_of(tmp_path, {})
    assert message.startswith("no Slurm allocation found for ") and "SLURM_JOB_NODELIST is not set" in message
    assert "salloc" in message and "job_id" in message
    assert slurm.calls == []


@pytest.mark.parametrize(("answer", "said"), [("COMPLETED|n02\n", "is COMPLETED, expected RUNNING"),
                                              ("PENDING|\n", "is PENDING, expected RUNNING")])  # fmt: skip
def test_a_job_that_is_not_running_is_refused(tmp_path, slurm, answer, said):
    slurm.jobs["55"] = answer
    message = error_of(tmp_path, {"job_id": "55"})
    assert message.startswith("Slurm job 55 (job_id in ") and said in message and "squeue --me" in message


def test_a_job_slurm_forgot_is_refused(tmp_path, slurm):
    message = error_of(tmp_path, {"job_id": "99"})
    assert message.startswith("Slurm does not know job 99") and "expected a RUNNING job" in message


def test_an_array_job_is_refused(tmp_path, slurm):
    slurm.jobs["60"] = "RUNNING|n01\nRUNNING|n02\n"
    assert "names 2 jobs" in error_of(tmp_path, {"job_id": "60"})


@pytest.mark.parametrize("job_id", ["12; rm -rf /", "-x", "abc"])
def test_a_job_id_that_is_no_id_never_reaches_slurm(tmp_path, slurm, job_id):
    assert "is not a Slurm job id" in error_of(tmp_path, {"job_id": job_id})
    assert slurm.calls == []


def test_missing_scontrol_is_one_line(tmp_path, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_NODELIST", "n02")
    slurm.error = FileNotFoundError(2, "No such file or directory", "scontrol")
    message = error_of(tmp_path, {})
    assert message.startswith("scontrol not found on PATH") and "slurm-client" in message


def test_a_silent_controller_is_one_line(tmp_path, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_NODELIST", "n02")
    slurm.error = subprocess.TimeoutExpired(["scontrol"], 3)
    message = error_of(tmp_path, {"timeout": 3, "slurm_conf": "/x/slurm.conf"})
    assert "did not answer within 3s (SLURM_CONF=/x/slurm.conf)" in message


def test_a_node_scontrol_does_not_describe_is_named(tmp_path, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_NODELIST", "n[01-02]")
    real = slurm.__call__

    def only_first(argv, **kwargs):
        done = real(argv, **kwargs)
        if argv[:3] == ["scontrol", "show", "node"]:
            done.stdout = done.stdout.splitlines()[0] + "\n"
        return done

    monkeypatch.setattr(subprocess, "run", only_first)
    assert "did not describe n02" in error_of(tmp_path, {})


def test_node_lines_keep_values_with_spaces():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("mlps_slurm_plugin", REPO / "inventory_plugins" / "mlps_slurm.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    fields = module.parse_node_line(NODE.format(name="n01", addr="10.0.0.1", parts="batch"))
    assert fields["OS"] == "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
    assert fields["CfgTRES"] == "cpu=8,mem=64000M,billing=8" and fields["AllocTRES"] == ""
    assert fields["Partitions"] == "batch" and fields["RealMemory"] == "64000"
    # the documented options are the ones the plugin reads
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert all(isinstance(line, str) for line in doc["description"])
    options = doc["options"]
    assert set(options) == {"plugin", "job_id", "group", "slurm_conf", "host_vars", "timeout"}


def test_only_its_own_config_files_are_taken(tmp_path):
    inventory_loader.add_directory(str(REPO / "inventory_plugins"))
    plugin = inventory_loader.get("mlps_slurm")
    for name, taken in (("a.mlps_slurm.yml", True), ("a.mlps_slurm.yaml", True), ("hosts.yml", False)):
        (tmp_path / name).write_text("plugin: mlps_slurm\n")
        assert plugin.verify_file(str(tmp_path / name)) is taken
