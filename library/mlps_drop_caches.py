#!/usr/bin/python
"""Ansible module: drop the page cache on a client, keeping its size before and after."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_drop_caches
short_description: Drop the page cache before a benchmark run and record its size before and after
description:
  - When O(enabled), runs C(sync) and writes C(3) to C(/proc/sys/vm/drop_caches) (page cache,
    dentries and inodes), reading the page-cache size (C(Cached) in C(/proc/meminfo)) before and
    after, so every run keeps evidence that it started cold.
  - Needs root. Enabled and not root fails with a message naming the host and what to do (use
    C(become), or set C(mlps_training_drop_caches=false)); this also happens in check mode, so a
    what-if run stops where the real one would.
  - Inside a network namespace C(/proc/sys/vm/drop_caches) is still the machine's, so it drops
    the whole machine's cache.
version_added: "0.1.0"
author: mlps developers
options:
  enabled:
    description: Drop the cache; when false only the current page-cache size is reported.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reports the page-cache size and what would be done; nothing is synced or dropped.
notes:
  - The logic lives in module_utils/mlps_drop_caches.py; the meminfo parser is module_utils/mlps_procfs.py's.
"""

EXAMPLES = r"""
- name: Drop the page cache on every client before the run
  mlps_drop_caches:
    enabled: "{{ mlps_training_drop_caches }}"
  become: true
  register: mlps_cache_drop
"""

RETURN = r"""
dropped:
  description: True when the cache was dropped.
  returned: always
  type: bool
  sample: true
cached_before_bytes:
  description: Page-cache size (meminfo C(Cached)) in bytes before the drop.
  returned: always
  type: int
  sample: 3221225472
cached_after_bytes:
  description: Page-cache size in bytes right after the drop; null when nothing was dropped.
  returned: always
  type: int
  sample: 104857600
at:
  description: UTC time of the drop (of the reading when nothing was dropped), ISO 8601 with Z.
  returned: always
  type: str
  sample: "2026-01-31T12:00:00Z"
host:
  description: Host name of the target.
  returned: always
  type: str
  sample: client1
reason:
  description: Why nothing was dropped (disabled, check mode); null when dropped.
  returned: always
  type: str
  sample: disabled (mlps_training_drop_caches=false)
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_drop_caches import CacheDropError, drop_caches

ARGUMENT_SPEC = {
    "enabled": {"type": "bool", "default": True},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = drop_caches(module.params["enabled"], module.check_mode, socket.gethostname())
    except CacheDropError as exc:
        module.fail_json(msg=str(exc), dropped=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
