#!/usr/bin/python
"""Documentation of the mlps_benchfs_campaign action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_benchfs_campaign
short_description: The controller side of a BenchFS + IOR sweep (plan, one leaf per run, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps.campaign.benchfs), on the benchmark frame of
    C(mlps.campaign); O(op) picks the step. BenchFS is not an MLPerf Storage benchmark; every leaf is OPEN.
  - V(plan) checks the hosts, paths and sizes, renders the daemons' TOML configuration and lists the
    sweep (transfer size x block size x ranks per client), one run each; it stops on input that cannot run.
  - V(phase_start) allocates a C(benchfs/ior/<stamp>) leaf, writes the rendered TOML into it, builds
    IOR's and the daemons' mpirun command lines and records the leaf as running; V(phase_end) unpacks
    the daemons' logs and the clients' archives, records the end, the daemons' stop and IOR's figures.
  - V(results) adds the sweep's runs and figures to the workload's results.json.
version_added: "0.1.0"
author: mlps developers
extends_documentation_fragment:
  - mlps_phase
options:
  op:
    description: The step of the BenchFS sweep this task runs.
    type: str
    required: true
    choices: [plan, phase_start, phase_end, results]
  clients: {description: "Hosts that run IOR, launcher first (plan).", type: list, elements: str}
  servers: {description: "Hosts that run the daemons, their launcher first (plan).", type: list, elements: str}
  ranks_per_server: {description: Daemon ranks per server host (plan)., type: raw, default: 1}
  results_dir: {description: Results root on the controller (plan)., type: path}
  org: {description: Organisation folder (plan)., type: str, default: mlps}
  system: {description: System folder (plan)., type: str, default: mlps-system}
  registry_dir: {description: "The registry folder every server and client sees (plan).", type: str}
  data_dir: {description: "The daemons' data folder on each server host (plan).", type: str}
  chunk_size: {description: "BenchFS chunk size, e.g. 4m (plan).", type: raw, default: 4m}
  config: {description: "The daemons' settings, rendered into one TOML file (plan).", type: dict, default: {}}
  transfer_sizes: {description: "IOR -t values to sweep (plan).", type: list, elements: raw, default: [1m]}
  block_sizes: {description: "IOR -b values to sweep (plan).", type: list, elements: raw, default: [16m]}
  ranks_per_client: {description: "IOR ranks per client host to sweep (plan).", type: list, elements: raw, default: [1]}
  ior_args: {description: "More IOR arguments for every run (plan).", type: list, elements: str, default: []}
  backend_options:
    description: "IOR's option names for registry, data_dir and chunk_size, over the defaults (plan)."
    type: dict
    default: {}
  run_timeout: {description: Seconds one IOR run may take (plan)., type: raw, default: 600}
  campaign: {description: "The plan returned by op plan (phase_start, phase_end).", type: dict}
  index_number: {description: "The run's number, 1 to the number of runs (phase_start).", type: int}
  ior: {description: "IOR's path on the clients (phase_start).", type: str}
  daemon: {description: "benchfsd_mpi's path on the server hosts (phase_start).", type: str}
  label: {description: "The run's label phase_start returned (phase_end).", type: str}
  daemon_archives: {description: "Server host to its fetched daemon archive (phase_end).", type: dict, default: {}}
  daemon_started: {description: "What the daemons' start returned (phase_end).", type: dict, default: {}}
  daemon_stops:
    description: "The daemons' stop (stop) and every server host's reap (reap, host to result) (phase_end)."
    type: dict
    default: {}
  workload_dir: {description: The workload folder (results)., type: path}
  leaves: {description: "The sweep's leaf names (results).", type: list, elements: str}
attributes:
  check_mode:
    support: full
    description: plan and phase_start run (they return the names and argv they would use); nothing is written.
"""

EXAMPLES = r"""
- name: Plan a BenchFS sweep
  mlps_benchfs_campaign:
    op: plan
    clients: [c1, c2]
    servers: [s1, s2]
    ranks_per_server: 2
    registry_dir: /shared/benchfs/registry
    data_dir: /local/nvme/benchfs
    transfer_sizes: [1m, 4m]
    block_sizes: [16m]
    results_dir: /results
  register: plan
"""

RETURN = r"""
campaign: {description: The plan (op plan)., type: dict, returned: op plan}
leaf: {description: "The run's leaf folder.", type: str, returned: "op phase_start and phase_end"}
stamp: {description: "The leaf's time stamp.", type: str, returned: op phase_start}
cmd: {description: "IOR's exact mpirun argv.", type: list, elements: str, returned: op phase_start}
daemon:
  description: "The daemons' folder, config, state file, run id and mpirun argv."
  type: dict
  returned: op phase_start
status: {description: "The run's status.", type: str, returned: op phase_end}
figures: {description: "Bandwidth and IOPS per operation, from IOR's summary.", type: dict, returned: op phase_end}
results: {description: The results.json document., type: dict, returned: op results}
"""
