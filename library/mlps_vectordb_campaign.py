#!/usr/bin/python
"""Documentation of the mlps_vectordb_campaign action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_vectordb_campaign
short_description: The controller side of a VectorDB campaign (plan, datagen and run leaves, results.json)
description:
  - An action that runs in the controller's own Python (which must have mlps installed) and never
    connects to the task's host. All logic is in C(mlps.campaign.vector_database), on the benchmark
    frame of C(mlps.campaign); O(op) picks the step.
  - V(check) stops at once on an engine, index, URI or data folder that cannot run (before any
    server starts).
  - V(plan) checks the engine and index (and, from O(server_probe), that the server builds it), the
    server's data folder (creatable, not on the results' filesystem, rule book §5.4.2), the scale,
    query layout and run mode, fills in the index and search parameters (rule book §5.1 defaults),
    and says which division the campaign can reach and why; it stops on input that cannot run.
  - V(phase_start) allocates a C(datagen/<stamp>) or C(run/<stamp>) leaf, builds the driver's and
    mpirun's command lines (datagen, one rank on the launcher; a run, the query ranks on every
    client) and records the leaf as running; V(phase_end) unpacks the clients' archives, records the
    end and writes the leaf's summary.json (datagen, from load.json; a run, statistics.json, recall
    against the datagen's ground truth, result_verdict.json).
  - V(results) writes the workload's results.json.
version_added: "0.1.0"
author: mlps developers
extends_documentation_fragment:
  - mlps_phase
options:
  op:
    description: The step of the VectorDB campaign this task runs.
    type: str
    required: true
    choices: [check, plan, phase_start, phase_end, results]
  engine: {description: "milvus or pgvector (check, plan).", type: str, default: milvus}
  index: {description: "The index type, e.g. HNSW, DISKANN, IVF_FLAT (check, plan).", type: str, default: HNSW}
  hosts: {description: "Clients, launcher first (plan).", type: list, elements: str}
  results_dir: {description: Results root on the controller (plan)., type: path}
  results_probe:
    description: "The controller's results folder: path, dev and the client it is, if one (check, plan)."
    type: dict
    default: {}
  division: {description: closed or open (plan)., type: str, default: closed}
  org: {description: Organisation folder (plan)., type: str, default: mlps}
  system: {description: System folder (plan)., type: str, default: mlps-system}
  uri: {description: "The server's URI (check, plan); a password in it is never recorded.", type: str, default: ""}
  embedded: {description: "Whether the campaign starts the server itself (check, plan).", type: bool, default: true}
  server_host: {description: "The client that runs the embedded server (check, plan).", type: str, default: ""}
  data_dir:
    description: "The embedded server's data folder, on the storage under test (check, plan)."
    type: str
    default: ""
  server_probe:
    description: "The driver's probe of the server: reachable, server_version, index_supported (plan)."
    type: dict
    default: {}
  data_probe: {description: "The data folder's probe on the server host (check, plan).", type: dict, default: {}}
  num_vectors: {description: Vectors loaded (plan)., type: raw, default: 1000000}
  dimension: {description: Vector dimension (plan)., type: raw, default: 1536}
  num_shards: {description: Shards of the collection (plan)., type: raw, default: 1}
  insert_batch: {description: Vectors per insert batch (plan)., type: raw, default: 1000}
  index_params:
    description: "Index build parameters over the rule book's defaults, e.g. {M: 16} (plan)."
    type: dict
    default: {}
  index_timeout:
    description: Seconds an index build may take before the datagen fails (plan).
    type: raw
    default: 3600
  compact: {description: Compact after the index build (plan)., type: bool, default: true}
  search_ef: {description: "Search list / ef, at least k (plan).", type: raw, default: 200}
  k: {description: Neighbours per query (recall@k) (plan)., type: raw, default: 10}
  mode: {description: "timed or query_count (plan).", type: str, default: timed}
  runtime: {description: Seconds per timed run (plan)., type: raw, default: 60}
  query_count: {description: Queries per rank in query_count mode (plan)., type: raw, default: 1000}
  batch_size: {description: Query vectors per search call (plan)., type: raw, default: 1}
  num_queries: {description: Pre-generated query vectors (plan)., type: raw, default: 1000}
  seed: {description: Seed of the loaded vectors (plan)., type: raw, default: 1}
  query_seed: {description: Seed of the query vectors (plan)., type: raw, default: 42}
  num_processes: {description: "Query ranks in all; 0 = from npernode (plan).", type: raw, default: 0}
  npernode: {description: "Query ranks per client; 0 = from num_processes, else 1 (plan).", type: raw, default: 0}
  runs: {description: Timed runs (plan)., type: raw, default: 5}
  campaign: {description: "The plan returned by op plan (phase_start, phase_end).", type: dict}
  command: {description: "datagen or run (phase_start, phase_end).", type: str, choices: [datagen, run]}
  index_number: {description: "The run's number, 1 to runs (phase_start).", type: int, default: 0}
  driver: {description: "python, driver_file and uri: the driver on the clients (phase_start).", type: dict}
  label: {description: "The phase's label phase_start returned (phase_end).", type: str}
  workload_dir: {description: The workload folder (results)., type: path}
attributes:
  check_mode:
    support: full
    description: plan and phase_start run (they return the names and argv they would use); nothing is written.
"""

EXAMPLES = r"""
- name: Plan a VectorDB campaign
  mlps_vectordb_campaign:
    op: plan
    engine: milvus
    index: HNSW
    hosts: [client1, client2]
    server_host: client1
    data_dir: /mnt/storage/vectordb
    server_probe: "{{ probe.stdout | from_json }}"
    results_dir: /results
  register: plan
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
leaf: {description: The phase's leaf folder., type: str, returned: "op phase_start and phase_end"}
stamp: {description: The leaf's time stamp., type: str, returned: op phase_start}
marker: {description: "The phase's output folder on the clients (sampler follow).", type: str, returned: op phase_start}
cmd: {description: The exact mpirun argv., type: list, elements: str, returned: op phase_start}
rank_argv: {description: One rank's argv., type: list, elements: str, returned: op phase_start}
status: {description: "The phase's status.", type: str, returned: op phase_end}
figures:
  description: "The phase's headline figures (QPS, p99, recall; datagen: inserted rows, timings)."
  type: dict
  returned: op phase_end
go_on: {description: Whether the campaign goes on to the next phase., type: bool, returned: op phase_end}
results: {description: The results.json document., type: dict, returned: op results}
"""
