"""Drop the page cache before a benchmark run and keep its size before and after as evidence.

`sync` first (dirty pages cannot be dropped), then `3` into /proc/sys/vm/drop_caches (page cache
plus dentries and inodes). Inside a network namespace that file is still the machine's, so a
namespace "host" drops the whole machine's cache; that is what a benchmark wants anyway.

Pure stdlib, Python 3.8 syntax: runs inside Ansible modules on the clients.
"""

from __future__ import annotations

import datetime
import os
from typing import Callable, Optional

try:  # inside Ansible (ansible.module_utils) or the mlps_module_utils package
    from .mlps_procfs import parse_meminfo
except ImportError:  # run as a plain file next to mlps_procfs.py
    from mlps_procfs import parse_meminfo  # type: ignore[no-redef]

DROP_FILE = "sys/vm/drop_caches"  # relative to the /proc root
WHAT_TO_DO = "run the play with become: true, or set mlps_training_drop_caches=false"


class CacheDropError(RuntimeError):
    """The cache could not be dropped (or its size read); the message names the host."""


def _now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cached_bytes(proc_root: str = "/proc") -> int:
    """Page-cache size in bytes: the `Cached` line of meminfo."""
    with open(os.path.join(proc_root, "meminfo"), encoding="ascii", errors="replace") as handle:
        data, _skipped = parse_meminfo(handle.read())
    if "Cached" not in data:
        raise ValueError("no Cached line in {}/meminfo".format(proc_root))
    return data["Cached"]


def drop_caches(enabled: bool, check_mode: bool, host: str, euid: Optional[int] = None,
                proc_root: str = "/proc", sync: Callable[[], None] = os.sync) -> dict:
    """Drop the caches when enabled; the result keys match library/mlps_drop_caches.py's RETURN."""
    euid = os.geteuid() if euid is None else euid
    result = {"dropped": False, "cached_before_bytes": None, "cached_after_bytes": None, "at": _now_utc(),
              "host": host, "reason": None, "changed": False}
    try:
        result["cached_before_bytes"] = cached_bytes(proc_root)
    except (OSError, ValueError) as exc:
        raise CacheDropError("{}: cannot read the page-cache size: {}".format(host, exc)) from exc
    if not enabled:
        result["reason"] = "disabled (mlps_training_drop_caches=false)"
        return result
    if euid != 0:
        # fail in check mode too: a what-if run should stop where the real one would
        raise CacheDropError("{}: dropping the page cache needs root (running as uid {}); {}".format(
            host, euid, WHAT_TO_DO))
    if check_mode:
        result["reason"] = "check mode: would sync and write 3 to {}".format(os.path.join(proc_root, DROP_FILE))
        return result
    sync()
    try:
        with open(os.path.join(proc_root, DROP_FILE), "w", encoding="ascii") as handle:
            handle.write("3\n")
    except OSError as exc:
        raise CacheDropError("{}: cannot write {}: {}; {}".format(
            host, os.path.join(proc_root, DROP_FILE), exc.strerror or exc, WHAT_TO_DO)) from exc
    result.update(dropped=True, changed=True, at=_now_utc(), cached_after_bytes=cached_bytes(proc_root))
    return result
