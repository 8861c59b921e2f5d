"""A tiny FUSE filesystem spoken straight to /dev/fuse (no libfuse, no PyPI package), to make a
hung mount on purpose: mount it, then SIGSTOP its daemon and every statvfs/stat/open under it
waits for an answer that never comes, as on a dead NFS server.

The filesystem is one empty, read-only root directory that answers the few requests the kernel
sends for it (INIT, GETATTR, LOOKUP, STATFS, OPENDIR, READDIR, RELEASEDIR, ACCESS); anything else
gets ENOSYS. Attributes are never cached (valid = 0), so after SIGSTOP every access reaches the
stopped daemon. Needs root (mount(2)) and /dev/fuse.

    python tests/faults/fusefs.py MOUNTPOINT      # serve until unmounted

`HungMount` is the test-side handle: start, stop (SIGSTOP), and a teardown that always leaves
nothing behind (SIGCONT so waiting callers get their answers, lazy unmount, daemon ended).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

# Opcodes of the kernel's FUSE protocol (include/uapi/linux/fuse.h).
LOOKUP, FORGET, GETATTR, STATFS, INIT, OPENDIR, READDIR, RELEASEDIR = 1, 2, 3, 17, 26, 27, 28, 29
ACCESS, INTERRUPT, DESTROY, BATCH_FORGET = 34, 36, 38, 42
NO_REPLY = {FORGET, BATCH_FORGET, INTERRUPT}

IN_HEADER = struct.Struct("<IIQQIIIHH")       # len, opcode, unique, nodeid, uid, gid, pid, extlen, pad
OUT_HEADER = struct.Struct("<IiQ")            # len, error, unique
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")     # fuse_attr: 88 bytes
ROOT_ID = 1
FS_NAME = "mlpsfuse"


def _attr_out() -> bytes:
    now = int(time.time())
    attr = ATTR.pack(ROOT_ID, 0, 0, now, now, now, 0, 0, 0, stat.S_IFDIR | 0o755, 2, 0, 0, 0, 4096, 0)
    return struct.pack("<QII", 0, 0, 0) + attr    # attr_valid 0: the kernel asks every time


def _init_out(body: bytes) -> bytes:
    _major, minor = struct.unpack_from("<II", body)
    # fuse_init_out (64 bytes): major, minor, max_readahead, flags, max_background,
    # congestion_threshold, max_write, time_gran, max_pages, map_alignment, flags2, unused[7]
    return struct.pack("<IIIIHHIIHHI7I", 7, min(minor, 31), 0, 0, 16, 12, 131072, 1, 32, 0, 0, *[0] * 7)


# fuse_kstatfs: blocks, bfree, bavail, files, ffree, bsize, namelen, frsize, padding, spare[6]
_STATFS = struct.pack("<QQQQQIIII6I", 1 << 20, 1 << 19, 1 << 19, 1000, 900, 4096, 255, 4096, 0, *[0] * 6)
_OPEN_OUT = struct.pack("<QII", 0, 0, 0)          # fh, open_flags, padding
# opcode -> payload of the answer (READDIR: an empty directory)
_ANSWERS = {INIT: _init_out, GETATTR: lambda _b: _attr_out(), STATFS: lambda _b: _STATFS,
            OPENDIR: lambda _b: _OPEN_OUT, READDIR: lambda _b: b"", RELEASEDIR: lambda _b: b"",
            ACCESS: lambda _b: b""}


def _reply(opcode: int, body: bytes) -> tuple[int, bytes]:
    """(errno, payload) for one request: LOOKUP finds nothing, unknown requests are ENOSYS."""
    if opcode in _ANSWERS:
        return 0, _ANSWERS[opcode](body)
    return (errno.ENOENT if opcode == LOOKUP else errno.ENOSYS), b""


def _mount(target: str, fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    flags = 0x2 | 0x4 | 0x1                        # MS_NOSUID | MS_NODEV | MS_RDONLY
    if libc.mount(FS_NAME.encode(), target.encode(), b"fuse." + FS_NAME.encode(), flags, options) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {target}: {os.strerror(code)}")


def serve(target: str) -> int:
    fd = os.open("/dev/fuse", os.O_RDWR)
    _mount(target, fd)
    print(f"mounted {target}", flush=True)
    while True:
        try:
            request = os.read(fd, 1 << 20 | 4096)
        except OSError as exc:
            if exc.errno in (errno.EINTR, errno.ENOENT):
                continue                           # ENOENT: an interrupted request we never saw
            if exc.errno == errno.ENODEV:
                return 0                           # unmounted
            raise
        _length, opcode, unique, _node, *_rest = IN_HEADER.unpack_from(request)
        if opcode in NO_REPLY:
            continue
        error, payload = _reply(opcode, request[IN_HEADER.size:])
        with contextlib.suppress(OSError):         # the caller may have been interrupted meanwhile
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), -error, unique) + payload)
        if opcode == DESTROY:
            return 0


def is_mounted(target: str) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        return any(line.split()[1] == target for line in handle if len(line.split()) > 1)


class HungMount:
    """A FUSE mount at `target` served by a child process; `stop()` makes it hang."""

    def __init__(self, target: Path):
        self.target = str(target)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> HungMount:
        Path(self.target).mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, __file__, self.target], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.target):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"FUSE mount at {self.target} did not come up: {self.proc.stderr.read()[-500:]}")
            time.sleep(0.05)
        os.statvfs(self.target)                    # answered while the daemon runs
        return self

    def stop(self) -> None:
        """SIGSTOP the daemon: from now on the mount does not answer."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def close(self) -> None:
        """SIGCONT (callers still waiting get their answers), lazy unmount, end the daemon."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
        if is_mounted(self.target):
            subprocess.run(["umount", "-l", self.target], check=False, timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()
        self.proc = None

    def __enter__(self) -> HungMount:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.close()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].startswith("/"):
        sys.exit("usage: fusefs.py /absolute/mountpoint")
    sys.exit(serve(sys.argv[1]))
