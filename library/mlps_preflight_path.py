#!/usr/bin/python
"""Ansible module: create a directory (and a sentinel file in it) or remove a file, bounded in time."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_preflight_path
short_description: Create the preflight's directories and sentinel, or remove a file, within a timeout
description:
  - The preflight's writes on user paths (the results directory on the controller, the data
    directory and its shared-filesystem sentinel on the launcher, the sentinel's removal). Each one
    runs in a child process bounded by O(timeout), so a hung NFS or FUSE mount fails this task
    with the path and host named (for example C(h1 - /mnt/x did not answer mkdir within 5 s))
    instead of hanging the play as M(ansible.builtin.file) would.
  - With O(state=directory) the directory is created with its parents (mode 0755) and, when O(file)
    is given, the file O(file) is written inside it with O(content).
  - With O(state=absent) the file O(path) is removed when it exists.
version_added: "0.1.0"
author: mlps developers
options:
  path:
    description: Absolute path of the directory to create, or of the file to remove.
    type: path
    required: true
  state:
    description: V(directory) creates O(path) (and O(file) in it); V(absent) removes the file O(path).
    type: str
    choices: [directory, absent]
    default: directory
  file:
    description: Name of a file to write inside the directory (V("") = none). A plain name, no slash.
    type: str
    default: ""
  content:
    description: Content of O(file).
    type: str
    default: ""
  timeout:
    description: Seconds allowed for the whole operation.
    type: float
    default: 5.0
attributes:
  check_mode:
    support: full
    description: >-
      In check mode nothing is created, written or removed. A caller that needs the scratch O(file)
      in check mode (the preflight's shared-filesystem sentinel) runs that task with C(check_mode: false).
"""

EXAMPLES = r"""
- name: Create the data directory and write the sentinel into it
  mlps_preflight_path:
    path: /mnt/mlps/data
    file: .mlps-preflight-0123abcd
    content: "0123abcd\n"
    timeout: 5

- name: Remove the sentinel
  mlps_preflight_path:
    path: /mnt/mlps/data/.mlps-preflight-0123abcd
    state: absent
"""

RETURN = r"""
target:
  description: >-
    The path the module worked on (not named C(path): Ansible would stat a returned C(path), and a
    hung mount would hang that stat).
  type: str
  returned: always
written:
  description: Path of the file written inside the directory (null when none).
  type: str
  returned: when state is directory
created:
  description: >-
    True when the directory did not exist (it was created, or in check mode would be); stays true
    where C(changed_when) hides RV(changed).
  type: bool
  returned: when state is directory
hung:
  description: True when the path did not answer within O(timeout).
  type: bool
  returned: always
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_procfs import run_bounded


def make_directory(path, name, content, check_mode):
    """Runs in a bounded child: (changed, written file or None)."""
    changed = not os.path.isdir(path)
    if changed and not check_mode:
        os.makedirs(path, mode=0o755, exist_ok=True)
    if not name:
        return changed, None
    if check_mode:
        return changed, None
    target = os.path.join(path, name)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return changed, target


def remove_file(path, check_mode):
    """Runs in a bounded child: changed."""
    if not os.path.lexists(path):
        return False
    if not check_mode:
        os.unlink(path)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["directory", "absent"], "default": "directory"},
            "file": {"type": "str", "default": ""},
            "content": {"type": "str", "default": ""},
            "timeout": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not p["path"].startswith("/"):
        module.fail_json(msg=f"path={p['path']!r}: expected an absolute path such as /mnt/mlps/data", hung=False)
    if "/" in p["file"] or p["file"] in (".", ".."):
        module.fail_json(msg=f"file={p['file']!r}: expected a plain file name without a slash", hung=False)
    if not p["timeout"] > 0:
        module.fail_json(msg=f"timeout={p['timeout']:g}: expected seconds above 0, such as 5", hung=False)
    if p["state"] == "directory":
        job, what = (make_directory, (p["path"], p["file"], p["content"], module.check_mode)), "mkdir"
    else:
        job, what = (remove_file, (p["path"], module.check_mode)), "unlink"
    outcome = run_bounded({what: job}, p["timeout"])[what]
    host = socket.gethostname()
    if outcome["timed_out"]:
        module.fail_json(msg=f"{host}: {p['path']} did not answer {what} within {p['timeout']:g} s (hung mount?); "
                             f"check the mount (mount | grep {os.path.dirname(p['path'])})",
                         target=p["path"], hung=True)
    if outcome["error"]:
        module.fail_json(msg=f"{host}: {what} {p['path']} failed: {outcome['error']}", target=p["path"], hung=False)
    if p["state"] == "directory":
        changed, written = outcome["value"]
        module.exit_json(changed=changed, created=changed, target=p["path"], written=written, hung=False)
    module.exit_json(changed=outcome["value"], target=p["path"], hung=False)


if __name__ == "__main__":
    main()
