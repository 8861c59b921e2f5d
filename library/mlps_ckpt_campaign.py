#!/usr/bin/python
"""Documentation of the mlps_ckpt_campaign action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_ckpt_campaign
short_description: The controller side of a checkpointing campaign (plan, leaves, command lines, metadata, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps.campaign.checkpointing), which reuses the
    results-tree helpers of C(mlps.campaign.frame); O(op) picks the step.
  - V(plan) chooses the engine from the launcher's DLIO probe (V(auto) takes DLIO only when it has the
    checkpoint-only workload), plans every rank's shard bytes with C(mlps.plan.checkpoint),
    and stops with the numbers on input that cannot run - a process count the model's TP x PP cannot
    use, more ranks on a client than O(max_ranks_per_host) (or its CPUs), a checkpoint folder without
    room for O(writes) checkpoints - before anything is written. It also decides one invocation or
    two (writes, cache drop, reads) from the 3x-memory rule.
  - V(phase_start) runs one invocation's controller side before the launch, as C(mlps_campaign)
    V(phase_start) does for a training phase - allocates a new leaf in the workload folder
    (exclusive mkdir), builds the argv of DLIO or of the native engine and the exact mpirun command,
    writes O(files), O(copies) and (native engine) the dlio_config YAMLs, and records the leaf as
    running. Its result names the staging paths of the invocation (stage, marker, lease, stop, series,
    log, stdout, stderr).
  - V(phase_end) unpacks the clients' archives into the leaf (the launcher's last), decides the
    status from the launch's job (completed, failed, timed_out or interrupted) and records it with
    the timings, the progress and, on failure, the hosts and the reason. V(results) writes the
    workload's results.json.
version_added: "0.1.0"
author: mlps developers
extends_documentation_fragment:
  - mlps_phase
options:
  op:
    description: The step of the checkpointing campaign this task runs (plan, one invocation's start or end, results).
    type: str
    required: true
    choices: [plan, phase_start, phase_end, results]
  model: {description: "llama3-8b, llama3-70b, llama3-405b or llama3-1t (plan).", type: str}
  processes: {description: "Ranks; 0 = the model's CLOSED count (plan).", type: raw, default: 0}
  hosts: {description: "Clients, launcher first (plan).", type: list, elements: str}
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
  workload_dir: {description: The workload folder (results)., type: path}
  campaign: {description: The plan returned by op plan (phase_start)., type: dict}
  invocation:
    description: "One of the plan's invocations: name, writes, reads (phase_start)."
    type: dict
  engine_args:
    description:
      - The engine's settings (phase_start) - dlio and config_dir for DLIO; python, engine_file,
        plan_file, transfer_size, odirect and fsync for the native engine; time_between for both.
    type: dict
    default: {}
  label: {description: The invocation's name (phase_end)., type: str, default: invocation}
attributes:
  check_mode:
    support: full
    description: plan and phase_start run (phase_start returns the names and argv it would use); nothing is written.
"""

EXAMPLES = r"""
- name: Write results.json from the leaves
  mlps_ckpt_campaign:
    op: results
    workload_dir: /results/open/acme/results/sys1/checkpointing/llama3-8b
  register: figures
"""

RETURN = r"""
verdict:
  description: Verdict lines printed (phase_end with verify).
  type: list
  elements: str
  returned: op phase_end
finding_keys:
  description: Group keys of the verdict's problems, for the next phase's O(previous_findings) (phase_end with verify).
  type: list
  elements: str
  returned: op phase_end
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: The leaf folder., type: str, returned: op phase_start and phase_end}
stamp: {description: The leaf's time stamp., type: str, returned: op phase_start and phase_end}
marker:
  description: "The invocation's output folder on the clients, in every rank's argv (sampler follow)."
  type: str
  returned: op phase_start
cmd: {description: The exact mpirun argv (op phase_start)., type: list, elements: str, returned: op phase_start}
engine_argv: {description: The engine's argv of one rank., type: list, elements: str, returned: op phase_start}
status: {description: "completed, failed, timed_out or interrupted (op phase_end).", type: str, returned: op phase_end}
files: {description: Files unpacked into the leaf (op phase_end)., type: list, elements: str, returned: op phase_end}
results: {description: The results.json document (op results)., type: dict, returned: op results}
"""
