"""Open and create files under a staging folder without trusting the folders above it.

The modules run as root on clients other people log into. A folder above the staging folder that
another user can change (own it, or write into it without the sticky bit) lets that user swap in
a symlink and have root truncate or plant any file. So every writer under staging goes through
here: each folder from / down to the file is checked (trusted owner: root or the running user;
not group/world-writable unless sticky), folders we create are 0700, and files are opened with
O_NOFOLLOW (and O_EXCL where they must be new).

Standard library only, Python 3.8+: it runs on the clients.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

_MAX_LINKS = 40  # like the kernel's ELOOP bound


class UnsafePathError(OSError):
    """A path whose folders another user could change; the message is one line with the fix."""


def _trusted(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _describe(path: str, st: os.stat_result) -> str:
    return f"{path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}"


def _fix(path: str) -> str:
    return (f"remove {path} (or make it owned by root, mode 0700: chown root: {path}; chmod 0700 {path}) "
            "or set mlps_training_staging_dir / mlps_checkpointing_staging_dir to a folder only root can write")


def _check_dir(path: str, st: os.stat_result) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(errno.ENOTDIR, f"unsafe staging path: {path} is not a folder; {_fix(path)}")
    writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if not _trusted(st.st_uid) or (writable_by_others and not st.st_mode & stat.S_ISVTX):
        raise UnsafePathError(errno.EPERM, f"unsafe staging path: {_describe(path, st)}; {_fix(path)}")


def check_folder(folder: str, _links: int = 0) -> str:
    """Check every folder from / down to `folder` (which must exist); return its real path.

    A symlink on the way is followed only when a trusted user owns it (the folder holding it was
    already checked, so nobody else can replace it); its target is checked the same way.
    """
    if not os.path.isabs(folder):
        raise UnsafePathError(errno.EINVAL, f"staging path {folder!r} is not absolute; give an absolute path")
    current = "/"
    _check_dir(current, os.lstat(current))
    for part in [p for p in os.path.normpath(folder).split("/") if p]:
        candidate = os.path.join(current, part)
        st = os.lstat(candidate)
        if stat.S_ISLNK(st.st_mode):
            if not _trusted(st.st_uid) or _links >= _MAX_LINKS:
                raise UnsafePathError(errno.ELOOP, f"unsafe staging path: {candidate} is a symlink owned by uid "
                                                   f"{st.st_uid}; {_fix(candidate)}")
            target = os.path.join(current, os.readlink(candidate))
            current = check_folder(os.path.normpath(target), _links + 1)
            continue
        _check_dir(candidate, st)
        current = candidate
    return current


def make_folder(folder: str, mode: int = 0o700) -> str:
    """Create `folder` and any missing parent (each `mode`, ours), after checking what exists; return it.

    An existing folder is kept as it is when it passes the check; one that another user could
    change is refused, never repaired, since it may already hold planted files.
    """
    if not os.path.isabs(folder):
        raise UnsafePathError(errno.EINVAL, f"staging path {folder!r} is not absolute; give an absolute path")
    parts = [p for p in os.path.normpath(folder).split("/") if p]
    existing = "/"
    for i in range(len(parts), -1, -1):
        probe = "/" + "/".join(parts[:i])
        if os.path.lexists(probe):
            existing = probe
            missing = parts[i:]
            break
    current = check_folder(existing)
    for part in missing:
        current = os.path.join(current, part)
        with contextlib.suppress(FileExistsError):  # made meanwhile by another task: checked below
            os.mkdir(current, mode)
        _check_dir(current, os.lstat(current))
    return current


def open_file(path: str, flags: int, mode: int = 0o600, *, new: bool = False) -> int:
    """os.open `path` after checking its folder chain; never through a symlink at the last step.

    new=True adds O_CREAT|O_EXCL: the file must not exist (a planted file or link is refused).
    """
    folder = check_folder(os.path.dirname(os.path.abspath(path)) or "/")
    real = os.path.join(folder, os.path.basename(path))
    truncate = flags & os.O_TRUNC
    flags = (flags & ~os.O_TRUNC) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    if new:
        flags |= os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(real, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(errno.ELOOP, f"unsafe staging path: {path} is a symlink; remove it") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or not _trusted(st.st_uid) or st.st_nlink > 1:
        os.close(fd)
        # A hard link to a victim (same owner, so fstat alone cannot tell) shows as a second link.
        raise UnsafePathError(errno.EPERM, f"unsafe staging path: {_describe(path, st)} "
                                           f"({st.st_nlink} links); remove it")
    if truncate:  # only once the file is known to be ours alone
        os.ftruncate(fd, 0)
    return fd


def replace_file(path: str, flags: int = os.O_WRONLY, mode: int = 0o644) -> int:
    """A file we (re)write: a fresh file, created exclusively after unlinking what was there.

    Unlinking a planted symlink or hard link removes the link only, never its target.
    """
    folder = check_folder(os.path.dirname(os.path.abspath(path)) or "/")
    real = os.path.join(folder, os.path.basename(path))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(real)
    return open_file(real, flags, mode, new=True)


def touch(path: str, mode: int = 0o600) -> None:
    """Create `path` if missing and set its times to now, never following a link."""
    fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.utime(fd)
    finally:
        os.close(fd)
