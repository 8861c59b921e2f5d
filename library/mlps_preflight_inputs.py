#!/usr/bin/python
"""Documentation of the mlps_preflight_inputs action (the code is ../action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_preflight_inputs
short_description: Refuse hostile host names, paths, names and DLIO values before the preflight writes anything
description:
  - Checks, for every client, the inventory host name, C(ansible_host), the paths (mlps_data_dir,
    mlps_results_dir, mlps_venv), the model, accelerator, division, org and system names, the DLIO
    overrides (keys and values) and the names of the environment forwarded to the ranks, with the
    allow-lists of C(mlps.inputs).
  - Shell metacharacters, newlines, NUL, C(..) segments and overlong values are refused. The task
    fails with one line per problem naming the host and variable, what is expected and what to do,
    before any directory or file is created.
  - Runs on the controller in the Python running ansible-playbook, which must import mlps.
version_added: "0.1.0"
author: mlps developers
options:
  hosts:
    description: Inventory host name to its values (variable name to value); unset variables are null.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Reads only.
"""

EXAMPLES = r"""
- name: Refuse hostile values
  mlps_preflight_inputs:
    hosts:
      h1: {mlps_data_dir: /mnt/mlps/data, mlps_results_dir: /srv/results, mlps_venv: /opt/mlps/venv}
"""

RETURN = r"""
problems:
  description: One line per hostile value (empty when every value is fine).
  type: list
  elements: str
  returned: always
"""
