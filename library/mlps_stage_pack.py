#!/usr/bin/python
"""Ansible module: end a benchmark phase on one client (stop its sampler) and pack its outputs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_stage_pack
short_description: Stop a phase's sampler, pack the phase's staging folder into one archive, remove it
description:
  - The end of one benchmark phase on a client, in one round trip - creates O(stop_file) so the
    time-series sampler takes its closing sample, waits for the sampler's async job O(sampler_job)
    to end, packs the O(members) of O(stage) into the tar archive O(archive) (to be fetched to the
    controller) and removes O(stage).
  - A missing O(stage) (the phase never started on this host) gives an empty archive, so a failed
    phase can still be collected from the hosts that have something.
  - Only regular files and folders are packed; symbolic links and anything else are left out.
version_added: "0.1.0"
author: mlps developers
options:
  stage:
    description: The phase's staging folder on this client.
    type: path
    required: true
  archive:
    description: Path of the tar archive to write (outside O(stage)).
    type: path
    required: true
  members:
    description: Entries of O(stage) to pack (folders or files); missing ones are skipped.
    type: list
    elements: str
    default: []
  stop_file:
    description: File to create so the sampler stops.
    type: path
  sampler_job:
    description: Async job id of the sampler; its result gives RV(samples).
    type: str
  async_dir:
    description:
      - Folder of Ansible's async job files on this host. The action plugin of the same name fills
        it in from the host's C(async_dir) shell option (C(ansible_async_dir), C(ANSIBLE_ASYNC_DIR)),
        so a task never needs to set it.
    type: path
    default: ~/.ansible_async
  sampler_wait:
    description: Seconds to wait for the sampler to end after the stop file appears.
    type: float
    default: 30
  remove:
    description: Remove O(stage) once packed.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Nothing is stopped, packed or removed in check mode.
"""

EXAMPLES = r"""
- name: Stop the sampler and pack the run's outputs
  mlps_stage_pack:
    stage: /var/tmp/mlps/training/run-20260101_120000
    archive: /var/tmp/mlps/training/run-20260101_120000-h1.tar
    stop_file: /var/tmp/mlps/training/run-20260101_120000/stop
    sampler_job: "{{ sampler.ansible_job_id }}"
    members: [dlio, timeseries]
  register: packed
"""

RETURN = r"""
archive:
  description: The archive written.
  returned: always
  type: str
files:
  description: Files packed.
  returned: always
  type: int
bytes:
  description: Size of the archive.
  returned: always
  type: int
samples:
  description: Samples the sampler wrote (0 when unknown).
  returned: always
  type: int
sampler:
  description: The sampler job's final record (reason, samples, ...), or its state when it did not end.
  returned: always
  type: dict
"""

import os
import shutil
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_async import forget_job, read_job
from ansible.module_utils.mlps_safepath import check_folder, make_folder, replace_file, touch


def _wait_sampler(p):
    if not p["sampler_job"]:
        return {}
    deadline = time.monotonic() + p["sampler_wait"]
    while True:
        job = read_job(p["async_dir"], p["sampler_job"]) or {"finished": False}
        if job.get("finished"):
            forget_job(p["async_dir"], p["sampler_job"])  # read once, without another round trip
            return job
        if time.monotonic() >= deadline:
            return job
        time.sleep(0.1)


def _pack(stage, members, archive):
    count = 0
    tmp = archive + ".part"
    with os.fdopen(replace_file(tmp), "wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
        for member in members:
            top = os.path.join(stage, member)
            if os.path.islink(top) or not os.path.exists(top):
                continue
            if os.path.isfile(top):
                tar.add(top, arcname=member, recursive=False)
                count += 1
                continue
            for folder, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
                for name in files:
                    path = os.path.join(folder, name)
                    if os.path.isfile(path) and not os.path.islink(path):
                        tar.add(path, arcname=os.path.relpath(path, stage), recursive=False)
                        count += 1
    os.replace(tmp, archive)
    return count


def main():
    module = AnsibleModule(
        argument_spec={
            "stage": {"type": "path", "required": True},
            "archive": {"type": "path", "required": True},
            "members": {"type": "list", "elements": "str", "default": []},
            "stop_file": {"type": "path"},
            "sampler_job": {"type": "str"},
            "async_dir": {"type": "path", "default": "~/.ansible_async"},
            "sampler_wait": {"type": "float", "default": 30},
            "remove": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    stage, archive = os.path.normpath(p["stage"]), os.path.normpath(p["archive"])
    if archive == stage or archive.startswith(stage + os.sep):
        module.fail_json(msg=f"archive={archive}: expected a path outside stage={stage}")
    for member in p["members"]:
        if os.path.isabs(member) or ".." in member.split("/"):
            module.fail_json(msg=f"members: {member!r} is not a name inside the stage folder")
    if module.check_mode:
        module.exit_json(changed=False, archive=archive, files=0, bytes=0, samples=0, sampler={})
    try:
        # What is packed comes back as results: a stage another user could change is refused.
        if os.path.isdir(stage):
            check_folder(stage)
        if p["stop_file"] and os.path.isdir(os.path.dirname(p["stop_file"])):
            touch(os.path.abspath(p["stop_file"]))
        sampler = _wait_sampler(p)
        make_folder(os.path.dirname(archive))
        files = _pack(stage, p["members"], archive)
        if p["remove"]:
            shutil.rmtree(stage, ignore_errors=True)
    except OSError as exc:
        module.fail_json(msg=f"cannot pack {stage} into {archive}: {exc.strerror or exc}")
    samples = sampler.get("samples", 0) if isinstance(sampler.get("samples"), int) else 0
    module.exit_json(changed=True, archive=archive, files=files, bytes=os.path.getsize(archive), samples=samples,
                     sampler={k: v for k, v in sampler.items() if k not in ("invocation",)})


if __name__ == "__main__":
    main()
