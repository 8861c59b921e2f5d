"""library/mlps_drop_caches.py run for real through `ansible localhost` (root drops the machine's page
cache, a non-root user is refused), plus the logic of module_utils/mlps_drop_caches.py on a fake
/proc so every branch is reached without touching the machine."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mlps_module_utils import mlps_drop_caches as dc
from tests.adhoc import run_module

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOBODY = 65534  # uid and gid of nobody
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="dropping the page cache needs root")


def _env(**extra) -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}", **extra)


def ansible(args: dict, *extra: str, prefix: tuple = (), env: dict | None = None) -> tuple[str, dict]:
    return run_module("mlps_drop_caches", args, *extra, env=env, prefix=prefix)[:2]

def resident_pages(path: Path) -> int:
    """Pages of `path` in the page cache (mincore(2)), to see our own file leave the cache."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    with path.open("r+b") as handle, mmap.mmap(handle.fileno(), size) as mm:
        start = ctypes.c_char.from_buffer(mm)
        try:
            rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(start)), ctypes.c_size_t(size), vec)
            assert rc == 0, os.strerror(ctypes.get_errno())
        finally:
            del start  # release the buffer export, or the mmap cannot close
    return sum(v & 1 for v in vec)


def run_as_nobody(env: dict) -> tuple[str, dict]:
    python = shutil.which("python3", path="/usr/bin:/bin")
    return ansible({}, "-e", f"ansible_python_interpreter={python}", env=env,
                   prefix=("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"))


@pytest.fixture
def cached_file(tmp_path: Path) -> Path:
    """32 MiB written, synced and read back, so its pages sit clean in the page cache."""
    path = tmp_path / "warm.bin"
    with path.open("wb") as handle:
        for _ in range(32):
            handle.write(os.urandom(1 << 20))
        handle.flush()
        os.fsync(handle.fileno())
    path.read_bytes()
    assert resident_pages(path) > 4096  # of 8192
    return path


def test_module_documentation_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_drop_caches"],
                          capture_output=True, text=True, cwd=ROOT, env=_env(), check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "enabled" in proc.stdout and "cached_before_bytes" in proc.stdout and "EXAMPLES" in proc.stdout


@needs_root
def test_root_drops_the_cache_and_keeps_before_and_after(cached_file):
    status, result = ansible({})
    assert status == "CHANGED", result
    assert result["dropped"] is True and result["changed"] is True and result["reason"] is None
    assert result["host"] == socket.gethostname()
    assert UTC_Z.match(result["at"])
    assert result["cached_before_bytes"] >= 32 << 20  # our own file was in it
    assert isinstance(result["cached_after_bytes"], int) and result["cached_after_bytes"] >= 0
    assert resident_pages(cached_file) < 512  # our clean pages are gone (a few may be read back)


@needs_root
def test_disabled_reports_the_size_and_drops_nothing(cached_file):
    status, result = ansible({"enabled": False})
    assert status == "SUCCESS", result
    assert (result["dropped"], result["changed"], result["cached_after_bytes"]) == (False, False, None)
    assert "disabled" in result["reason"] and result["cached_before_bytes"] >= 32 << 20
    assert resident_pages(cached_file) > 4096


@needs_root
def test_check_mode_reports_what_it_would_do_and_changes_nothing(cached_file):
    status, result = ansible({}, "--check")
    assert status == "SUCCESS", result
    assert (result["dropped"], result["changed"], result["cached_after_bytes"]) == (False, False, None)
    assert result["reason"] == "check mode: would sync and write 3 to /proc/sys/vm/drop_caches"
    assert result["cached_before_bytes"] >= 32 << 20
    assert resident_pages(cached_file) > 4096


@needs_root
def test_a_user_who_is_not_root_is_told_what_to_do():
    # the real module under an unprivileged uid, in a home it can write (pytest's tmp_path is root's
    # alone); the system python, as the venv may not be readable for that uid
    with tempfile.TemporaryDirectory(prefix="mlps-nobody-") as home:
        os.chown(home, NOBODY, NOBODY)
        env = _env(HOME=home, ANSIBLE_LOCAL_TEMP=f"{home}/local", ANSIBLE_REMOTE_TEMP=f"{home}/remote")
        status, result = run_as_nobody(env)
    assert status == "FAILED!", result
    assert result["dropped"] is False
    assert result["msg"] == (f"{socket.gethostname()}: dropping the page cache needs root (running as uid {NOBODY}); "
                             "run the play with become: true, or set mlps_training_drop_caches=false")


# ---------------------------------------------------------------------------------------------
# The logic on a fake /proc

MEMINFO = "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nCached:          2048000 kB\n"


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    (tmp_path / "sys" / "vm").mkdir(parents=True)
    (tmp_path / "sys" / "vm" / "drop_caches").write_text("")
    (tmp_path / "meminfo").write_text(MEMINFO)
    return tmp_path


class Sync:
    """Counts calls and sees whether the drop file was still untouched when sync ran."""

    def __init__(self, proc: Path):
        self.proc, self.calls, self.before_write = proc, 0, []

    def __call__(self):
        self.calls += 1
        self.before_write.append((self.proc / dc.DROP_FILE).read_text() == "")


def test_root_syncs_first_then_writes_3(proc):
    sync = Sync(proc)
    result = dc.drop_caches(True, False, "h1", euid=0, proc_root=str(proc), sync=sync)
    assert (proc / "sys" / "vm" / "drop_caches").read_text() == "3\n"
    assert sync.calls == 1 and sync.before_write == [True]
    assert result["dropped"] is True and result["changed"] is True and result["reason"] is None
    assert result["cached_before_bytes"] == result["cached_after_bytes"] == 2048000 * 1024
    assert result["host"] == "h1" and UTC_Z.match(result["at"])


@pytest.mark.parametrize("check_mode", [False, True])
def test_not_root_fails_with_one_line_naming_host_and_remedy(proc, check_mode):
    sync = Sync(proc)
    with pytest.raises(dc.CacheDropError) as err:
        dc.drop_caches(True, check_mode, "client7", euid=1000, proc_root=str(proc), sync=sync)
    message = str(err.value)
    assert "\n" not in message and message.startswith("client7: ") and "uid 1000" in message
    assert "become: true" in message and "mlps_training_drop_caches=false" in message
    assert sync.calls == 0 and (proc / dc.DROP_FILE).read_text() == ""


def test_not_root_but_disabled_is_fine(proc):
    result = dc.drop_caches(False, False, "h1", euid=1000, proc_root=str(proc), sync=Sync(proc))
    assert result["dropped"] is False and result["cached_before_bytes"] == 2048000 * 1024
    assert (proc / dc.DROP_FILE).read_text() == ""


def test_check_mode_as_root_touches_nothing(proc):
    sync = Sync(proc)
    result = dc.drop_caches(True, True, "h1", euid=0, proc_root=str(proc), sync=sync)
    assert result["dropped"] is False and result["changed"] is False and "would sync" in result["reason"]
    assert sync.calls == 0 and (proc / dc.DROP_FILE).read_text() == ""


def test_unwritable_drop_file_names_host_and_path(proc):
    target = proc / dc.DROP_FILE
    target.unlink()
    target.mkdir()  # writing to a directory fails like a read-only /proc/sys would
    with pytest.raises(dc.CacheDropError, match=r"^h1: cannot write .*drop_caches: Is a directory; run the play"):
        dc.drop_caches(True, False, "h1", euid=0, proc_root=str(proc), sync=lambda: None)


def test_meminfo_without_cached_is_an_error_naming_the_host(proc):
    (proc / "meminfo").write_text("MemTotal: 1 kB\n")
    with pytest.raises(dc.CacheDropError, match=r"^h1: cannot read the page-cache size: no Cached line"):
        dc.drop_caches(False, False, "h1", euid=0, proc_root=str(proc))
