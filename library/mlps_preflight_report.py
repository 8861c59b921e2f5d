#!/usr/bin/python
"""Documentation of the mlps_preflight_report action (the code is ../action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_preflight_report
short_description: Judge what the preflight gathered, print it as a table and write preflight.json
description:
  - Turns the gathered results (argument-spec validation, clock readings, client probes, the
    mpirun launch, the sentinel write, the controller's results directory) into the stable list of
    checks of C(mlps.preflight), renders the table and writes C(mlps-preflight/1) to O(dest)
    atomically. It never fails because of what it finds; the role's last task does, from RV(ok).
  - With O(skipped) it writes a document that records the skip and no checks.
  - Runs on the controller in the Python running ansible-playbook, which must import mlps.
version_added: "0.1.0"
author: mlps developers
options:
  dest:
    description: Path of preflight.json on the controller.
    type: path
    required: true
  hosts:
    description: Inventory names of the clients, in order.
    type: list
    elements: str
    default: []
  launcher:
    description: Client that wrote the sentinel and ran mpirun.
    type: str
    default: ""
  settings:
    description: Host name to its campaign settings (fields of mlps.preflight.Settings).
    type: dict
    default: {}
  specs:
    description: Host name to its argument-spec results (spec, failed, errors, msg).
    type: dict
    default: {}
  clocks:
    description: Host name to its mlps_preflight_clock result.
    type: dict
    default: {}
  probes:
    description: Host name to its mlps_preflight_probe result.
    type: dict
    default: {}
  launch:
    description: The mlps_mpirun result of the launch across all clients.
    type: dict
    default: {}
  sentinel:
    description: The result of writing the shared-filesystem sentinel.
    type: dict
    default: {}
  controller:
    description: The mlps_preflight_probe result for the results directory on the controller.
    type: dict
    default: {}
  ckpt_probe:
    description:
      - Checkpointing only - the launcher's C(mlps_ckpt_native.py --probe-dlio) command result (its stdout
        is the probe's JSON), for the check that engine dlio has DLIO's checkpoint-only workload.
    type: dict
    default: {}
  skipped:
    description: Record a skipped preflight.
    type: bool
    default: false
  skip_reason:
    description: Why it was skipped.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Judges and returns the same document in check mode, but writes no O(dest).
"""

EXAMPLES = r"""
- name: Write preflight.json
  mlps_preflight_report:
    dest: /srv/results/preflight.json
    hosts: [h1, h2]
    launcher: h1
    probes: "{{ probes_by_host }}"
"""

RETURN = r"""
ok:
  description: No error check failed.
  type: bool
  returned: always
checks:
  description: Every check (name, host, ok, severity, expected, found, detail, fix), in the stable order.
  type: list
  elements: dict
  returned: always
failed_checks:
  description: C(<check> on <host>) of every failed error check.
  type: list
  elements: str
  returned: always
table:
  description: The printable table, then one line per problem with its fix.
  type: list
  elements: str
  returned: always
message:
  description: One-line summary.
  type: str
  returned: always
dest:
  description: Absolute path written.
  type: str
  returned: always
"""
