#!/usr/bin/python
"""Documentation of the mlps_training_wait action (the code is roles/mlps_training/action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_training_wait
short_description: Follow an async DLIO launch, printing one progress line per poll, until it ends
description:
  - Every O(interval) seconds runs mlps_dlio_progress on the task's host with O(log) and prints its
    line (epoch, step, elapsed, time left), then async_status with O(jid); returns when the job finished,
    with the launch's own result in RV(job). Never fails for the job's outcome; the caller decides.
version_added: "0.1.0"
author: mlps developers
options:
  jid: {description: Job id of the async launch., type: str, required: true}
  log: {description: DLIO's log on the task's host., type: path, required: true}
  label: {description: Prefix of every line., type: str, default: DLIO}
  total_epochs: {description: Epochs of the run (for the fraction and time left)., type: int}
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
  mlps_training_wait:
    jid: "{{ launch.ansible_job_id }}"
    log: /var/tmp/mlps/training/run-x/dlio/dlio.log
    total_epochs: 5
"""

RETURN = r"""
job: {description: The async job's final result (rc, cmd, timed_out, msg...)., type: dict, returned: always}
progress: {description: The last progress figures., type: dict, returned: success}
text: {description: The last progress line., type: str, returned: success}
waited: {description: Seconds spent waiting., type: float, returned: success}
"""
