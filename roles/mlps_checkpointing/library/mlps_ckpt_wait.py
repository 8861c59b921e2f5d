#!/usr/bin/python
"""Documentation of the mlps_ckpt_wait action (the code is roles/mlps_checkpointing/action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_ckpt_wait
short_description: Follow an async checkpointing launch, printing its progress, until it ends
description:
  - Polls the async job O(jid) (a C(mlps_mpirun) launch started with C(async) and C(poll=0)) every
    O(interval) seconds. Each poll reads the run's log O(log) and prints one line - checkpoints
    written and read so far (the native engine logs one line per checkpoint) and the log's last line.
  - Returns when the job has finished, with the job's result in RV(job). O(max_wait) is only a safety
    net; the launch's own timeout stops the ranks on every host.
version_added: "0.1.0"
author: mlps developers
options:
  jid: {description: The async job id of the launch., type: str, required: true}
  log: {description: The log the engine writes (dlio.log in its output folder)., type: path, required: true}
  label: {description: Prefix of every progress line., type: str, default: checkpointing}
  writes: {description: Checkpoints this invocation writes (for the progress line)., type: int, default: 0}
  reads: {description: Checkpoints this invocation reads (for the progress line)., type: int, default: 0}
  interval: {description: Seconds between polls., type: float, default: 10.0}
  max_wait: {description: Seconds before giving up waiting; 0 waits for ever., type: float, default: 0.0}
attributes:
  check_mode:
    support: full
    description: Nothing was launched in check mode; returns at once.
"""

EXAMPLES = r"""
- name: Follow the write invocation
  mlps_ckpt_wait:
    jid: "{{ launch.ansible_job_id }}"
    log: /var/tmp/mlps/checkpointing/llama3-8b-20260101_000000/write/out/dlio.log
    writes: 10
    interval: 5
"""

RETURN = r"""
job: {description: The async job's final result (the mlps_mpirun result shape)., type: dict, returned: always}
progress: {description: "writes_done and reads_done from the log.", type: dict, returned: always}
text: {description: The last progress line printed., type: str, returned: always}
waited: {description: Seconds spent waiting., type: float, returned: always}
"""
