#!/usr/bin/python
"""Documentation of the mlps_capsule action (the code is ../action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_capsule
short_description: Write a campaign's reproducibility capsule on the controller
description:
  - Writes C(mlps-capsule/1) to C(<results_dir>/capsules/<benchmark>-<campaign_id>.json) at the start
    of a campaign; a resumed campaign's second capsule goes beside the first, which is never overwritten.
  - Holds the inventory (sources, groups, every mlps_* variable of each host, read untemplated), the
    client venv's ready marker and its locks' sha256, the code hashes of mlps and DLIO, and the
    ansible-playbook command line with every -e given.
  - A value whose name matches O(secret_names), everything under a C(*_secret_env) variable and any
    value that is not plain data (a vault-encrypted value) is written as C(<redacted>).
  - Runs on the controller in the Python running ansible-playbook, which must import mlps.
version_added: "0.1.0"
author: mlps developers
options:
  results_dir:
    description: The results directory on the controller (mlps_results_dir).
    type: path
    required: true
  benchmark:
    description: The campaign's benchmark; the rerun command names C(playbooks/run_<benchmark>.yml).
    type: str
    required: true
    choices: [training, checkpointing, kv_cache, vector_database, benchfs]
  campaign_id:
    description: The campaign's id (training the datasize leaf's stamp), a plain name.
    type: str
    required: true
  hosts:
    description: Inventory names of the campaign's clients.
    type: list
    elements: str
    required: true
  venv_marker:
    description: Text of the client venv's ready marker (C(.mlps-env.json)); empty when unreadable.
    type: str
    default: ""
  versions:
    description: Versions the campaign read on the launcher (dlio_benchmark, python, mpi, ...).
    type: dict
    default: {}
  code:
    description: "Name to an mlps_code_hash result on the launcher: C(dlio) (the venv's DLIO) and other code by name."
    type: dict
    default: {}
  secret_names:
    description: Regular expression of the variable names whose values are secrets (mlps_phase_secret_names).
    type: str
    default: "(?i)(token|secret|passw|key|credential|auth)"
attributes:
  check_mode:
    support: full
    description: Builds the document but writes nothing; returns the path it would write.
"""

EXAMPLES = r"""
- name: Write the capsule
  mlps_capsule:
    results_dir: /srv/results
    benchmark: training
    campaign_id: "20260101_120000"
    hosts: [h1, h2]
"""

RETURN = r"""
capsule:
  description: Path of the capsule written (or that would be written in check mode).
  type: str
  returned: always
rerun:
  description: The command line that runs the campaign again (secrets shown as <redacted>).
  type: str
  returned: when written
tool:
  description: "The mlps code's identity: version, git_sha and code_image (md5-tree-v2), hashed once per campaign."
  type: dict
  returned: always
"""
