#!/usr/bin/python
"""Ansible module: everything the preflight needs to know about one client, in one round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_preflight_probe
short_description: Probe one client for the mlps preflight (venv, DLIO, mpirun, filesystems, memory)
description:
  - Reads, on the target, what the mlps preflight decides on, and returns it without judging it
    (mlps.preflight on the controller does that). It returns hostname, machine-id, os-release, MemTotal,
    the Python running the module, the client venv and its ready marker, whether DLIO and mpi4py
    import in the venv (and which MPI library mpi4py loads), the launcher's C(--version), statvfs of
    the data and results directories (each bounded by O(path_timeout)), whether the two share a
    filesystem, and whether a sentinel the launcher wrote is visible here.
  - Data and results on one filesystem are found by hard-linking a probe file from the data
    directory into the results directory (EXDEV means different filesystems). When that cannot be
    tried (a directory missing here, check mode, no write permission), st_dev of the nearest
    existing directories is compared instead; the result names the method used.
  - With O(only_paths) only the directories are probed (the controller's results directory).
version_added: "0.1.0"
author: mlps developers
options:
  venv:
    description: Path of the client venv.
    type: path
  mpirun:
    description: Path of the launcher to ask for C(--version).
    type: path
  dlio_module:
    description: Python module imported in the venv to prove DLIO works (with mpi4py).
    type: str
    default: dlio_benchmark.main
  data_dir:
    description: Data directory (the storage under test).
    type: path
    required: true
  results_dir:
    description: Results directory.
    type: path
    required: true
  checkpoint_dir:
    description:
      - Checkpoint folder of a checkpointing campaign ("" = none); probed like the data directory and
        returned as RV(paths.checkpoint) (a folder not created yet counts its nearest existing parent).
    type: str
    default: ""
  sentinel:
    description: Path of the shared-filesystem sentinel to look for ("" = none).
    type: str
    default: ""
  sentinel_token:
    description: Content the sentinel must hold.
    type: str
    default: ""
  only_paths:
    description: Probe only the two directories and their separation.
    type: bool
    default: false
  path_timeout:
    description: Seconds allowed for each directory's statvfs.
    type: float
    default: 5.0
  command_timeout:
    description: Seconds allowed for the import check and for C(mpirun --version).
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Reads only; in check mode the separation is decided by st_dev, without the hard-link probe file.
"""

EXAMPLES = r"""
- name: Probe a client
  mlps_preflight_probe:
    venv: /opt/mlps/venv
    mpirun: /opt/mlps/venv/bin/mpirun
    data_dir: /mnt/mlps/data
    results_dir: /srv/mlps/results
    sentinel: /mnt/mlps/data/.mlps-preflight-0123abcd
    sentinel_token: 0123abcd
"""

RETURN = r"""
hostname:
  description: The host's own name.
  type: str
  returned: always
machine_id:
  description: Content of /etc/machine-id (null when absent).
  type: str
  returned: unless only_paths
os_release:
  description: Parsed /etc/os-release.
  type: dict
  returned: unless only_paths
memory_total_bytes:
  description: MemTotal in bytes.
  type: int
  returned: unless only_paths
python:
  description: The interpreter running the module (executable, version).
  type: dict
  returned: unless only_paths
venv:
  description: path, python_ok, marker (the parsed ready marker or null), marker_error.
  type: dict
  returned: unless only_paths
dlio:
  description: module, ok, error, mpi_library (what mpi4py loads).
  type: dict
  returned: unless only_paths
mpirun:
  description: path, ok, version_text, error.
  type: dict
  returned: unless only_paths
paths:
  description:
    - data and results (and checkpoint with O(checkpoint_dir)), each a statvfs probe (exists, probed,
      mountpoint, fstype, avail_bytes, st_dev, error).
  type: dict
  returned: always
separation:
  description: same (true, false or null when not decidable here), method, detail.
  type: dict
  returned: always
sentinel:
  description: path, exists, matches, st_ino, st_dev (null when no sentinel was named).
  type: dict
  returned: always
"""

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_procfs import parse_meminfo, parse_mounts, parse_os_release, probe_path, run_bounded
from ansible.module_utils.mlps_venv import MARKER_NAME

# Prints one JSON line: the MPI library mpi4py loads (after importing the DLIO module).
IMPORT_SNIPPET = (
    "import importlib, json, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "from mpi4py import MPI\n"
    "print(json.dumps({'mpi_library': MPI.Get_library_version().replace(chr(0), '').strip().splitlines()[0]}))\n"
)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _run(argv, timeout):
    """(stdout, error): error is None on success, else one line saying what went wrong."""
    env = dict(os.environ, LC_ALL="C", TF_CPP_MIN_LOG_LEVEL="3")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return "", f"{argv[0]}: no such file"
    except PermissionError:
        return "", f"{argv[0]}: not executable"
    except subprocess.TimeoutExpired:
        return "", f"{' '.join(argv[:2])} did not finish within {timeout} s"
    except OSError as exc:
        return "", f"{argv[0]}: {exc.strerror or exc}"
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        return proc.stdout, f"exit {proc.returncode}: {lines[-1][:300]}"
    return proc.stdout, None


def venv_state(venv):
    python = os.path.join(venv, "bin", "python")
    out = {"path": venv, "python_ok": os.access(python, os.X_OK), "marker": None, "marker_error": None}
    text = _read(os.path.join(venv, MARKER_NAME))
    if text is None:
        out["marker_error"] = f"no ready marker {os.path.join(venv, MARKER_NAME)}"
        return out
    try:
        out["marker"] = json.loads(text)
    except ValueError as exc:
        out["marker_error"] = f"ready marker is not JSON ({exc})"
    return out


def dlio_state(venv, module_name, timeout):
    out = {"module": module_name, "ok": False, "error": None, "mpi_library": None}
    stdout, error = _run([os.path.join(venv, "bin", "python"), "-c", IMPORT_SNIPPET, module_name], timeout)
    if error:
        out["error"] = error
        return out
    try:
        out["mpi_library"] = json.loads(stdout.strip().splitlines()[-1])["mpi_library"]
        out["ok"] = True
    except (ValueError, IndexError, KeyError):
        out["error"] = f"unexpected output: {stdout.strip()[-200:]}"
    return out


def mpirun_state(mpirun, timeout):
    out = {"path": mpirun, "ok": False, "version_text": None, "error": None}
    if not os.path.exists(mpirun):
        out["error"] = f"{mpirun}: no such file"
        return out
    stdout, error = _run([mpirun, "--version"], timeout)
    if error:
        out["error"] = error
    else:
        out["ok"] = True
        out["version_text"] = (stdout.strip().splitlines() or [""])[0]
    return out


def nearest_existing(path):
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and probe != os.path.dirname(probe):
        probe = os.path.dirname(probe)
    return probe


def dev_compare(data_dir, results_dir, why=""):
    one, two = nearest_existing(data_dir), nearest_existing(results_dir)
    same = os.stat(one).st_dev == os.stat(two).st_dev
    detail = f"st_dev of {one} and {two}" + ("; " + why if why else "")
    return {"method": "st_dev", "same": same, "detail": detail}


def link_probe(data_dir, results_dir):
    """Hard-link a probe file from the data dir into the results dir: EXDEV = different filesystems.
    Any other failure falls back to comparing st_dev."""
    name = ".mlps-preflight-link-" + uuid.uuid4().hex[:12]
    source, target = os.path.join(data_dir, name), os.path.join(results_dir, name)
    try:
        with open(source, "x", encoding="utf-8") as handle:
            handle.write("mlps preflight filesystem probe\n")
    except OSError as exc:
        return dev_compare(data_dir, results_dir, f"no probe file in {data_dir} ({exc.strerror})")
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            return {"method": "hard link", "same": False,
                    "detail": f"a hard link from {data_dir} into {results_dir} fails with EXDEV"}
        return dev_compare(data_dir, results_dir, f"hard link failed ({exc.strerror})")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(source)
    with contextlib.suppress(OSError):
        os.unlink(target)
    return {"method": "hard link", "same": True,
            "detail": f"a hard link from {data_dir} into {results_dir} works"}


def separation(data_dir, results_dir, check_mode):
    """Do the data and results directories share a filesystem, as seen from this host?"""
    if not os.path.isdir(data_dir):
        return {"method": None, "same": None, "detail": f"the data directory {data_dir} is not on this host"}
    if not os.path.isdir(results_dir):
        result = dev_compare(data_dir, results_dir)
        result["detail"] += " (the results directory is not on this host: its nearest existing parent counts)"
        return result
    if check_mode:
        return dev_compare(data_dir, results_dir, "check mode: no probe file")
    return link_probe(data_dir, results_dir)


def sentinel_state(path, token):
    if not path:
        return None
    out = {"path": path, "exists": False, "matches": False, "st_ino": None, "st_dev": None}
    try:
        st = os.stat(path)
    except OSError:
        return out
    out.update(exists=True, st_ino=st.st_ino, st_dev=st.st_dev,
               matches=(_read(path) or "").strip() == token)
    return out


HUNG = "did not answer {what} within {seconds:g} s (hung mount?)"
# The directories probed with statvfs: their results share one shape (see _path_state).
PATH_PARTS = ("data", "results", "checkpoint")


def _path_state(path, mounts):
    """Runs in a bounded child: statvfs entry of one directory plus st_dev of its nearest existing part."""
    entry = {"path": path, "hung": False, "error": None, "exists": None, "avail_bytes": None, "st_dev": None}
    try:
        probe_path(path, mounts, out=entry)
        entry["st_dev"] = os.stat(nearest_existing(path)).st_dev
    except OSError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
    return entry


def _hung_path(path, mounts, seconds):
    """The entry of a directory that did not answer: its mount is still named (found lexically)."""
    entry = {"path": path, "hung": True, "exists": None, "probed": None, "avail_bytes": None,
             "mountpoint": None, "fstype": None, "st_dev": None,
             "error": f"{path} " + HUNG.format(what="statvfs", seconds=seconds)}
    for mount in sorted(mounts, key=lambda m: len(m["mountpoint"]), reverse=True):
        point = mount["mountpoint"].rstrip("/") or "/"
        if path == point or path.startswith(point.rstrip("/") + "/"):
            entry.update(mountpoint=mount["mountpoint"], fstype=mount["fstype"])
            break
    return entry


def gather(p, check_mode):
    """Everything that touches the client's paths, each part in a child process bounded in time,
    so a hung mount under any of them costs its timeout and names the path instead of hanging."""
    mounts, _ = parse_mounts(_read("/proc/self/mounts") or "")
    path_t, command_t = p["path_timeout"], p["command_timeout"]
    jobs = {"data": (_path_state, (p["data_dir"], mounts)), "results": (_path_state, (p["results_dir"], mounts)),
            "sentinel": (sentinel_state, (p["sentinel"], p["sentinel_token"]))}
    if p["checkpoint_dir"]:
        jobs["checkpoint"] = (_path_state, (p["checkpoint_dir"], mounts))
    if not p["only_paths"]:
        jobs.update(venv=(venv_state, (p["venv"],)),
                    dlio=(dlio_state, (p["venv"], p["dlio_module"], command_t), command_t + path_t),
                    mpirun=(mpirun_state, (p["mpirun"], command_t), command_t + path_t))
    done = run_bounded(jobs, path_t)
    out = {}
    for key, outcome in done.items():
        out[key] = outcome["value"]
        if outcome["error"] and not outcome["timed_out"] and key in PATH_PARTS:
            path = p[f"{key}_dir"]
            out[key] = {"path": path, "hung": False, "exists": None, "avail_bytes": None, "st_dev": None,
                        "error": outcome["error"]}
        elif outcome["timed_out"] or outcome["error"]:
            out[key] = _failed_part(key, p, mounts, outcome, path_t if key in (*PATH_PARTS, "sentinel", "venv")
                                    else command_t + path_t)
    if out["data"].get("hung") or out["results"].get("hung"):
        which = "data" if out["data"].get("hung") else "results"
        out["separation"] = {"method": None, "same": None,
                             "detail": f"not decided: the {which} directory {p[which + '_dir']} did not answer"}
    else:
        sep = run_bounded({"separation": (separation, (p["data_dir"], p["results_dir"], check_mode))}, path_t)
        sep = sep["separation"]
        out["separation"] = sep["value"] or {
            "method": None, "same": None,
            "detail": ("not decided: the hard-link probe " + HUNG.format(what="a hard link", seconds=path_t))
            if sep["timed_out"] else f"not decided: {sep['error']}"}
    return out


def _failed_part(key, p, mounts, outcome, seconds):
    """What a part that timed out (or crashed) returns, in the shape of its normal result."""
    if key in PATH_PARTS:
        return _hung_path(p[f"{key}_dir"], mounts, seconds)
    hung = outcome["timed_out"]
    if key == "sentinel":
        return {"path": p["sentinel"], "exists": False, "matches": False, "st_ino": None, "st_dev": None,
                "error": f"{p['sentinel']} " + HUNG.format(what="stat", seconds=seconds) if hung else outcome["error"]}
    what = {"venv": (p["venv"], "a read of its ready marker"),
            "dlio": (p["venv"], f"the import of {p['dlio_module']}"),
            "mpirun": (p["mpirun"], "--version")}[key]
    error = f"{what[0]} " + HUNG.format(what=what[1], seconds=seconds) if hung else outcome["error"]
    if key == "venv":
        return {"path": p["venv"], "python_ok": False, "marker": None, "marker_error": error}
    if key == "dlio":
        return {"module": p["dlio_module"], "ok": False, "error": error, "mpi_library": None}
    return {"path": p["mpirun"], "ok": False, "version_text": None, "error": error}


def main():
    module = AnsibleModule(
        argument_spec={
            "venv": {"type": "path"},
            "mpirun": {"type": "path"},
            "dlio_module": {"type": "str", "default": "dlio_benchmark.main"},
            "data_dir": {"type": "path", "required": True},
            "results_dir": {"type": "path", "required": True},
            "checkpoint_dir": {"type": "str", "default": ""},
            "sentinel": {"type": "str", "default": ""},
            "sentinel_token": {"type": "str", "default": ""},
            "only_paths": {"type": "bool", "default": False},
            "path_timeout": {"type": "float", "default": 5.0},
            "command_timeout": {"type": "int", "default": 120},
        },
        required_if=[("only_paths", False, ("venv", "mpirun"))],
        supports_check_mode=True,
    )
    p = module.params
    for name in ("data_dir", "results_dir", "checkpoint_dir"):
        if p[name] and not p[name].startswith("/"):
            module.fail_json(msg=f"{name}={p[name]!r}: expected an absolute path such as /mnt/mlps/data")
    if not p["path_timeout"] > 0:
        module.fail_json(msg=f"path_timeout={p['path_timeout']:g}: expected seconds above 0, such as 5")
    parts = gather(p, module.check_mode)
    result = {"changed": False, "hostname": socket.gethostname(),
              "paths": {key: parts[key] for key in PATH_PARTS if key in parts},
              "separation": parts["separation"], "sentinel": parts["sentinel"]}
    if not p["only_paths"]:
        meminfo, _ = parse_meminfo(_read("/proc/meminfo") or "")
        result.update(
            machine_id=(_read("/etc/machine-id") or "").strip() or None,
            os_release=parse_os_release(_read("/etc/os-release") or "")[0],
            memory_total_bytes=meminfo.get("MemTotal"),
            python={"executable": sys.executable, "version": sys.version.split()[0]},
            venv=parts["venv"], dlio=parts["dlio"], mpirun=parts["mpirun"],
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
