"""Inventory plugin mlps_slurm: the nodes of a running Slurm job are the clients.

Inside `salloc`/`sbatch` it reads the allocation from SLURM_JOB_NODELIST; given a job id it asks
squeue. Node lists are expanded by `scontrol show hostnames` (Slurm's own hostlist syntax has
corners a private parser would get wrong), and node details come from `scontrol show node -o`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: mlps_slurm
short_description: The nodes of a running Slurm job as the mlps clients
description:
  - "Reads a YAML file whose name ends in C(mlps_slurm.yml) or C(mlps_slurm.yaml) with C(plugin: mlps_slurm)."
  - Without O(job_id), uses the allocation of the job it runs in (C(SLURM_JOB_NODELIST) and
    C(SLURM_JOB_ID), set by salloc and sbatch). With O(job_id), asks squeue that the job is RUNNING
    and for its nodes; this works from outside the job, e.g. on a login node.
  - Every node of the job becomes a host of O(group), in Slurm's node order; the first is the
    launcher (where mpirun starts).
  - Per host it sets C(ansible_host) (the node's NodeAddr), C(mlps_slurm_cpus) (CPUTot),
    C(mlps_slurm_memory_mib) (RealMemory), C(mlps_slurm_partitions) (list), C(mlps_slurm_job_id),
    C(mlps_slurm_nodelist) (the job's node list as Slurm writes it), C(mlps_launcher) and
    C(mlps_inventory_source=slurm); then the variables of O(host_vars), which win.
requirements:
  - The Slurm client commands squeue and scontrol on the controller's PATH.
options:
  plugin:
    description: Marks the file as this plugin's.
    required: true
    choices: [mlps_slurm]
  job_id:
    description:
      - Id of a RUNNING job whose nodes are the clients. Unset, the job this runs inside.
    type: str
  group:
    description: Group the nodes join.
    type: str
    default: clients
  slurm_conf:
    description: slurm.conf for the commands (SLURM_CONF). Unset, Slurm's own default or the environment's.
    type: path
  host_vars:
    description: Variables set on every host after the discovered ones (ansible_user, ansible_ssh_common_args, ...).
    type: dict
    default: {}
  timeout:
    description: Seconds each squeue or scontrol call may take.
    type: int
    default: 30
"""

EXAMPLES = r"""
# clients.mlps_slurm.yml, used inside an allocation:
#   salloc -N 4 ansible-playbook -i clients.mlps_slurm.yml playbooks/training.yml
plugin: mlps_slurm
host_vars:
  ansible_user: mlperf

# job.mlps_slurm.yml, for a job started elsewhere (sbatch, another salloc):
# plugin: mlps_slurm
# job_id: "123456"
# group: clients
"""

SUFFIXES = ("mlps_slurm.yml", "mlps_slurm.yaml")
_JOB_ID = re.compile(r"^[0-9]+(_[0-9]+)?$")
# scontrol show node -o: "Key=value" tokens; a value may hold spaces (OS=Linux 6.1 #1 SMP ...).
_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z_]*)=")


def parse_node_line(line: str) -> dict[str, str]:
    keys = list(_KEY.finditer(line))
    fields = {}
    for index, match in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(line)
        fields[match.group(1)] = line[match.end() : end].strip()
    return fields


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class InventoryModule(BaseInventoryPlugin):
    NAME = "mlps_slurm"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._path = path
        job_id, nodelist = self._allocation()
        names = self._hostnames(nodelist)
        nodes = self._nodes(nodelist, names)
        group = self.inventory.add_group(self.get_option("group"))
        extra = self.get_option("host_vars") or {}
        for name in names:
            self.inventory.add_host(name, group=group)
            node = nodes[name]
            partitions = node.get("Partitions", "")
            for key, value in {
                "ansible_host": node.get("NodeAddr") or name,
                "mlps_slurm_cpus": _int(node.get("CPUTot")),
                "mlps_slurm_memory_mib": _int(node.get("RealMemory")),
                "mlps_slurm_partitions": [p for p in partitions.split(",") if p and p != "(null)"],
                "mlps_slurm_job_id": job_id,
                "mlps_slurm_nodelist": nodelist,
                "mlps_launcher": names[0],
                "mlps_inventory_source": "slurm",
                **extra,
            }.items():
                self.inventory.set_variable(name, key, value)

    # --- what Slurm says ---

    def _allocation(self) -> tuple[str | None, str]:
        """(job id, compressed node list) of the configured job, or of the job this runs in."""
        job_id = self.get_option("job_id")
        if job_id is None:
            nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
            if not nodelist:
                self._fail(
                    f"no Slurm allocation found for {self._path}: SLURM_JOB_NODELIST is not set and the file "
                    "gives no job_id; expected to run inside salloc or an sbatch script, or a job_id of a "
                    "RUNNING job: run under `salloc -N <nodes>`, or add `job_id: <id>` (see squeue --me)"
                )
            return os.environ.get("SLURM_JOB_ID"), nodelist
        job_id = str(job_id).strip()
        if not _JOB_ID.match(job_id):
            self._fail(f"job_id {job_id!r} in {self._path} is not a Slurm job id: expected digits such as 123456")
        out = self._run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%N"], unknown_job=job_id)
        lines = [line for line in out.splitlines() if line.strip()]
        if len(lines) != 1:
            self._fail(
                f"job_id {job_id} in {self._path} names {len(lines)} jobs (an array or heterogeneous job): "
                "expected one job: give one array task's id, such as 123456_1"
            )
        state, _, nodelist = lines[0].partition("|")
        if state != "RUNNING" or not nodelist:
            self._fail(
                f"Slurm job {job_id} (job_id in {self._path}) is {state or 'in no known state'}, "
                "expected RUNNING: give the id of a running job (squeue --me), or start one with salloc/sbatch"
            )
        return job_id, nodelist

    def _hostnames(self, nodelist: str) -> list[str]:
        names = self._run(["scontrol", "show", "hostnames", nodelist]).split()
        if not names:
            self._fail(f"`scontrol show hostnames {nodelist}` listed no nodes: expected the job's node names")
        return names

    def _nodes(self, nodelist: str, names: list[str]) -> dict[str, dict[str, str]]:
        """NodeName -> fields of `scontrol show node -o`, one call for the whole list."""
        out = self._run(["scontrol", "show", "node", "-o", nodelist])
        nodes = {}
        for line in out.splitlines():
            fields = parse_node_line(line)
            if "NodeName" in fields:
                nodes[fields["NodeName"]] = fields
        missing = [name for name in names if name not in nodes]
        if missing:
            self._fail(
                f"`scontrol show node -o {nodelist}` did not describe {', '.join(missing)}: expected every node of "
                "the job: check the nodes still exist (sinfo -N)"
            )
        return nodes

    def _run(self, argv: list[str], unknown_job: str | None = None) -> str:
        env = dict(os.environ)
        if self.get_option("slurm_conf"):
            env["SLURM_CONF"] = self.get_option("slurm_conf")
        timeout = self.get_option("timeout")
        where = f" (SLURM_CONF={env['SLURM_CONF']})" if "SLURM_CONF" in env else ""
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        except FileNotFoundError:
            self._fail(
                f"{argv[0]} not found on PATH for {self._path}: expected the Slurm client commands (squeue, "
                "scontrol): install them (Debian: slurm-client) or run on a node that has them"
            )
        except subprocess.TimeoutExpired:
            self._fail(
                f"`{shlex.join(argv)}` did not answer within {timeout}s{where}: expected slurmctld to answer: "
                "check `sinfo` works here, or raise timeout in the file"
            )
        detail = (proc.stderr or proc.stdout).strip().replace("\n", " | ")
        if proc.returncode != 0 and unknown_job and "Invalid job id" in detail:
            self._fail(
                f"Slurm does not know job {unknown_job} (job_id in {self._path}){where}: expected a RUNNING job "
                "(finished jobs are forgotten after MinJobAge): give the id of a running job (squeue --me)"
            )
        if proc.returncode != 0:
            self._fail(f"`{shlex.join(argv)}` exited {proc.returncode}{where}: {detail}: check `sinfo` works here")
        return proc.stdout

    @staticmethod
    def _fail(message: str):
        raise AnsibleParserError(message)
