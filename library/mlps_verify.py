#!/usr/bin/python
"""Ansible module: verify a results tree with `mlps verify` and return the verdict as data."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_verify
short_description: Verify an MLPerf Storage results tree and return the verdict as data
description:
  - Runs the offline verifier (C(python -m mlps.cli verify DIR --json -)) on the target
    and returns its C(mlps-verdict/1) document - the verdict (CLOSED, OPEN, INVALID or UNCHECKED), every
    finding with its rule, outcome, expected and actual values and evidence path, and each
    workload's recomputed figures - so a playbook can act on it.
  - The module is a thin adapter; the rules live in the C(mlps) package. It does not import
    that package itself, it runs O(python), an interpreter that has mlps installed (the
    controller venv, or a client venv). Delegated to localhost with the default O(python), the
    controller's own interpreter verifies a tree on the controller.
  - By default the task succeeds whatever the verdict; list verdicts in O(fail_on) to fail it.
  - Verification only reads files, so it runs fully in check mode.
version_added: "0.1.0"
author: mlps developers
options:
  path:
    description: Results directory to verify (any folder above the run leaves).
    type: path
    required: true
  profile:
    description:
      - Rules to apply. V(closed) or V(open) is the division the results claim; V(preflight) only
        the rules a plan can be checked against. Default is each workload's own division folder.
    type: str
    choices: [closed, open, preflight]
  edition:
    description: Rules edition for every workload; default is detected per workload (3.0 for our runs).
    type: str
    choices: ["1.0", "2.0", "3.0"]
  python:
    description:
      - Interpreter that has the mlps package installed, as a path or a name looked up on PATH.
        Default is the interpreter running this module.
    type: str
  size_limit_mib:
    description: Refuse JSON/YAML evidence files larger than this many MiB.
    type: int
    default: 64
  fail_on:
    description: Verdicts that fail the task, such as V([INVALID]) or V([INVALID, OPEN]).
    type: list
    elements: str
    choices: [CLOSED, OPEN, INVALID, UNCHECKED]
    default: []
attributes:
  check_mode:
    support: full
    description: Read-only; runs fully in check mode.
notes:
  - Exit codes of the verifier - 0 CLOSED, 1 OPEN, 3 INVALID, 5 UNCHECKED - all return the verdict
    (in C(exit_code)); 2 (usage), 4 (the tree cannot be read) and 6 (the verifier crashed) fail the
    task with the verifier's one-line message.
  - The interpreter in O(python) needs the mlps package installed (C(pip install) of this
    repository, as C(make venv) does); a bare checkout on PYTHONPATH lacks its package mapping.
"""

EXAMPLES = r"""
- name: Verify the results tree on the controller
  mlps_verify:
    path: "{{ playbook_dir }}/../results"
    fail_on: [INVALID]
  delegate_to: localhost
  register: mlps_verify_result

- name: Verify against edition 3.0 as a CLOSED submission with the client venv's interpreter
  mlps_verify:
    path: /srv/results
    profile: closed
    edition: "3.0"
    python: /opt/mlps/venv/bin/python
"""

RETURN = r"""
verdict:
  description: CLOSED, OPEN, INVALID or UNCHECKED.
  returned: success
  type: str
  sample: CLOSED
counts:
  description: Number of findings per outcome (INVALID, OPEN, WARNING, INFO, ERROR, UNCHECKED).
  returned: success
  type: dict
  sample: {INVALID: 0, OPEN: 0, WARNING: 2, INFO: 1, ERROR: 0, UNCHECKED: 0}
lines:
  description:
    - What changes the verdict (INVALID, ERROR, UNCHECKED, OPEN findings), identical ones grouped into
      one readable line with a count and the first paths; what the campaigns print after each run.
  returned: success
  type: list
  elements: str
findings:
  description:
    - Every finding, with rule, outcome, section, message, expected, actual, host, evidence,
      workload, missing and fix.
  returned: success
  type: list
  elements: dict
workloads:
  description: Per workload its identity, edition, verdict and recomputed figures (aggregate).
  returned: success
  type: list
  elements: dict
document:
  description: The whole C(mlps-verdict/1) document.
  returned: success
  type: dict
cmd:
  description: The command that ran, as an argv list.
  returned: always
  type: list
  elements: str
rc:
  description:
    - 0 when the verifier gave a verdict (whatever it is), else the verifier's failing exit code
      (2 usage, 4 tree unreadable, 6 internal error). Ansible fails every task whose rc is not 0, and O(fail_on)
      decides instead.
  returned: always
  type: int
exit_code:
  description: The verifier's own exit code for the verdict (0 CLOSED, 1 OPEN, 3 INVALID, 5 UNCHECKED).
  returned: success
  type: int
stderr:
  description: What the verifier wrote on stderr.
  returned: always
  type: str
start:
  description: When the command started.
  returned: always
  type: str
end:
  description: When the command ended.
  returned: always
  type: str
delta:
  description: How long it ran.
  returned: always
  type: str
"""

import json
import os
import sys
from datetime import datetime

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "profile": {"type": "str", "choices": ["closed", "open", "preflight"]},
    "edition": {"type": "str", "choices": ["1.0", "2.0", "3.0"]},
    "python": {"type": "str"},
    "size_limit_mib": {"type": "int", "default": 64},
    "fail_on": {"type": "list", "elements": "str", "choices": ["CLOSED", "OPEN", "INVALID", "UNCHECKED"],
                "default": []},
}
VERDICT_CODES = (0, 1, 3, 5)


def build_argv(params, python: str) -> list:
    argv = [python, "-m", "mlps.cli", "verify", params["path"], "--json", "-",
            "--size-limit-mib", str(params["size_limit_mib"])]
    if params["profile"]:
        argv += ["--profile", params["profile"]]
    if params["edition"]:
        argv += ["--edition", params["edition"]]
    return argv


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["size_limit_mib"] <= 0:
        module.fail_json(msg=f"size_limit_mib={params['size_limit_mib']}: expected a positive number of MiB")
    python = params["python"] or sys.executable
    if not os.path.isabs(python):
        python = module.get_bin_path(python, required=True)
    argv = build_argv(params, python)
    start = datetime.now()
    rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
    end = datetime.now()
    result = {"changed": False, "cmd": argv, "rc": rc, "stderr": stderr, "start": str(start), "end": str(end),
              "delta": str(end - start)}
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exited with code {rc}"
    if "No module named" in stderr:
        module.fail_json(msg=f"{python} cannot run the verifier ({last}); set python to an interpreter with "
                             "mlps installed (pip install the mlps package, as `make venv` does)", **result)
    if rc not in VERDICT_CODES:
        module.fail_json(msg=last, **result)
    try:
        document = json.loads(stdout)
    except ValueError:
        module.fail_json(msg=f"mlps verify {params['path']}: expected its JSON verdict on stdout, got "
                             f"{stdout[:200]!r}", **result)
    # Ansible fails any task whose rc is not 0; a verdict is a successful verification, so rc is 0
    # and the verifier's own code (0 CLOSED, 1 OPEN, 3 INVALID, 5 UNCHECKED) is exit_code. fail_on decides.
    lines = [group["line"] for group in document.get("grouped", [])
             if group["outcome"] in ("INVALID", "ERROR", "UNCHECKED", "OPEN")]
    result.update(rc=0, exit_code=rc, verdict=document["verdict"], counts=document["counts"],
                  findings=document["findings"], lines=lines, workloads=document["workloads"], document=document)
    if document["verdict"] in params["fail_on"]:
        module.fail_json(msg=f"mlps verify {params['path']}: verdict {document['verdict']} "
                             f"({document['counts']}); see findings", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
