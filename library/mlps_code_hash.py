#!/usr/bin/python
"""Ansible module: the md5-tree-v2 hash of code on a client (the venv's installed DLIO, a checkout)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_code_hash
short_description: Hash the code a campaign runs on a client with md5-tree-v2, the code-image hash
description:
  - Finds the folder of an installed Python package as the client venv's own interpreter sees it
    (without importing the package), or takes a folder, and returns its md5-tree-v2 hash - the
    algorithm of the code images in MLPerf Storage results trees - so a campaign's capsule names the
    exact code it ran, not only a version.
  - Reads only. A package that is not installed is not an error - the result says C(found=false),
    and the capsule then records the code as unknown.
version_added: "0.1.0"
author: mlps developers
options:
  python:
    description: The interpreter whose installed package is hashed (the client venv's).
    type: str
  package:
    description: Top-level package name, e.g. C(dlio_benchmark); its folder is hashed.
    type: str
  path:
    description:
      - A folder to hash instead of a package, or one file (a compiled binary such as IOR), whose
        hash is then C(sha256:<64 hex>) of its bytes.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads only; the hash is computed in check mode too.
notes:
  - The hash is module_utils/mlps_code_hash.py's, the one the verifier recomputes code images with.
"""

EXAMPLES = r"""
- name: Hash the DLIO the client venv runs
  mlps_code_hash:
    python: /opt/mlps/venv/bin/python
    package: dlio_benchmark
  register: dlio_code
"""

RETURN = r"""
found:
  description: Whether the package (or folder) was there.
  returned: always
  type: bool
path:
  description: The folder hashed.
  returned: when found
  type: str
code_image:
  description: "C(md5-tree-v2:<32 hex>) of the folder, or C(sha256:<64 hex>) of the file."
  returned: when found
  type: str
reason:
  description: Why nothing was hashed.
  returned: when not found
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_code_hash import ALGORITHM, tree_hash

ARGUMENT_SPEC = {
    "python": {"type": "str"},
    "package": {"type": "str"},
    "path": {"type": "path"},
}
# find_spec of a top-level package reads its location without running its code.
FIND = ("import importlib.util, sys; s = importlib.util.find_spec(sys.argv[1]); "
        "print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else '')")


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_one_of=[("package", "path")], mutually_exclusive=[("package", "path")],
                           required_by={"package": ("python",)})
    folder = module.params["path"]
    if module.params["package"]:
        python = module.params["python"]
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            module.exit_json(changed=False, found=False, reason=f"{python} is not an interpreter on this host")
        rc, out, err = module.run_command([python, "-c", FIND, module.params["package"]])
        folder = out.strip() if rc == 0 else ""
        if not folder:
            module.exit_json(changed=False, found=False,
                             reason=f"{module.params['package']} is not installed for {module.params['python']}"
                                    f"{': ' + err.strip().splitlines()[-1] if err.strip() else ''}")
    if not module.params["package"] and os.path.isfile(folder):
        module.exit_json(changed=False, found=True, path=folder, code_image=f"sha256:{module.sha256(folder)}")
    if not os.path.isdir(folder):
        module.exit_json(changed=False, found=False, reason=f"{folder} is not a folder or a file")
    module.exit_json(changed=False, found=True, path=folder, code_image=f"{ALGORITHM}:{tree_hash(folder)}")


if __name__ == "__main__":
    main()
