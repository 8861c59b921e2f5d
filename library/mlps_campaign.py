#!/usr/bin/python
"""Documentation of the mlps_campaign action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_campaign
short_description: The controller side of a training campaign (plan, leaves, phases, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps) (campaign, phase, resume); O(op) picks the step.
  - V(plan) computes num_files_train and the rank placement from the start snapshot O(cluster_info)
    and stops with the rule and both numbers when a user value is too small (unless O(accept_undersized)).
  - V(configview) prints the fully merged DLIO configuration of the runs (template + overrides).
  - V(resume) marks leaves an earlier campaign left C(running) as C(interrupted), and says whether
    this campaign continues the latest one (same plan, stopped early) and from which run.
  - V(datasize) writes the datasize leaf; V(datagen_skipped) records a reused dataset as a datagen
    leaf when the workload has none.
  - V(phase_start) allocates a leaf (exclusive mkdir, never an existing one), builds DLIO's and
    mpirun's argv and records the leaf as running; V(phase_end) unpacks the clients' archives into the
    leaf, records the status (naming host and phase on failure, then fails) and, with O(verify),
    prints the verdict so far.
  - V(results) writes run/results.json.
  - Each step checks its own arguments; one it does not take, or a missing one it needs, fails the
    task with the names (the step's spec is in the action plugin).
version_added: "0.1.0"
author: mlps developers
extends_documentation_fragment:
  - mlps_phase
options:
  op:
    description: The step of the training campaign this task runs; each takes only its own options.
    type: str
    required: true
    choices: [plan, configview, resume, datasize, datagen_skipped, phase_start, phase_end, results]
  model: {description: Training model (plan)., type: str}
  accelerator: {description: Emulated accelerator (plan)., type: str}
  accelerators_per_host: {description: Ranks per client (plan)., type: int}
  hosts: {description: "Clients, launcher first (plan).", type: list, elements: str}
  cluster_info: {description: Start snapshot cluster_info_start.json (plan)., type: path}
  cluster_data: {description: "The cluster view as a dict, for a --check run (no snapshot written).", type: dict}
  num_files_train: {description: "User value, 0 to plan it.", type: int, default: 0}
  accept_undersized:
    description: Go on below the rules' minimum, recorded as undersized.
    type: bool
    default: false
  results_dir: {description: Results root (plan)., type: path}
  division: {description: closed or open (plan)., type: str}
  org: {description: Organisation folder (plan)., type: str}
  system: {description: System folder (plan)., type: str}
  workload_dir: {description: The workload folder., type: path}
  command: {description: datagen or run (phase_start)., type: str, choices: [datagen, run]}
  data:
    description: "The plan (datasize); or the dataset check (datagen_skipped)."
    type: dict
  data_dir: {description: Data folder recorded in the datasize leaf., type: str}
  tunables: {description: Rules tunables as dotted keys (plan)., type: dict, default: {}}
  extra: {description: Test-only DLIO settings (plan)., type: dict, default: {}}
  runs: {description: "Runs of the campaign, warm-up included (resume, phase_start).", type: int, default: 6}
  plan: {description: "This campaign's plan, compared with the earlier one's (resume).", type: dict, default: {}}
  resume: {description: Continue an earlier campaign that stopped early (resume)., type: bool, default: true}
  index: {description: "Run number, 1 is the warm-up; 0 for datagen (phase_start).", type: int, default: 0}
  dlio_args:
    description: Arguments of mlps.campaign.training.dlio_command except output_folder (configview, phase_start).
    type: dict
  label: {description: The phase's name in messages (phase_end)., type: str}
  drop_evidence: {description: Page-cache drop evidence per host (phase_end)., type: dict, default: {}}
attributes:
  check_mode:
    support: full
    description: plan and command run; nothing is written.
"""

EXAMPLES = r"""
- name: Mark leaves an interrupted campaign left running, and see whether to continue it
  mlps_campaign:
    op: resume
    workload_dir: /results/closed/acme/results/sys1/training/unet3d
    plan: "{{ mlps_training_campaign }}"
    runs: 6
  register: resume
"""

RETURN = r"""
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: The leaf folder., type: str, returned: "op datasize, datagen_skipped, phase_start"}
stamp: {description: The leaf's time stamp., type: str, returned: "op datasize, phase_start"}
cmd: {description: The exact mpirun argv of the phase., type: list, elements: str, returned: op phase_start}
dlio_argv: {description: DLIO's argv of one rank., type: list, elements: str, returned: op phase_start}
status:
  description: How the phase ended (completed, failed, timed_out, interrupted).
  type: str
  returned: phase_end
verdict: {description: Verdict lines printed (phase_end with verify)., type: list, elements: str, returned: phase_end}
finding_keys:
  description: Group keys of the verdict's problems, for the next phase's O(previous_findings) (phase_end with verify).
  type: list
  elements: str
  returned: phase_end
first_index: {description: The run this campaign starts with (op resume)., type: int, returned: op resume}
results: {description: The run/results.json document (op results)., type: dict, returned: op results}
"""
