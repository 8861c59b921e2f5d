#!/usr/bin/python
"""Documentation of the mlps_phase_wait action (the code is action_plugins/mlps_phase_wait.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_phase_wait
short_description: Follow an async campaign launch, printing one progress line per interval, until it ends
description:
  - Follows the async job O(jid) of one campaign phase on the task's host - a DLIO datagen or training
    run, or a checkpointing invocation (DLIO or the native engine) - and returns when it has ended,
    with the launch's own result in RV(job). Never fails for the job's outcome; the caller decides.
  - Each poll is one mlps_dlio_progress call on the task's host that reads the new lines of O(log),
    waits up to 3 s for the job to end and touches O(lease_file); every O(interval) seconds its line
    is printed (epoch and step, files generated, or checkpoints written and read; elapsed, time left).
version_added: "0.1.0"
author: mlps developers
options:
  jid: {description: Job id of the async launch., type: str, required: true}
  log:
    description: The phase's progress log on the task's host (DLIO's dlio.log, or the native engine's --log).
    type: path
    required: true
  label: {description: Prefix of every line., type: str, default: phase}
  total_epochs: {description: Epochs of a training run (for the fraction and time left)., type: int}
  interval: {description: Seconds between progress lines (polls are at most 3 s apart)., type: float, default: 10.0}
  max_wait: {description: Safety bound in seconds (0 none); the launch has its own timeout., type: float, default: 0.0}
  lease_file:
    description: The launch's lease file on the launcher, touched at every poll (mlps_mpirun lease_file).
    type: path
attributes:
  check_mode:
    support: full
    description: Returns at once.
"""

EXAMPLES = r"""
- name: Follow the run
  mlps_phase_wait:
    jid: "{{ launch.ansible_job_id }}"
    log: /var/tmp/mlps/training/run-x/dlio/dlio.log
    lease_file: /var/tmp/mlps/training/run-x/lease
    total_epochs: 5

- name: Follow a checkpointing invocation
  mlps_phase_wait:
    jid: "{{ launch.ansible_job_id }}"
    log: /var/tmp/mlps/checkpointing/llama3-8b-x/write-y/dlio/dlio.log
    label: write
"""

RETURN = r"""
job: {description: "The async job's final result (rc, cmd, timed_out, msg...).", type: dict, returned: always}
progress:
  description: The last progress figures of mlps_dlio_progress (phase, epoch, writes_done, reads_done, ...).
  type: dict
  returned: success
text: {description: The last progress line., type: str, returned: success}
waited: {description: Seconds spent waiting., type: float, returned: success}
"""
