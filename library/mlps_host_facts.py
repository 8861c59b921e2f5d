#!/usr/bin/python
"""Ansible module: host facts from /proc, /sys and /etc as ansible_facts.mlps_host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_host_facts
short_description: Gather mlps host facts (memory, CPUs, disks, network, mounts) from /proc
description:
  - Reads /proc, /sys and /etc on the target and returns them as the C(mlps-host-facts/1) document
    in C(ansible_facts.mlps_host) (schema in docs/schemas.md), for the cluster model and the rules.
  - A missing or unreadable source becomes an entry in C(errors) and every other source is still
    collected; lines a parser cannot read are counted in C(skipped). The module never fails
    because of what it finds on the host.
  - Each path in O(paths) gets its mount (longest mountpoint prefix of its real path, or of its
    first existing parent when it does not exist yet) and its statvfs figures. Each path is probed
    in a child process bounded by O(path_timeout) (killed, or abandoned when the kernel holds it),
    so a hung NFS or FUSE mount gives that path the error C(statvfs timed out after Ns) instead of
    hanging the play, and the module still exits.
  - Read-only, so it runs fully in check mode.
version_added: "0.1.0"
author: mlps developers
options:
  paths:
    description:
      - Absolute paths to locate among the mounts and measure with statvfs, such as the data
        directory and the results directory.
    type: list
    elements: path
    default: []
  path_timeout:
    description: Seconds allowed for each path's probe (all paths are probed in parallel).
    type: float
    default: 5.0
  root:
    description:
      - Directory holding the proc/, sys/ and etc/ trees to read. V(/) is the live host; any other
        directory is read as a saved snapshot (a copied /proc or a sosreport), recorded with
        C(collection_method=snapshot) and without statvfs of O(paths).
    type: path
    default: /
  gather_cpus:
    description: Include the per-CPU list C(cpuinfo.cpus); the summary is always returned.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Read-only; runs fully in check mode.
notes:
  - The same collector runs without Ansible as C(python3 module_utils/mlps_procfs.py --root DIR).
"""

EXAMPLES = r"""
- name: Gather host facts with the data and results directories
  mlps_host_facts:
    paths:
      - /mnt/data
      - /srv/results
    path_timeout: 5

- name: Read a copied /proc tree instead of the live host, without the per-CPU list
  mlps_host_facts:
    root: /tmp/sosreport-h1
    gather_cpus: false
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    mlps_host:
      description:
        - The C(mlps-host-facts/1) document, with C(collection_method=ssh) for the live host.
        - Keys include hostname, machine_id, boot_id, collected_at, kernel, os_release, meminfo
          (bytes), cpuinfo (summary, cpus, machine), loadavg, uptime, stat_cpu, stat, vmstat,
          diskstats, net_dev, net_mtu, mounts, mountinfo, cgroups, paths, errors, skipped and
          collector (with duration_ms).
      type: dict
      returned: always
      sample:
        schema: mlps-host-facts/1
        hostname: h1
        machine_id: 3d1219c7c4c5404aaa1f6d2a48adfda4
        collection_method: ssh
        meminfo: {MemTotal: 25276502016}
        cpuinfo:
          summary: {model: AMD EPYC, architecture: x86_64, sockets: 1, physical_cores: 2,
                    logical_cpus: 2, topology_source: cpuinfo}
        errors: {}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_params import fail_on_problems
from ansible.module_utils.mlps_procfs import collect, is_live

ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "path", "default": []},
    "path_timeout": {"type": "float", "default": 5.0},
    "root": {"type": "path", "default": "/"},
    "gather_cpus": {"type": "bool", "default": True},
}


def _problems(params) -> list:
    problems = []
    if not params["path_timeout"] > 0:
        problems.append(f"path_timeout={params['path_timeout']:g}: expected seconds above 0, such as 5")
    if not params["root"].startswith("/"):
        problems.append(f"root={params['root']}: expected an absolute directory such as /")
    problems += [f"paths: {p!r} is not absolute; give an absolute path such as /mnt/data"
                 for p in params["paths"] if not p.startswith("/")]
    return problems


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    fail_on_problems(module, _problems(params))
    live = is_live(params["root"])
    facts = collect(root=params["root"], paths=params["paths"], path_timeout=params["path_timeout"],
                    gather_cpus=params["gather_cpus"], method="ssh" if live else "snapshot")
    if not live and facts["errors"].get("meminfo") and facts["errors"].get("cpuinfo"):
        # Not a proc tree at all: say so, rather than return a document of errors.
        module.fail_json(msg=f"root={params['root']}: no readable proc/meminfo or proc/cpuinfo under it; "
                             "expected / or a copied /proc tree (with proc/ and etc/)",
                         errors=facts["errors"])
    module.exit_json(changed=False, ansible_facts={"mlps_host": facts})


if __name__ == "__main__":
    main()
