#!/usr/bin/python
"""Documentation of the mlps_ckpt_campaign action (the code is roles/mlps_checkpointing/action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_ckpt_campaign
short_description: The controller side of a checkpointing campaign (plan, leaves, command lines, metadata, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps_rules.ckpt_campaign), which reuses the
    results-tree helpers of C(mlps_rules.campaign); O(op) picks the step.
  - V(plan) chooses the engine from the launcher's DLIO probe (V(auto) takes DLIO only when it has the
    checkpoint-only workload), plans every rank's shard bytes with C(mlps_rules.checkpoint_plan),
    and stops with the numbers on input that cannot run - a process count the model's TP x PP cannot
    use, more ranks on a client than O(max_ranks_per_host) (or its CPUs), a checkpoint folder without
    room for O(writes) checkpoints - before anything is written. It also decides one invocation or
    two (writes, cache drop, reads) from the 3x-memory rule.
  - V(leaf) allocates a new leaf in the workload folder (exclusive mkdir, never an existing one);
    V(command) builds the argv of DLIO or of the native engine and the overrides (and, for the native
    engine, the dlio_config YAMLs); V(metadata) merges O(data) into the leaf's metadata and writes
    O(files), O(configs) and O(copies) (atomically); V(collect) unpacks the hosts' output archives
    into the leaf; V(results) writes the workload's results.json.
version_added: "0.1.0"
author: mlps developers
options:
  op:
    description: The step.
    type: str
    required: true
    choices: [plan, leaf, command, metadata, collect, results]
  model: {description: "llama3-8b, llama3-70b, llama3-405b or llama3-1t (plan).", type: str}
  processes: {description: "Ranks; 0 = the model's CLOSED count (plan).", type: raw, default: 0}
  hosts: {description: Clients, launcher first (plan)., type: list, elements: str}
  scale: {description: "Shard size factor in (0, 1] (plan).", type: float, default: 1.0}
  subset: {description: Subset mode (plan)., type: bool, default: false}
  engine: {description: "auto, dlio or native (plan).", type: str, default: auto}
  accelerator: {description: Emulated accelerator recorded with the plan., type: str, default: b200}
  writes: {description: Checkpoints written (plan)., type: raw, default: 10}
  reads: {description: Checkpoints read back (plan)., type: raw, default: 10}
  split: {description: "auto, always or never: two invocations (plan).", type: str, default: auto}
  max_ranks_per_host: {description: "Most ranks per client, 0 = its CPUs (plan).", type: raw, default: 0}
  host_probes:
    description: Host to the output of C(mlps_ckpt_native.py --probe-folder) on it (plan).
    type: dict
    default: {}
  dlio_probe:
    description: Output of C(mlps_ckpt_native.py --probe-dlio) on the launcher (plan).
    type: dict
    default: {}
  folder: {description: Checkpoint folder on the clients (plan)., type: str}
  results_dir: {description: Results root (plan)., type: path}
  division: {description: closed or open (plan)., type: str, default: closed}
  org: {description: Organisation folder (plan)., type: str, default: mlps}
  system: {description: System folder (plan)., type: str, default: mlps-system}
  workload_dir: {description: The workload folder (leaf, results)., type: path}
  leaf: {description: Leaf folder (metadata, collect)., type: path}
  stamp: {description: The leaf's time stamp (metadata)., type: str}
  data: {description: Metadata keys to merge (metadata)., type: dict, default: {}}
  files: {description: JSON files to write in the leaf, name to content (metadata)., type: dict, default: {}}
  copies: {description: Controller files to copy into the leaf, name to path (metadata)., type: dict, default: {}}
  configs: {description: "YAML texts for the leaf's dlio_config/, name to text (metadata).", type: dict, default: {}}
  archives:
    description: Tar archives to unpack into the leaf, in order (collect).
    type: list
    elements: path
    default: []
  campaign: {description: The plan returned by op plan (command)., type: dict, default: {}}
  invocation: {description: "One of the plan's invocations: name, writes, reads (command).", type: dict, default: {}}
  output_folder: {description: Folder the engine writes its summary and logs to (command)., type: str}
  dlio: {description: Path of dlio_benchmark (command, engine dlio)., type: str}
  config_dir: {description: Checkpointing config folder on the clients (command, engine dlio)., type: str}
  python: {description: Client venv's python (command, engine native)., type: str}
  engine_file: {description: Path of mlps_ckpt_native.py on the clients (command, engine native)., type: str}
  plan_file: {description: Path of the plan JSON on the clients (command, engine native)., type: str}
  transfer_size: {description: Bytes per write/read call (command, engine native)., type: str, default: 4MiB}
  odirect: {description: O_DIRECT (command, engine native)., type: bool, default: false}
  fsync: {description: fsync every file (command, engine native)., type: bool, default: true}
  time_between: {description: Seconds slept before each checkpoint (command)., type: float}
attributes:
  check_mode:
    support: full
    description: plan and command run; nothing is written.
"""

EXAMPLES = r"""
- name: Allocate a leaf
  mlps_ckpt_campaign:
    op: leaf
    workload_dir: /results/open/acme/results/sys1/checkpointing/llama3-8b
  register: leaf
"""

RETURN = r"""
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: The leaf folder (op leaf)., type: str, returned: op leaf}
stamp: {description: The leaf's time stamp (op leaf)., type: str, returned: op leaf}
argv: {description: The engine's argv of one rank (op command)., type: list, elements: str, returned: op command}
overrides: {description: DLIO overrides as dotted key to text (op command)., type: dict, returned: op command}
configs: {description: "dlio_config YAML texts (op command, engine native).", type: dict, returned: op command}
files: {description: Files unpacked (op collect)., type: list, elements: str, returned: op collect}
results: {description: The results.json document (op results)., type: dict, returned: op results}
"""
