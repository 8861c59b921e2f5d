#!/usr/bin/python
"""Documentation of the mlps_campaign action (the code is roles/mlps_training/action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_campaign
short_description: The controller side of a training campaign (plan, leaves, metadata, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps_rules.campaign); O(op) picks the step.
  - V(plan) computes num_files_train and the rank placement from the start snapshot O(cluster_info)
    and stops with the rule and both numbers when a user value is too small (unless O(accept_undersized)).
  - V(datasize) writes the datasize leaf; V(leaf) allocates a new leaf (exclusive mkdir, never an
    existing one); V(metadata) merges O(data) into the leaf's metadata and writes O(files) and
    O(copies) (all atomically); V(command) builds DLIO's argv; V(collect) unpacks the hosts' output
    archives into the leaf; V(results) writes run/results.json.
version_added: "0.1.0"
author: mlps developers
options:
  op:
    description: The step.
    type: str
    required: true
    choices: [plan, datasize, leaf, metadata, copy, collect, command, results]
  model: {description: Training model (plan)., type: str}
  accelerator: {description: Emulated accelerator (plan)., type: str}
  accelerators_per_host: {description: Ranks per client (plan)., type: int}
  hosts: {description: Clients, launcher first (plan)., type: list, elements: str}
  cluster_info: {description: Start snapshot cluster_info_start.json (plan)., type: path}
  cluster_data: {description: "The cluster view as a dict, for a --check run (no snapshot written).", type: dict}
  num_files_train: {description: User value, 0 to plan it., type: int, default: 0}
  accept_undersized: {description: Go on below the rules' minimum, recorded as undersized., type: bool, default: false}
  results_dir: {description: Results root (plan)., type: path}
  division: {description: closed or open (plan)., type: str}
  org: {description: Organisation folder (plan)., type: str}
  system: {description: System folder (plan)., type: str}
  workload_dir: {description: The workload folder (datasize, leaf, results)., type: path}
  command: {description: datasize, datagen or run (leaf)., type: str}
  leaf: {description: Leaf folder (metadata, copy, collect)., type: path}
  stamp: {description: The leaf's time stamp (metadata)., type: str}
  data: {description: Metadata keys to merge (metadata), or the plan (datasize)., type: dict, default: {}}
  files: {description: JSON files to write in the leaf, name to content., type: dict, default: {}}
  copies: {description: Controller files to copy into the leaf, name to source path., type: dict, default: {}}
  archives:
    description: Tar archives to unpack into the leaf, in order (collect).
    type: list
    elements: path
    default: []
  data_dir: {description: Data folder recorded in the datasize leaf., type: str}
  dlio: {description: Path of dlio_benchmark (command)., type: str}
  config_dir: {description: DLIO config folder on the clients (command)., type: str}
  workload: {description: Hydra workload name (command)., type: str}
  data_folder: {description: Dataset folder (command)., type: str}
  num_subfolders_train: {description: Subfolders (command)., type: int, default: 0}
  checkpoint_folder: {description: Checkpoint folder (command)., type: str}
  output_folder: {description: DLIO output folder (command)., type: str}
  tunables: {description: Rules tunables as dotted keys (plan, command)., type: dict, default: {}}
  extra: {description: Test-only DLIO settings (plan, command)., type: dict, default: {}}
attributes:
  check_mode:
    support: full
    description: plan and command run; nothing is written.
"""

EXAMPLES = r"""
- name: Allocate a run leaf
  mlps_campaign:
    op: leaf
    workload_dir: /results/closed/acme/results/sys1/training/unet3d
    command: run
  register: leaf
"""

RETURN = r"""
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: The leaf folder (op leaf, datasize)., type: str, returned: op leaf}
stamp: {description: The leaf's time stamp., type: str, returned: op leaf}
argv: {description: DLIO's argv (op command)., type: list, elements: str, returned: op command}
overrides: {description: DLIO overrides as dotted key to text (op command)., type: dict, returned: op command}
files: {description: Files unpacked (op collect)., type: list, elements: str, returned: op collect}
results: {description: The run/results.json document (op results)., type: dict, returned: op results}
"""
