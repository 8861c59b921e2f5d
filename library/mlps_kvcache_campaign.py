#!/usr/bin/python
"""Documentation of the mlps_kvcache_campaign action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_kvcache_campaign
short_description: The controller side of a KV-cache campaign (plan, run leaf, trials, summary.json, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps.campaign.kv_cache), on the benchmark frame
    of C(mlps.campaign); O(op) picks the step.
  - V(plan) checks the Options (1, 2, 3 in that order), lays the clients out (ranks and ranks per
    host, rule book §6.3.3), gives every Option its parameters (Table KVCache-1, with any override
    recorded), chooses the engine, and stops before any I/O on input that cannot run - an unknown
    Option or model, a cache folder that cannot be created, a cache folder on the results'
    filesystem, more concurrent allocations than a host's memory can hold.
  - V(open) allocates the run leaf (C(run/<stamp>/)), writes O(files), O(copies), provenance.json
    and the leaf's running metadata with every Option's parameters.
  - V(phase_start) builds one trial's rank and mpirun command lines (the ranks write
    C(option_<O>/trial_<T>/rank_<N>/) under the stage's output folder) and records the trial as
    running; V(phase_end) unpacks the clients' archives into the run leaf, records the trial's end
    and which ranks wrote results (a trial some rank left without results is partial, naming the
    rank and its host). The run leaf stays running between trials.
  - V(finish) writes the leaf's summary.json from the rank files and its final status; V(results)
    writes the workload's results.json.
version_added: "0.1.0"
author: mlps developers
extends_documentation_fragment:
  - mlps_phase
options:
  op:
    description: The step of the KV-cache campaign this task runs.
    type: str
    required: true
    choices: [plan, open, phase_start, phase_end, finish, results]
  options: {description: "Options to run, e.g. C(1,2,3) (plan).", type: raw, default: "1,2,3"}
  hosts: {description: "Clients, launcher first (plan).", type: list, elements: str}
  cache_dir: {description: "The KV cache folder on every client, on the storage under test (plan).", type: str}
  host_probes:
    description: Host to the output of C(mlps_ckpt_native.py --probe-folder CACHE STAGING) on it (plan).
    type: dict
    default: {}
  results_dir: {description: Results root on the controller (plan)., type: path}
  results_probe:
    description: "The controller's results folder: path, dev and the client it is (when the controller is one) (plan)."
    type: dict
    default: {}
  division: {description: closed or open (plan)., type: str, default: closed}
  org: {description: Organisation folder (plan)., type: str, default: mlps}
  system: {description: System folder (plan)., type: str, default: mlps-system}
  num_processes: {description: "Ranks in all; 0 = from npernode (plan).", type: raw, default: 0}
  npernode: {description: "Ranks per client; 0 = from num_processes, else 1 (plan).", type: raw, default: 0}
  trials: {description: Trials per Option (plan)., type: raw, default: 3}
  inter_option_delay: {description: Seconds slept after every Option but the last (plan)., type: raw, default: 90}
  duration_scale: {description: "Factor in (0, 1] on every Option's duration (plan).", type: raw, default: 1.0}
  size_scale: {description: "Factor in (0, 1] on every KV entry's bytes (plan).", type: raw, default: 1.0}
  users: {description: "Users per client; 0 = each Option's (plan).", type: raw, default: 0}
  model: {description: "Model for every Option; empty = each Option's (plan).", type: str, default: ""}
  seed: {description: Seed of rank 0 (rank N uses seed + N) (plan)., type: raw, default: 42}
  generation_mode: {description: "none, fast or realistic; empty = each Option's (plan).", type: str, default: ""}
  engine: {description: "auto, native or mlcommons (plan).", type: str, default: auto}
  mlcommons_dir:
    description: "A checkout of MLCommons' kv_cache_benchmark on the clients (plan)."
    type: str
    default: ""
  mlcommons_probe:
    description: "The launcher's stat of the checkout's kv-cache.py: is_file (plan)."
    type: dict
    default: {}
  campaign: {description: "The plan returned by op plan (open, phase_start).", type: dict}
  option: {description: The trial's Option (phase_start)., type: int}
  trial: {description: The trial's number within its Option (phase_start)., type: int}
  engine_args:
    description: "python and engine_file: the engine on the clients (phase_start)."
    type: dict
    default: {}
  dropped: {description: Host to its cache-drop evidence before this trial (phase_start)., type: dict, default: {}}
  label: {description: "The trial's label, C(option_<O>/trial_<T>) (phase_end).", type: str}
  placement: {description: "[host, ranks] pairs phase_start returned (phase_end).", type: list, elements: raw}
  stopped: {description: "Why the campaign stopped before its last trial, if it did (finish).", type: str, default: ""}
  workload_dir: {description: The workload folder (results)., type: path}
attributes:
  check_mode:
    support: full
    description: plan, open and phase_start run (they return the names and argv they would use); nothing is written.
"""

EXAMPLES = r"""
- name: Plan a KV-cache campaign
  mlps_kvcache_campaign:
    op: plan
    options: "1,2,3"
    hosts: [client1, client2]
    cache_dir: /mnt/storage/kvcache
    staging_dir: /var/tmp/mlps/kvcache/run-1
    results_dir: /results
  register: plan
"""

RETURN = r"""
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: The run leaf folder., type: str, returned: "op open, phase_start, phase_end and finish"}
stamp: {description: The run leaf's time stamp., type: str, returned: "op open and phase_start"}
marker: {description: "The trial's output folder on the clients (sampler follow).", type: str, returned: op phase_start}
cmd: {description: The exact mpirun argv., type: list, elements: str, returned: op phase_start}
rank_argv: {description: One rank's argv., type: list, elements: str, returned: op phase_start}
status:
  description: "The trial's (phase_end) or the run's (finish) status."
  type: str
  returned: op phase_end and finish
partial: {description: Some rank of the trial wrote no results., type: bool, returned: op phase_end}
go_on: {description: Whether the campaign goes on to the next trial., type: bool, returned: op phase_end}
summary: {description: The summary.json document., type: dict, returned: op finish}
results: {description: The results.json document., type: dict, returned: op results}
"""
