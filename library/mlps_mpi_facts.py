#!/usr/bin/python
"""Ansible module: read the host facts an MPI collection gathered, or fall back to this host's own."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_mpi_facts
short_description: Read host facts gathered over mpirun, falling back to the launcher's own
description:
  - Second half of the MPI facts collection. The first half runs
    C(module_utils/mlps_mpi_collect.py) on one rank per host with M(mlps_mpirun), its standard
    output written to O(output); rank 0 prints every host's C(mlps-host-facts/1) document there
    as one C(MLPS-FACTS [...]) line. Run this module on the launcher (the host that ran mpirun).
  - When O(launch_error) is set (the launch failed or timed out) or O(output) holds no valid
    C(MLPS-FACTS) line, it collects this host alone, marks the document
    C(collection_method=local_fallback) with the reason in C(errors.mpi), returns every other
    host in C(missing) and emits a warning. The module itself fails only on bad arguments.
  - O(output) is removed once read unless O(keep_output) is set.
version_added: "0.1.0"
author: mlps developers
options:
  output:
    description: File holding the standard output of the mpirun launch, on this host.
    type: path
    required: true
  launch_error:
    description: Why the launch failed (the M(mlps_mpirun) C(msg)); empty when it succeeded.
    type: str
    default: ""
  hosts:
    description: Hosts the launch covered, this host (the launcher) first; the others are reported missing on fallback.
    type: list
    elements: str
    required: true
  paths:
    description: Absolute paths to statvfs in the fallback collection (as the ranks did).
    type: list
    elements: path
    default: []
  path_timeout:
    description: Seconds allowed for each path's statvfs in the fallback collection.
    type: float
    default: 5.0
  gather_cpus:
    description: Include the per-CPU list in the fallback collection.
    type: bool
    default: true
  keep_output:
    description: Leave O(output) in place (for debugging) instead of removing it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads and collects in check mode too; O(output) is then left in place.
notes:
  - The MPI launch and this module run from the launcher only, so clusters where Ansible reaches
    just a login node are still measured on every host.
"""

EXAMPLES = r"""
- name: Read what the ranks gathered, or fall back to the launcher
  mlps_mpi_facts:
    output: "{{ mlps_facts_mpi_output.path }}"
    launch_error: "{{ mlps_facts_mpi_run.msg if mlps_facts_mpi_run is failed else '' }}"
    hosts: [h1, h2, h3]
    paths: [/mnt/data]
"""

RETURN = r"""
facts:
  description: The C(mlps-host-facts/1) documents, one per rank (one per host), or the launcher's alone on fallback.
  type: list
  elements: dict
  returned: always
collection_method:
  description: C(mpi) when the ranks' facts were read, C(local_fallback) otherwise.
  type: str
  returned: always
  sample: mpi
missing:
  description: Hosts without facts and why (empty unless the collection fell back).
  type: dict
  returned: always
  sample: {h2: "not collected: MPI collection failed (mpirun exited with 1: ...)"}
"""

import contextlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_mpi_collect import gathered_or_fallback, read_output
from ansible.module_utils.mlps_params import fail_on_problems

ARGUMENT_SPEC = {
    "output": {"type": "path", "required": True},
    "launch_error": {"type": "str", "default": ""},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "paths": {"type": "list", "elements": "path", "default": []},
    "path_timeout": {"type": "float", "default": 5.0},
    "gather_cpus": {"type": "bool", "default": True},
    "keep_output": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    problems = []
    if not p["hosts"]:
        problems.append("hosts is empty: pass the hosts the launch covered, the launcher first")
    if not p["path_timeout"] > 0:
        problems.append(f"path_timeout={p['path_timeout']:g}: expected seconds above 0, such as 5")
    problems += [f"paths: {path!r} is not absolute; give an absolute path such as /mnt/data"
                 for path in p["paths"] if not path.startswith("/")]
    fail_on_problems(module, problems)
    result = gathered_or_fallback(read_output(p["output"]), p["launch_error"], p["hosts"], paths=p["paths"],
                                  path_timeout=p["path_timeout"], gather_cpus=p["gather_cpus"])
    for warning in result.pop("warnings"):
        module.warn(warning)
    if not (p["keep_output"] or module.check_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p["output"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
