#!/usr/bin/python
"""Ansible module: progress of a running DLIO job from its log, for a play that polls."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_dlio_progress
short_description: Read the progress of a DLIO run (datagen, training, checkpointing) or a KV-cache run from its log
description:
  - Reads the lines DLIO 2.0.0 appended to its log (C(dlio.log) or the captured stderr of mpirun), or
    the native KV-cache engine to its C(--progress-log), since the previous call and returns the phase
    (datagen, train, eval, checkpoint, checkpointing, kvcache, done), epoch, step, files generated,
    fraction done, elapsed time, an estimate of the time left from the rate seen so far, and a one-line
    text such as C(epoch 2/5 step 120/500 (24%) elapsed 1m12s, about 3m40s left).
  - Meant to be called on every poll of an async DLIO task, passing back the O(offset) and
    O(state) it returned last time, so each call reads only what is new. Only complete lines are
    read; a partial last line waits for the next call. A log that shrank or was replaced is read
    again from its start; when more than O(max_bytes) is waiting, only its tail is read.
  - A missing log is not an error (DLIO may not have started yet); the phase is then C(waiting).
    Lines that are not DLIO's (warnings, garbage) are ignored.
  - While following an async launch it can also, in the same call, report whether that job has
    ended (O(job_id)), wait up to O(wait) seconds for it to end, and keep the launch's lease alive
    (O(lease_file)), so one round trip per poll does all three.
  - Read-only apart from the lease, so it runs fully in check mode.
version_added: "0.1.0"
author: mlps developers
options:
  path:
    description: Absolute path of the DLIO log to read.
    type: path
    required: true
  offset:
    description: Byte offset returned by the previous call; 0 to start.
    type: int
    default: 0
  state:
    description: The C(state) returned by the previous call; leave out to start.
    type: dict
  total_epochs:
    description:
      - Number of training epochs the run was given (DLIO does not log it). Without it the
        training fraction and the time left are unknown.
    type: int
  max_bytes:
    description: Most bytes read in one call; when more is waiting, only the last O(max_bytes) are read.
    type: int
    default: 4194304
  job_id:
    description: Id of the async job running the launch; its state comes back as RV(job).
    type: str
  async_dir:
    description: Folder of Ansible's async job files on this host (the C(async_dir) shell option).
    type: path
    default: ~/.ansible_async
  wait:
    description:
      - Seconds to wait for the job of O(job_id) to end before returning (the lease is kept alive
        meanwhile); returns as soon as it ends. 0 returns at once.
    type: float
    default: 0
  lease_file:
    description:
      - File touched at every call and every second while waiting; the launch (mlps_mpirun
        O(lease_file)) stops itself when nobody touches it for a while.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the log and the job in check mode too; O(lease_file) is not touched.
notes:
  - DLIO stamps its lines with local time and no zone; elapsed time counts from the first stamped
    line, and while the run goes on, up to the current time of the host running this module.
"""

EXAMPLES = r"""
- name: Show the progress of the training run
  mlps_dlio_progress:
    path: "{{ mlps_training_leaf }}/stderr.log"
    offset: "{{ mlps_progress.offset | default(0) }}"
    state: "{{ mlps_progress.state | default(omit) }}"
    total_epochs: 5
  register: mlps_progress

- name: Print it
  ansible.builtin.debug:
    msg: "{{ mlps_progress.text }}"
"""

RETURN = r"""
text:
  description: One line for a person.
  returned: always
  type: str
  sample: epoch 2/5 step 120/500 (24%) elapsed 1m12s, about 3m40s left
progress:
  description: The figures behind the text; C(null) where unknown.
  returned: always
  type: dict
  contains:
    phase:
      description: "waiting, starting, datagen, train, eval, checkpoint, checkpointing, kvcache or done"
      type: str
    epoch: {description: Current epoch (1-based), type: int}
    epochs: {description: The O(total_epochs) given, type: int}
    step: {description: Highest training step any rank reported in the current epoch, type: int}
    steps_per_epoch: {description: Steps per epoch as DLIO announced them, type: int}
    files_done: {description: Files generated so far (datagen), type: int}
    files_total: {description: Files to generate (datagen), type: int}
    fraction: {description: Fraction of the whole job done (0 to 1), type: float}
    percent: {description: "The same, as a whole percentage rounded down", type: int}
    elapsed: {description: Seconds since the first stamped log line, type: float}
    eta: {description: Estimated seconds left from the rate seen so far, type: float}
    done: {description: True once DLIO logged the end of the job, type: bool}
    writes: {description: Checkpoints the checkpointing engine will write (null for training), type: int}
    reads: {description: Checkpoints it will read back, type: int}
    writes_done: {description: Checkpoints written so far, type: int}
    reads_done: {description: Checkpoints read so far, type: int}
    label: {description: "The KV-cache engine's --label (null for DLIO runs)", type: str}
    requests: {description: Requests the KV-cache engine's rank 0 completed so far, type: int}
    read_bytes: {description: "KV bytes rank 0 read from its storage tier so far", type: int}
    write_bytes: {description: "KV bytes rank 0 wrote to its storage tier so far", type: int}
  sample: {phase: train, epoch: 2, epochs: 5, step: 120, steps_per_epoch: 500, fraction: 0.248,
           percent: 24, elapsed: 72.0, eta: 218.3, done: false}
offset:
  description: Byte offset to pass to the next call.
  returned: always
  type: int
  sample: 9547
state:
  description: Parser state to pass to the next call (a JSON-able dict; treat it as opaque).
  returned: always
  type: dict
job:
  description:
    - The async job's record, as async_status returns it - C(finished) false while it runs, the
      launch's full result once it has ended.
  returned: when O(job_id) is given
  type: dict
"""

import contextlib
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_async import read_job
from ansible.module_utils.mlps_dlio_progress import read_progress, summarize
from ansible.module_utils.mlps_params import fail_on_problems
from ansible.module_utils.mlps_safepath import touch

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "offset": {"type": "int", "default": 0},
    "state": {"type": "dict"},
    "total_epochs": {"type": "int"},
    "max_bytes": {"type": "int", "default": 4194304},
    "job_id": {"type": "str"},
    "async_dir": {"type": "path", "default": "~/.ansible_async"},
    "wait": {"type": "float", "default": 0},
    "lease_file": {"type": "path"},
}


def _problems(p) -> list:
    problems = []
    if not p["path"].startswith("/"):
        problems.append(f"path={p['path']}: expected an absolute path to dlio.log or the run's stderr log")
    elif os.path.isdir(p["path"]):
        problems.append(f"path={p['path']}: is a directory; give the log file inside it, such as dlio.log")
    if p["offset"] < 0:
        problems.append(f"offset={p['offset']}: expected 0 or the offset the previous call returned")
    if p["total_epochs"] is not None and p["total_epochs"] < 1:
        problems.append(f"total_epochs={p['total_epochs']}: expected the run's epoch count, at least 1")
    if p["max_bytes"] < 4096:
        problems.append(f"max_bytes={p['max_bytes']}: expected at least 4096, such as 4194304")
    return problems


def _touch(path):
    if path:
        # Never through a link planted in staging; on failure the launch stops on its own (safe side).
        with contextlib.suppress(OSError):
            touch(os.path.abspath(path))


def _job(async_dir, jid):
    job = read_job(async_dir, jid)
    if job is None:
        return {"finished": True, "failed": True, "msg": f"could not find async job {jid} in {async_dir}"}
    return job


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    fail_on_problems(module, _problems(p))
    result = {}
    # The lease keeps a real launch alive; a check-mode launch runs nothing, so nothing is touched.
    lease = None if module.check_mode else p["lease_file"]
    if p["job_id"]:
        deadline = time.monotonic() + max(0.0, p["wait"])
        while True:
            _touch(lease)
            job = _job(p["async_dir"], p["job_id"])
            if job.get("finished") or time.monotonic() >= deadline:
                break
            time.sleep(min(0.25, max(0.05, deadline - time.monotonic())))
        result["job"] = job
    else:
        _touch(lease)
    state, offset = read_progress(p["path"], p["offset"], p["state"], p["max_bytes"])
    progress = summarize(state, p["total_epochs"], now=time.time())
    module.exit_json(changed=False, text=progress["text"], progress=progress, offset=offset, state=state, **result)


if __name__ == "__main__":
    main()
