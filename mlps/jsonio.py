"""Results-file I/O in one place: atomic writes and bounded JSON reads.

Writes go to a temporary file in the target's folder, are fsynced, then renamed over the target,
so a reader (or a crash, or a full disk) sees the old file or the whole new one, never half of
one. Any OSError becomes a UserError naming the target path, the cause and what to do; the
temporary file is removed and the previous file is left as it was.

Reads refuse, before parsing:
- a file above MAX_BYTES (64 MiB; the size is taken with fstat before reading, and at most
  max_bytes + 1 bytes are read, so a file that grows meanwhile is caught too). The largest file
  the rules read, a DLIO summary with per-host dumps, is a few MiB.
- JSON nested deeper than MAX_DEPTH (64) levels. Results documents are under 10 levels deep; the
  depth is measured on the bracket skeleton with C-speed string operations, so a hostile
  `[[[[...` neither recurses nor costs a parse.
Errors are ReadError, a UserError that also carries `kind` (the reader's Problem kinds:
unreadable, too_large, unparsable, symlink) and `detail` (the message without the path).

Files of a tree someone else wrote are read with `root=`: opened through mlps.safe_path, so
no symlink that leaves the root is followed at any depth. YAML (parse_yaml) is capped at
YAML_MAX_BYTES (1 MiB): a DLIO config is a few KiB, and the YAML loader needs about 200 bytes of
memory per byte of a flow list, so a 64 MiB file could take gigabytes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path

import yaml

from mlps.errors import UserError
from mlps.safe_path import OutsideRoot, open_under

MAX_BYTES = 64 * 2**20
MAX_DEPTH = 64
YAML_MAX_BYTES = 2**20
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FILE_MODE = 0o644          # results and reports are read by others; mkstemp alone would give 0600

# A JSON string (quotes and escapes included), written unrolled so the regex engine does not
# backtrack per character.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# bytes.translate table: `{`/`}` become `[`/`]`, so one replace per pass removes every innermost pair.
_SKELETON = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_SKELETON = bytes(b for b in range(256) if b not in b'"[]{}')


class ReadError(UserError):
    """A file that cannot be used as JSON; `kind` is unreadable|too_large|unparsable|symlink."""

    def __init__(self, path, kind: str, detail: str, advice: str, os_errno: int | None = None):
        super().__init__(f"{path}: {detail}; {advice}")
        self.path = str(path)
        self.kind = kind
        self.detail = detail
        self.errno = os_errno             # the OSError's errno when reading failed, else None


# --- reading -------------------------------------------------------------------------------------
def read_bytes(path, *, max_bytes: int = MAX_BYTES, follow_symlinks: bool = True, root=None,
               dir_fd: int | None = None) -> bytes:
    """The content of the regular file `path`, refused (ReadError) above `max_bytes`. With `root`,
    `path` is opened below it (safe_path.open_under): a symlink leaving `root` is kind `symlink`.
    With `dir_fd` (a descriptor of the folder holding `path`, opened below the root), only the file
    name is opened from it, never through a symlink: one open instead of one per folder on the way."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK      # O_NONBLOCK: a FIFO must not hang the open
    if not follow_symlinks or dir_fd is not None:
        flags |= os.O_NOFOLLOW
    try:
        fd = _open(path, flags, root, dir_fd)
    except OutsideRoot as exc:
        raise ReadError(path, "symlink", f"{exc.strerror}; not read",
                        "copy the file itself into the tree") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and (root is not None or not follow_symlinks or dir_fd is not None):
            raise ReadError(path, "symlink", "is a symbolic link, not followed",
                            "copy the file itself into place") from None
        raise _unreadable(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadError(path, "unreadable", "not a regular file", "give a plain file")
        if info.st_size > max_bytes:
            raise _too_large(path, info.st_size, max_bytes)
        # os.read allocates what it is asked for: ask for the stated size (+1 to see the end), then
        # small chunks for a file that grew or, like /proc, states no size.
        chunks, total, want = [], 0, info.st_size + 1
        while total <= max_bytes:
            chunk = os.read(fd, min(want, max_bytes + 1 - total))
            want = 1 << 16
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:                   # grew after the fstat
            raise _too_large(path, total, max_bytes, at_least=True)
        return b"".join(chunks)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(fd)


def _open(path, flags: int, root, dir_fd: int | None) -> int:
    if dir_fd is not None:
        return os.open(os.path.basename(path), flags, dir_fd=dir_fd)
    return open_under(root, path, flags) if root is not None else os.open(path, flags)


def nesting_exceeds(data: bytes | str, max_depth: int = MAX_DEPTH) -> bool:
    """True when the JSON text `data` nests arrays/objects deeper than `max_depth` levels.

    Works on the bracket skeleton (strings removed): each pass deletes every innermost `[]`, so a
    document of depth d is empty after d passes; at most max_depth passes of C-speed replace, and
    fewer when a chain of max_depth + 1 openers shows up. Never recurses. Unbalanced brackets are
    left for the JSON parser to report.
    """
    raw = _as_utf8(data)
    if raw.count(b"[") + raw.count(b"{") <= max_depth:     # the common case: too few to nest deeper
        return False
    skeleton = _skeleton(raw)
    chain = b"[" * (max_depth + 1)              # consecutive openers nest: the usual attack, found at once
    for _ in range(max_depth):
        if chain in skeleton:
            return True
        shorter = skeleton.replace(b"[]", b"")
        if len(shorter) == len(skeleton):
            return False
        skeleton = shorter
    return b"[]" in skeleton


def _skeleton(raw: bytes) -> bytes:
    """The brackets of a JSON text outside its strings, `{}` as `[]`.

    Without backslashes, a string that holds no bracket is two adjacent quotes once everything but
    quotes and brackets is gone; when no quote is left after removing such pairs, no string held a
    bracket and the rest is the skeleton. That is ten times faster than the string regex, which took
    as long as decoding a time series; anything else takes the regex."""
    if b"\\" not in raw:
        quick = raw.translate(None, _NOT_SKELETON).replace(b'""', b"")
        if b'"' not in quick:
            return quick.translate(_SKELETON)
    return _STRING.sub(b"", raw).translate(_SKELETON, _NOT_BRACKETS)


def parse_json(data: bytes | str, where="<input>", *, max_depth: int = MAX_DEPTH):
    """json.loads with the depth limit; ReadError (kind unparsable) names `where` on any failure."""
    try:
        too_deep = nesting_exceeds(data, max_depth)
    except UnicodeDecodeError as exc:
        raise _invalid(where, f"not valid JSON: {exc}") from None
    if too_deep:
        raise ReadError(where, "unparsable", f"JSON nested deeper than {max_depth} levels, refused",
                        "check the file is what mlps or DLIO wrote")
    try:
        return json.loads(data)
    except RecursionError:                      # not reachable past the check above; kept as a guard
        raise ReadError(where, "unparsable", "JSON nested too deeply, refused",
                        "check the file is what mlps or DLIO wrote") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(where, f"not valid JSON: {exc}") from None


def load_json(path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, follow_symlinks: bool = True,
              root=None):
    """The JSON document in `path`, or ReadError (a UserError) naming the path and the limit hit."""
    return parse_json(read_bytes(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks, root=root), path,
                      max_depth=max_depth)


def parse_jsonl(data: bytes, where="<input>", *, max_depth: int = MAX_DEPTH) -> tuple[list, int]:
    """(records, skipped) of JSON Lines: each line through parse_json (depth-limited); a line that
    is not JSON is counted in `skipped`, never raised."""
    records, skipped = [], 0
    try:
        shallow = not nesting_exceeds(data, max_depth)
    except UnicodeDecodeError:
        shallow = False
    if shallow:
        # One depth check for the whole file (the common case): per line it would cost a time
        # series of thousands of samples its skeleton passes thousands of times.
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (ValueError, RecursionError):
                skipped += 1
        return records, skipped
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            records.append(parse_json(line, where, max_depth=max_depth))
        except ReadError:
            skipped += 1
    return records, skipped


def parse_yaml(data: bytes | str, where="<input>", *, max_bytes: int = YAML_MAX_BYTES, max_depth: int = MAX_DEPTH):
    """A YAML document through the safe loader, or ReadError (kind too_large or unparsable): above
    `max_bytes`, not valid YAML, nested deeper than `max_depth`, or built with anchors/aliases."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise ReadError(where, "too_large", f"{len(raw)} bytes of YAML is above the {max_bytes}-byte limit",
                        "check it is the file expected (a DLIO or system YAML file is a few KiB)")
    text = raw.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        document = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader (C or pure-Python SafeLoader)
    except yaml.YAMLError as exc:
        raise _invalid(where, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:                  # the pure-Python loader recurses per nesting level
        raise _invalid(where, "YAML nested too deeply") from None
    problem = shape_problem(document, max_depth)
    if problem:
        raise _invalid(where, f"YAML {problem}")
    return document


def load_yaml(path, *, max_bytes: int = YAML_MAX_BYTES, root=None):
    """The YAML document in `path` (see parse_yaml), read like read_bytes (`root` confines it)."""
    return parse_yaml(read_bytes(path, max_bytes=max_bytes, root=root), path, max_bytes=max_bytes)


def shape_problem(value, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed YAML document is unsafe to hand on, or None. YAML anchors/aliases let one list be
    reached many times (a small file that expands without bound when printed or walked, or a list
    that contains itself); a results file never needs them, so any container met twice is refused,
    as is nesting deeper than max_depth. Walks with an explicit stack, so no recursion."""
    seen: set[int] = set()
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if id(item) in seen:
            return "reuses a mapping or list through YAML anchors/aliases; write it out in full"
        seen.add(id(item))
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


def _as_utf8(data: bytes | str) -> bytes:
    """UTF-8 bytes, where `"` and brackets are single ASCII bytes (not so in UTF-16/32)."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(data)
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    return data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")


def _unreadable(path, exc: OSError) -> ReadError:
    cause = exc.strerror or str(exc)
    advice = "check the path" if exc.errno == errno.ENOENT else "check it is a readable file"
    return ReadError(path, "unreadable", f"cannot read it ({cause})", advice, exc.errno)


def _too_large(path, size: int, limit: int, at_least: bool = False) -> ReadError:
    size_text = f"{'at least ' if at_least else ''}{size} bytes"
    return ReadError(path, "too_large", f"{size_text} is above the {limit}-byte limit",
                     "check it is the file expected (a results JSON file is a few MiB at most)")


def _invalid(where, detail: str) -> ReadError:
    return ReadError(where, "unparsable", detail, "restore or regenerate the file")


# --- writing -------------------------------------------------------------------------------------
def write_bytes_atomic(path, data: bytes, *, hint: str | None = None) -> Path:
    """Replace `path` with `data` atomically and durably (see the module docstring)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc, hint) from None
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)      # may itself report a deferred write error (NFS): same handling
        os.replace(tmp, path)
    except BaseException as exc:                # an interrupt too: never leave the temp file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(path, exc, hint) from None
        raise
    _fsync_dir(path.parent)
    return path


def write_text_atomic(path, text: str, *, hint: str | None = None) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), hint=hint)


def write_json_atomic(path, data, *, indent: int | None = 1, sort_keys: bool = False, default=None,
                      hint: str | None = None) -> Path:
    """Write `data` as JSON (plus a newline). Serialised before any file is touched, so data JSON
    cannot represent raises TypeError/ValueError (a bug, not bad input) and leaves the disk as it was."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    return write_text_atomic(path, text, hint=hint)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable. Best effort: some filesystems refuse fsync on a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_error(path: Path, exc: OSError, hint: str | None) -> UserError:
    cause = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "free space on that filesystem (or raise the quota) and run again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "make the folder writable or choose another location"
    else:
        advice = "check the folder exists and is writable"
    if hint:
        advice = f"{advice}, or {hint}"
    return UserError(f"cannot write {path} ({cause}); the previous file, if any, is unchanged; {advice}")
