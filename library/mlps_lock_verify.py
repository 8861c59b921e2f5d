#!/usr/bin/python
"""Ansible module: compare the packages installed in a client venv with the lock files."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_lock_verify
short_description: Compare installed package versions in the client venv with lock files
description:
  - Lists what the venv's interpreter has installed (importlib.metadata) and compares it with every
    pin of the given locks.
  - Never fails by itself; it returns every problem with the command that fixes it, so a play can
    collect problems from all hosts and fail once with the whole list.
  - VCS and URL requirements have no version to compare and are reported as unverifiable.
version_added: "0.1.0"
author: mlps developers
options:
  venv:
    description: Path of the client venv whose installed versions are compared.
    type: path
    required: true
  lock_names:
    description: File names of the locks (for messages).
    type: list
    elements: str
    required: true
  lock_contents:
    description: Contents of the locks to compare the venv with, in the order of O(lock_names).
    type: list
    elements: str
    required: true
  dlio_package:
    description: DLIO spec the venv was set up with; a different pin than the lock's is reported as overridden.
    type: str
    default: dlio_benchmark==2.0.0
attributes:
  check_mode:
    support: full
    description: Read-only; runs fully in check mode.
"""

EXAMPLES = r"""
- name: Compare the venv with the locks
  mlps_lock_verify:
    venv: /opt/mlps/venv
    lock_names: [client.lock]
    lock_contents: "{{ query('ansible.builtin.file', 'requirements/client.lock') }}"
"""

RETURN = r"""
ok:
  description: True when nothing is missing or mismatched.
  type: bool
  returned: always
problems:
  description: One entry per package that does not match (name, status, expected, found, fix, lock).
  type: list
  elements: dict
  returned: always
errors:
  description: Missing and mismatched packages, one line each with the fix.
  type: list
  elements: str
  returned: always
notes:
  description: Unverifiable (VCS/URL) and deliberately overridden packages, one line each.
  type: list
  elements: str
  returned: always
"""

import json
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_lock import INSTALLED_SNIPPET, compare, is_error, parse_lock
from ansible.module_utils.mlps_venv import extra_specs


def main():
    module = AnsibleModule(
        argument_spec={
            "venv": {"type": "path", "required": True},
            "lock_names": {"type": "list", "elements": "str", "required": True},
            "lock_contents": {"type": "list", "elements": "str", "required": True},
            "dlio_package": {"type": "str", "default": "dlio_benchmark==2.0.0"},
        },
        supports_check_mode=True,
    )
    p = module.params
    python = os.path.join(p["venv"], "bin", "python")
    pip = os.path.join(p["venv"], "bin", "pip")
    if not os.access(python, os.X_OK):
        message = f"no venv at {p['venv']} -> fix: ansible-playbook -i <inventory> playbooks/setup.yml"
        module.exit_json(changed=False, ok=False, errors=[message], notes=[],
                         problems=[{"name": "*", "status": "missing", "expected": "venv", "found": None,
                                    "fix": "ansible-playbook -i <inventory> playbooks/setup.yml", "lock": ""}])
    proc = subprocess.run([python, "-c", INSTALLED_SNIPPET], capture_output=True, text=True, check=False,
                          env=dict(os.environ, LC_ALL="C"))
    if proc.returncode != 0:
        module.fail_json(msg=f"{python} cannot list its packages: {proc.stderr.strip()[-200:]}")
    installed = json.loads(proc.stdout)
    problems = []
    for name, text in zip(p["lock_names"], p["lock_contents"]):
        lock = parse_lock(text)
        overridden = [spec.split("==")[0].split("@")[0].strip()
                      for spec in extra_specs(p["dlio_package"], lock["entries"])]
        overridden = [name_ for name_ in overridden if any(e["key"] == name_.replace("_", "-").lower()
                                                            for e in lock["entries"])]
        for problem in compare(lock["entries"], installed, pip=pip, overridden=tuple(overridden)):
            problems.append(dict(problem, lock=name))
    errors, notes = [], []
    for problem in problems:
        fix = f" -> fix: {problem['fix']}" if problem["fix"] else ""
        line = (f"{problem['lock']}: {problem['status']} {problem['name']}: expected "
                f"{problem['expected']}, found {problem['found']}{fix}")
        (errors if is_error(problem) else notes).append(line)
    module.exit_json(changed=False, ok=not errors, problems=problems, errors=errors, notes=notes)


if __name__ == "__main__":
    main()
