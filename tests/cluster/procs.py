"""Process helpers for the test cluster: identify, find and stop only the processes it started.

Everything reads /proc directly so the teardown needs no extra tools and never matches by a
broad name: a process belongs to a cluster when it lives in one of its network namespaces or
when its argv names one of the cluster's own files (sshd config, ssh control socket).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Owner:
    """A process identity that survives pid reuse: pid plus its start time in clock ticks."""

    pid: int
    start: int

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        start = start_time(pid)
        if start is None:  # pragma: no cover - our own /proc entry always exists
            raise RuntimeError("cannot read this process's start time from /proc")
        return cls(pid, start)

    def alive(self) -> bool:
        return start_time(self.pid) == self.start and not is_zombie(self.pid)

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: dict | None) -> Owner | None:
        if not data:
            return None
        return cls(int(data["pid"]), int(data["start"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    # Field 22 of stat is starttime; fields[0] here is field 3 (state).
    return int(fields[19]) if fields else None


def is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] in ("Z", "X")


def exists(pid: int) -> bool:
    """True while the process runs; a zombie no longer holds anything, so it counts as gone."""
    return _stat_fields(pid) is not None and not is_zombie(pid)


def cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def all_pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def netns_inode(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def pids_in_netns(netns_names: Iterable[str]) -> set[int]:
    """Processes whose network namespace is one of the named ones (what `ip netns pids` does)."""
    wanted = {ino for name in netns_names if (ino := netns_inode(f"/run/netns/{name}")) is not None}
    if not wanted:
        return set()
    found = set()
    for pid in all_pids():
        if netns_inode(PROC / str(pid) / "ns" / "net") in wanted and not is_zombie(pid):
            found.add(pid)
    return found


def parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(pids: set[int]) -> set[int]:
    """Every live process below one of `pids` (children, grandchildren, ...), not `pids` itself."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        ppid = parent(pid)
        if ppid is not None and not is_zombie(pid):
            children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(pids)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found and child not in pids and child != os.getpid():
                found.add(child)
                todo.append(child)
    return found


def pids_naming(files: Iterable[str], mux_prefix: str | None) -> set[int]:
    """Processes whose argv names one of `files`, or ssh mux masters under `mux_prefix`.

    A ControlPersist master renames itself to "ssh: <control path> [mux]", so the prefix of our
    control-socket directory identifies it without touching anybody else's ssh.
    """
    wanted = set(files)
    found = set()
    me = os.getpid()
    for pid in all_pids():
        if pid == me:
            continue
        argv = cmdline(pid)
        if not argv or is_zombie(pid):
            continue
        # Substrings: a running sshd rewrites its argv into one "sshd: ... -f <config> [listener]".
        names_file = any(f in arg for arg in argv for f in wanted)
        if names_file or (mux_prefix and argv[0].startswith(f"ssh: {mux_prefix}")):
            found.add(pid)
    return found


def terminate(pids: set[int], grace: float = 3.0) -> set[int]:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL what is left. Returns pids still running."""
    pids = {pid for pid in pids if pid != os.getpid()}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            pids = {pid for pid in pids if exists(pid)}
            if pids:
                time.sleep(0.02)
        if not pids:
            break
    return pids
