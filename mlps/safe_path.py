"""One way to open a file or folder of an untrusted tree: below a root, never through a symlink that
leaves it, at any depth.

The path is resolved first (a link that stays inside the root is fine: it is read where it really
is); a target outside the root is refused with OutsideRoot. Then every component is opened from
the root's own descriptor with O_NOFOLLOW, so a link swapped in after the check fails (ELOOP)
instead of leading out. Writers use ensure_dir_under: each folder is created or opened the same
way, so output never goes through a symlink planted in a downloaded tree.
"""

from __future__ import annotations

import contextlib
import errno
import os

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class OutsideRoot(OSError):
    """`path` resolves (through a symlink) to `target`, outside `root`."""

    def __init__(self, path, target: str):
        super().__init__(errno.ELOOP, f"symlink points outside the tree to {target}")
        self.path, self.target = str(path), target


def is_inside(root_real: str, target: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def _parts_under(root, path) -> tuple[str, list[str]]:
    root_real = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root_real, path))
    if not is_inside(root_real, target):
        raise OutsideRoot(path, target)
    rel = os.path.relpath(target, root_real)
    return root_real, [] if rel == os.curdir else rel.split(os.sep)


def open_under(root, path, flags: int = os.O_RDONLY) -> int:
    """A descriptor of `path` (absolute, or relative to `root`) opened with `flags`, or OSError:
    OutsideRoot when it resolves outside `root`, ELOOP when a component became a symlink meanwhile."""
    rel = os.path.relpath(os.path.join(root, path), root)
    if rel != os.pardir and not rel.startswith(os.pardir + os.sep) and not os.path.isabs(rel):
        # Fast path, no symlink on the way (the usual case): open component by component at once.
        try:
            return _open_parts(str(root), [] if rel == os.curdir else rel.split(os.sep), flags)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
    # A symlink on the way: follow it only when it resolves inside the root.
    root_real, parts = _parts_under(root, path)
    return _open_parts(root_real, parts, flags)


def _open_parts(top: str, parts: list[str], flags: int) -> int:
    """Open top/parts[0]/.../parts[-1], every component with O_NOFOLLOW from its parent's descriptor."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        if not parts:
            return os.dup(fd)
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def ensure_dir_under(root, rel: str) -> None:
    """Create the folders of `rel` below `root` (which must exist and not be a symlink), refusing
    (OSError ELOOP/ENOTDIR) any component that is a symlink or not a folder."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in (p for p in str(rel).split("/") if p not in ("", ".")):
            if part == "..":
                raise OSError(errno.EPERM, "'..' in a path built from the tree")
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
