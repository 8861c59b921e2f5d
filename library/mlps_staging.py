#!/usr/bin/python
"""Ansible module: create a staging folder on a client only under folders nobody else can change."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_staging
short_description: Create a campaign's staging folder safely on a shared client
description:
  - Checks every folder from C(/) down to O(path) - owned by root or the running user, and not
    group- or world-writable unless sticky (like C(/var/tmp)) - then creates what is missing
    with mode 0700.
  - A folder another user could change is refused with one line naming it, its owner and mode,
    and the fix; nothing is created then. An existing folder is never repaired or removed.
  - Every module that writes under staging (mlps_mpirun, mlps_sampler, mlps_stage_pack,
    mlps_dlio_progress) applies the same check through module_utils/mlps_safepath.py.
version_added: "0.1.0"
author: mlps developers
options:
  path:
    description: Absolute path of the staging folder.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Checks the existing folders and reports what would be created.
"""

EXAMPLES = r"""
- name: Create this campaign's staging folder on every client
  mlps_staging:
    path: /var/tmp/mlps/training/unet3d-20260101_120000-42
"""

RETURN = r"""
path:
  description: The staging folder, symlinks on the way resolved.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_safepath import check_folder, make_folder


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "path", "required": True}}, supports_check_mode=True)
    path = module.params["path"]
    if not os.path.isabs(path):
        module.fail_json(msg=f"path={path!r}: expected an absolute path for the staging folder")
    try:
        if module.check_mode:
            existing = path
            while not os.path.lexists(existing):
                existing = os.path.dirname(existing)
            check_folder(existing)
            module.exit_json(changed=existing != os.path.normpath(path), path=path)
        existed = os.path.isdir(path)
        real = make_folder(path)
    except OSError as exc:
        module.fail_json(msg=f"{exc.strerror or exc}", path=path)
    module.exit_json(changed=not existed, path=real)


if __name__ == "__main__":
    main()
