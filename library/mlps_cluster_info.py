#!/usr/bin/python
"""Documentation of the mlps_cluster_info action (the code is action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_cluster_info
short_description: Build cluster_info.json from host facts on the controller and report the clients
description:
  - Folds C(mlps-host-facts/1) documents into one C(mlps-cluster-info/1) view with the cluster model
    of C(mlps.cluster) (one host per machine-id, never per rank; totals; consistency findings
    naming the outlier hosts), writes it atomically to O(dest) and returns a printable report (per-host
    table with memory, cores, kernel and data filesystem, then one line per finding).
  - With O(start), also compares with that earlier snapshot of the same cluster and returns the drift
    findings (hardware or configuration that changed; moving counters never count).
  - An action that runs in the controller's own Python, which must have mlps installed (the project
    venv running ansible-playbook); it never connects to the task's host. The code is the action plugin
    of the same name in C(action_plugins/); this file holds its documentation.
  - Bad facts (wrong schema, no hostname or machine-id) fail the task with the document named.
version_added: "0.1.0"
author: mlps developers
options:
  facts:
    description: Host-facts documents, as returned by M(mlps_host_facts) or M(mlps_mpi_facts).
    type: list
    elements: dict
    required: true
  dest:
    description: Path of the C(cluster_info.json) to write on the controller (parent directories are created).
    type: path
    required: true
  data_path:
    description: Data directory on the clients; its filesystem type and mount options are compared across hosts.
    type: str
  results_path:
    description: Results directory; recorded, and watched for drift.
    type: str
  interface:
    description: Interface whose MTU is compared across hosts; default is every non-lo interface all hosts have.
    type: str
  start:
    description: An earlier C(cluster_info.json) of the same cluster; the result then holds C(drift).
    type: path
attributes:
  check_mode:
    support: full
    description: Builds and reports everything but writes nothing.
"""

EXAMPLES = r"""
- name: Build the cluster view from every client's facts
  mlps_cluster_info:
    facts: "{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'mlps_host']) | list }}"
    dest: /srv/results/cluster_info_end.json
    data_path: /mnt/data
    start: /srv/results/cluster_info_start.json
  run_once: true
"""

RETURN = r"""
dest:
  description: The file written.
  type: str
  returned: success
totals:
  description:
    - num_hosts, ranks, memory_complete, total/min/max memory bytes, total/min/max physical cores,
      total logical CPUs.
  type: dict
  returned: success
hosts:
  description: Host names, one per distinct host.
  type: list
  elements: str
  returned: success
findings:
  description: Consistency findings (rule, outcome, message, expected, actual, host, fix, extra.hosts).
  type: list
  elements: dict
  returned: success
drift:
  description: Drift findings against O(start), in the same shape.
  type: list
  elements: dict
  returned: when O(start) is given
report:
  description: Lines to print - the per-host table, its total line, one line per finding, the file written.
  type: list
  elements: str
  returned: success
"""
