"""Unpack a client's staging archive into a results leaf without trusting the client.

A client is another machine (run as root by people we do not control), so its archive is hostile
input: it is opened uncompressed only, its members are counted and sized from their headers
before a byte is written (per file, per archive), sparse members, links, devices and names
outside what the host's phase writes are refused, and a refusal refuses the whole archive.

What a host may write: `<output part>/<name>` for the names the benchmark's ranks write into
their output folder (a pattern the benchmark gives; DLIO's by default), and
`<series part>/<that host>.jsonl`, its own time series. The controller's own files in a leaf
(metadata, cluster_info*.json, preflight.json, drop_caches.json, results.json, another host's
series) never come from a client.
"""

from __future__ import annotations

import contextlib
import os
import re
import tarfile
import tempfile
from pathlib import Path

MAX_MEMBERS = 20_000            # ~2 files per rank: room for thousands of ranks
MAX_MEMBER_BYTES = 1 << 30      # 1 GiB: the largest is dlio.log or a 6-hour series (tens of MB)
MAX_ARCHIVE_BYTES = 4 << 30     # 4 GiB of content per archive
_CHUNK = 1 << 20

# Names DLIO 2.0.0 and the native checkpoint engine write in their output folder (Hydra's run dir):
# training's and checkpointing's pattern. Another benchmark passes its own to phase.end.
DLIO_OUTPUTS = re.compile(
    r"^(?:summary\.json|per_epoch_stats\.json|\d+_output\.json|\d+_per_epoch_stats\.json"
    r"|[A-Za-z0-9_.-]+\.log|\.hydra/(?:config|hydra|overrides)\.yaml|trace-[A-Za-z0-9_-]+\.pfw(?:\.gz)?)$")


class ArchiveRefused(ValueError):
    """One line: which archive, which member, what was expected."""


def _allowed(host: str, parts: tuple, routes: dict, names: re.Pattern) -> tuple | None:
    """Where the member goes under the leaf, or None when this host's phase never writes it."""
    top, rest = parts[0], "/".join(parts[1:])
    if top not in routes or not rest:
        return None
    if routes[top] == ".":   # the output part, unpacked at the leaf's root
        return tuple(parts[1:]) if names.match(rest) else None
    return (*Path(routes[top]).parts, f"{host}.jsonl") if rest == f"{host}.jsonl" else None


def _plan(tar: tarfile.TarFile, host: str, routes: dict, limits: dict, names: re.Pattern) -> list:
    """Check every header (count, type, size, name) first; return (member, target parts) pairs."""
    plan, total, count = [], 0, 0
    while True:
        member = tar.next()
        if member is None:
            return plan
        count += 1
        if count > limits["members"]:
            raise ArchiveRefused(f"more than {limits['members']} members")
        if member.isdir():
            continue   # folders are made for the files that need them
        name = member.name
        if member.issparse():
            raise ArchiveRefused(f"member {name!r} is a sparse file")
        if not member.isreg():
            raise ArchiveRefused(f"member {name!r} is not a plain file (link or device)")
        parts = tuple(p for p in name.split("/") if p not in ("", "."))
        if not parts or name.startswith("/") or ".." in parts:
            raise ArchiveRefused(f"member {name!r} points outside the leaf")
        target = _allowed(host, parts, routes, names)
        if target is None:
            raise ArchiveRefused(f"member {name!r} is not a file this host's phase writes "
                                 f"(expected the benchmark's output files or timeseries/{host}.jsonl)")
        if member.size > limits["member_bytes"]:
            raise ArchiveRefused(f"member {name!r} is {member.size} bytes, above the {limits['member_bytes']} "
                                 "bytes allowed per file")
        total += member.size
        if total > limits["archive_bytes"]:
            raise ArchiveRefused(f"members add up to more than the {limits['archive_bytes']} bytes allowed")
        plan.append((member, target))


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Stream one member into `target` through a temp file and a rename (never half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            source = tar.extractfile(member)
            left = member.size
            while left:
                chunk = source.read(min(_CHUNK, left))
                if not chunk:
                    raise ArchiveRefused(f"member {member.name!r} ends early")
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def unpack(archive, host: str, leaf, routes: dict, limits: dict | None = None,
           names: re.Pattern = DLIO_OUTPUTS) -> list[str]:
    """Unpack one host's archive into `leaf`; return the written paths relative to it. `names`: what
    the output part may hold (relative paths the benchmark's ranks write).

    Raises ArchiveRefused (one line naming the archive's host) and writes nothing when any member
    is refused or the archive cannot be read.
    """
    limits = {"members": MAX_MEMBERS, "member_bytes": MAX_MEMBER_BYTES, "archive_bytes": MAX_ARCHIVE_BYTES,
              **(limits or {})}
    leaf = Path(leaf).resolve()
    written = []
    try:
        with tarfile.open(archive, mode="r:") as tar:   # uncompressed only: no decompression bomb
            plan = _plan(tar, host, routes, limits, names)
            for member, parts in plan:
                target = leaf.joinpath(*parts)
                if leaf not in target.parents or target.is_symlink():
                    raise ArchiveRefused(f"member {member.name!r} points outside the leaf")
                _copy(tar, member, target)
                written.append(str(target.relative_to(leaf)))
    except ArchiveRefused as exc:
        raise ArchiveRefused(f"archive from {host} refused: {exc}") from None
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveRefused(f"archive from {host} refused: not a readable uncompressed tar ({exc})") from None
    return written
