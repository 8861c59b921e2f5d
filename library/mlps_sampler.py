#!/usr/bin/python
"""Ansible module: sample host counters into a local JSON Lines file until told to stop."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_sampler
short_description: Write a time series of host counters (disks, network, CPU, memory, NFS) during a run
description:
  - Samples /proc/diskstats, /proc/net/dev, /proc/vmstat, /proc/stat, a subset of /proc/meminfo
    and, when O(nfs_mountstats) is set, the NFS byte counters of /proc/self/mountstats, every
    O(interval) seconds, and appends one C(mlps-timeseries/1) JSON line per sample to O(output)
    on the target (format in module_utils/mlps_timeseries.py). Counters are raw; rates are derived later.
  - Meant to run with C(async) and C(poll) set to 0 on every client before a benchmark run, and to be
    stopped after it by creating O(stop_file), then collected with C(async_status).
  - It can never run away; it stops at the first of O(stop_file) appearing, O(max_samples),
    O(max_duration), SIGTERM/SIGINT/SIGHUP, or (with O(follow)) the end of the phase's processes.
    On the stop file, a signal or the end of the phase it takes one closing sample, so the series
    covers the end of the run. Each line is written whole as soon as it is sampled, so a killed
    sampler leaves complete lines.
  - O(output) is truncated at the start. A O(stop_file) that already exists at the start stops the
    sampler after its closing sample, so use a fresh path for every run.
version_added: "0.1.0"
author: mlps developers
options:
  output:
    description: Absolute path of the JSON Lines file to write on the target; its directory must exist.
    type: path
    required: true
  interval:
    description: Seconds between samples.
    type: float
    default: 1.0
  stop_file:
    description:
      - Absolute path; the sampler stops within about 0.2 s of it appearing. Without it only the
        bounds and signals stop the sampler.
    type: path
  max_samples:
    description:
      - Hard bound on the number of samples. Default C(int(max_duration / interval) + 2), enough
        for the whole of O(max_duration).
    type: int
  max_duration:
    description:
      - Hard bound in seconds. Keep the task's C(async) value a little above it, so the sampler
        ends on its own before Ansible kills it.
    type: float
    default: 21600.0
  nfs_mountstats:
    description: Include per-mount NFS byte and READ/WRITE counters from /proc/self/mountstats.
    type: bool
    default: true
  vmstat:
    description:
      - V(subset) keeps the vmstat counters about paging, page cache, reclaim and cache drops;
        V(all) keeps every counter (the lines grow to about twice the size).
    type: str
    choices: [subset, all]
    default: subset
  host:
    description: Host label written in every line. Default the target's host name.
    type: str
  follow:
    description:
      - A string found in the command line of every process of the phase being sampled (such as the
        phase's staging folder). The sampler then also stops once those processes have come and
        gone on this host, or when none appeared within O(follow_startup) seconds, so an
        interrupted controller never leaves a sampler behind.
    type: str
  follow_startup:
    description: Seconds to wait for the first process carrying O(follow) before giving up.
    type: float
    default: 180.0
  create_parent:
    description: Create the directory of O(output) (mode 0755) when it does not exist.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: In check mode nothing is sampled or written; the module returns what it would do.
notes:
  - Sampling costs about 0.4 ms of CPU per sample; see benchmarks/bench_sampler.py.
  - The same loop runs without Ansible as C(python3 module_utils/mlps_timeseries.py --output FILE ...).
"""

EXAMPLES = r"""
- name: Start the time-series sampler on every client
  mlps_sampler:
    output: /var/tmp/mlps/run1.timeseries.jsonl
    stop_file: /var/tmp/mlps/run1.stop
    interval: 1.0
    max_duration: 7200
    host: "{{ inventory_hostname }}"
  async: 7300
  poll: 0
  register: mlps_sampler_job

- name: Stop the sampler after the run
  ansible.builtin.file:
    path: /var/tmp/mlps/run1.stop
    state: touch
    mode: "0644"

- name: Wait for the sampler to finish
  ansible.builtin.async_status:
    jid: "{{ mlps_sampler_job.ansible_job_id }}"
  register: mlps_sampler_result
  until: mlps_sampler_result.finished
  retries: 30
  delay: 1
"""

RETURN = r"""
output:
  description: Path of the JSON Lines file.
  returned: always
  type: str
  sample: /var/tmp/mlps/run1.timeseries.jsonl
samples:
  description: Samples written (0 in check mode).
  returned: always
  type: int
  sample: 61
duration:
  description: Seconds from the first sample to the last.
  returned: always
  type: float
  sample: 60.02
reason:
  description:
    - Why sampling stopped; C(stop_file), C(max_samples), C(max_duration), C(signal), or with
      O(follow) C(phase_ended) or C(phase_never_started). Null in check mode.
  returned: always
  type: str
  sample: stop_file
signal:
  description: Name of the signal that stopped the sampler (such as C(SIGTERM)), else null.
  returned: always
  type: str
  sample: null
bytes:
  description: Size of the output file at the end.
  returned: always
  type: int
  sample: 386000
interval:
  description: Seconds between samples.
  returned: always
  type: float
  sample: 1.0
max_samples:
  description: The sample bound in force (derived from max_duration when not given).
  returned: always
  type: int
  sample: 21602
max_duration:
  description: The duration bound in force, in seconds.
  returned: always
  type: float
  sample: 21600.0
host:
  description: Host label written in every line.
  returned: always
  type: str
  sample: client01
stop_file:
  description: The stop file watched, or null.
  returned: always
  type: str
  sample: /var/tmp/mlps/run1.stop
follow:
  description: The process marker followed, or null.
  returned: always
  type: str
  sample: /var/tmp/mlps/training/run-20260101_120000/dlio
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_params import fail_on_problems
from ansible.module_utils.mlps_safepath import UnsafePathError, make_folder
from ansible.module_utils.mlps_timeseries import check_options, default_max_samples, run

ARGUMENT_SPEC = {
    "output": {"type": "path", "required": True},
    "interval": {"type": "float", "default": 1.0},
    "stop_file": {"type": "path"},
    "max_samples": {"type": "int"},
    "max_duration": {"type": "float", "default": 21600.0},
    "nfs_mountstats": {"type": "bool", "default": True},
    "vmstat": {"type": "str", "choices": ["subset", "all"], "default": "subset"},
    "host": {"type": "str"},
    "follow": {"type": "str"},
    "follow_startup": {"type": "float", "default": 180.0},
    "create_parent": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    host = p["host"] or os.uname().nodename
    if p["create_parent"] and not module.check_mode and p["output"].startswith("/"):
        try:
            make_folder(os.path.dirname(p["output"]))
        except OSError as exc:
            module.fail_json(msg=f"output={p['output']}: cannot create its folder ({exc.strerror or exc})")
    problems = check_options(p["output"], p["interval"], p["stop_file"], p["max_samples"],
                             p["max_duration"], host, p["vmstat"])
    fail_on_problems(module, problems)
    if module.check_mode:
        max_samples = p["max_samples"] or default_max_samples(p["interval"], p["max_duration"])
        module.exit_json(changed=False, output=p["output"], samples=0, duration=0.0, reason=None, signal=None,
                         bytes=0, interval=p["interval"], max_samples=max_samples,
                         max_duration=p["max_duration"], host=host, stop_file=p["stop_file"], follow=p["follow"],
                         msg=f"check mode: would sample every {p['interval']:g} s into {p['output']}")
    try:
        result = run(p["output"], p["interval"], p["stop_file"], p["max_samples"], p["max_duration"], host,
                     nfs=p["nfs_mountstats"], vmstat=p["vmstat"], follow=p["follow"],
                     follow_startup=p["follow_startup"])
    except OSError as exc:
        if isinstance(exc, UnsafePathError):
            module.fail_json(msg=f"output={p['output']}: {exc.strerror}")
        module.fail_json(msg=f"output={p['output']}: cannot write it ({exc.strerror}); "
                             "give a path in a writable directory")
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
