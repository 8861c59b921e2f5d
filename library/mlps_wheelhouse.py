#!/usr/bin/python
"""Ansible module: download every wheel of the lock files into a directory, once."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_wheelhouse
short_description: Fill a wheelhouse from mlps lock files so clients install without an index
description:
  - Runs C(pip download --no-deps) for every pin of the given locks into O(path), checking hashes
    when every pin has one, and writes a marker keyed by the locks' content.
  - A later run with the same locks changes nothing and downloads nothing.
  - Meant for clients that cannot reach a package index (air-gapped clusters, the namespace test
    cluster); the clients then install with C(--no-index --find-links) the wheelhouse.
  - The interpreter running pip must match the Python version and platform the locks were made for.
version_added: "0.1.0"
author: mlps developers
options:
  path:
    description: Wheelhouse directory.
    type: path
    required: true
  python:
    description: Interpreter whose pip downloads (same Python and platform as the clients).
    type: str
    default: python3
  lock_names:
    description: File names of the locks.
    type: list
    elements: str
    required: true
  lock_contents:
    description: Contents of the locks, same order as O(lock_names).
    type: list
    elements: str
    required: true
  pip_args:
    description: Extra pip arguments (index URL, proxy).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds allowed for the download.
    type: int
    default: 1800
attributes:
  check_mode:
    support: full
    description: Reports whether a download would happen; creates and writes nothing.
"""

EXAMPLES = r"""
- name: Fetch the client wheels on the controller
  mlps_wheelhouse:
    path: /srv/mlps/wheelhouse
    lock_names: [client.lock]
    lock_contents: "{{ query('ansible.builtin.file', 'requirements/client.lock') }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
cmd:
  description: The pip argv that ran or would run.
  type: list
  elements: str
  returned: when a download ran or would run
wheels:
  description: Number of files in the wheelhouse.
  type: int
  returned: always
"""

import json
import os
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_lock import INSTALL_OPTIONS, parse_lock
from ansible.module_utils.mlps_venv import install_key, marker_matches

MARKER = ".mlps-wheelhouse.json"


ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    **INSTALL_OPTIONS,
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    key = install_key(p["lock_contents"], [], "wheelhouse", "download")
    marker = os.path.join(p["path"], MARKER)
    existing = None
    if os.path.exists(marker):
        with open(marker) as handle:
            existing = handle.read()

    def count():
        return len([n for n in os.listdir(p["path"]) if not n.startswith(".")]) if os.path.isdir(p["path"]) else 0

    if marker_matches(existing, key):
        module.exit_json(changed=False, wheels=count())
    parsed = [parse_lock(text) for text in p["lock_contents"]]
    for name, lock in zip(p["lock_names"], parsed):
        if lock["errors"]:
            module.fail_json(msg=f"lock {name}: {lock['errors'][0]}")
    hashed = all(e["hashes"] for lock in parsed for e in lock["entries"])
    if not module.check_mode:
        os.makedirs(p["path"], exist_ok=True)
    paths = []
    for name, text in zip(p["lock_names"], p["lock_contents"]):
        path = os.path.join(p["path"], "." + os.path.basename(name))
        paths.append(path)
        if not module.check_mode:
            with open(path, "w") as handle:
                handle.write(text)
    argv = [p["python"], "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", p["path"]]
    argv += ["--require-hashes"] if hashed else []
    for path in paths:
        argv += ["-r", path]
    argv += p["pip_args"]
    if module.check_mode:
        module.exit_json(changed=True, cmd=argv, wheels=count())
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=p["timeout"], check=False,
                              env=dict(os.environ, LC_ALL="C"))
    except subprocess.TimeoutExpired:
        module.fail_json(msg=f"pip download did not finish within {p['timeout']} s", cmd=argv)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        module.fail_json(msg=f"pip download failed (rc={proc.returncode}): {tail}; check the controller's index "
                             "access or mlps_env_pip_extra_args", cmd=argv)
    fd, tmp = tempfile.mkstemp(dir=p["path"], prefix=".mlps-wheelhouse.")
    with os.fdopen(fd, "w") as handle:
        json.dump({"schema": "mlps-env-marker/1", "key": key, "locks": p["lock_names"]}, handle)
    os.replace(tmp, marker)  # last: only a complete wheelhouse carries the marker
    module.exit_json(changed=True, cmd=argv, wheels=count())


if __name__ == "__main__":
    main()
