"""library/mlps_venv.py run for real through `ansible localhost`: it must never delete a folder it
did not build, and a failed rebuild must leave the previous venv working (built beside, renamed
into place, verified there, the previous one put back on failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlps_module_utils import mlps_venv

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PYTHON = "python3"
LOCK = "# python: {}.{}\n".format(*sys.version_info[:2])


def ansible(args: dict, *extra: str) -> tuple[str, dict]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"),
                           "-m", "mlps_venv", "-a", json.dumps(args), *extra],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=600)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep, f"no result in ansible output:\n{proc.stdout}\n{proc.stderr}"
    return head.split("|")[-1].strip(), json.loads(body)


def args(venv: Path, lock: str = LOCK, **extra) -> dict:
    return {"venv": str(venv), "python": PYTHON, "lock_names": ["client.lock"], "lock_contents": [lock],
            "dlio_package": "", "pip_args": ["--no-index"], "timeout": 300, **extra}


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def litter(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".mlps-new-" in p.name or ".mlps-old-" in p.name)


def test_a_folder_that_is_not_a_venv_is_refused_and_left_untouched(tmp_path):
    # A home directory or /opt/mlps itself given as mlps_venv: bin/python is not our Python.
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").write_text("#!/bin/sh\necho 2.7\n")
    (home / "bin" / "python").chmod(0o755)
    (home / "thesis.tex").write_text("years of work")
    before = snapshot(home)
    for extra in ((), ("--check",)):
        status, result = ansible(args(home), *extra)
        assert status == "FAILED!", result
        assert f"venv={home} is a non-empty folder that is not an mlps venv" in result["msg"]
        assert "set mlps_venv to a new or empty folder" in result["msg"] and "\n" not in result["msg"]
    assert snapshot(home) == before and litter(tmp_path) == []


def test_a_venv_without_our_marker_is_refused(tmp_path):
    other = tmp_path / "their-venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(other)], check=True)
    before = snapshot(other)
    status, result = ansible(args(other))
    assert status == "FAILED!" and "is not an mlps venv" in result["msg"]
    assert snapshot(other) == before


def ours(venv: Path) -> dict:
    """A venv of ours from an earlier install (stale key): pyvenv.cfg, a working python, our marker."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / mlps_venv.MARKER_NAME).write_text(json.dumps({"schema": mlps_venv.MARKER_SCHEMA, "key": "stale"}))
    (venv / "shared-by-other-clients").write_text("in use")
    return snapshot(venv)


def test_a_failed_install_leaves_the_previous_venv_in_place(tmp_path):
    venv = tmp_path / "venv"
    before = ours(venv)
    status, result = ansible(args(venv, LOCK + "no-such-package-mlps-test==9.9.9\n"))
    assert status == "FAILED!" and "pip install of the lock failed" in result["msg"]
    assert snapshot(venv) == before and litter(tmp_path) == []
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "pass"], check=False).returncode == 0


def test_a_new_venv_that_fails_its_check_in_place_gives_the_previous_one_back(tmp_path):
    # An empty lock installs; the import check (mpi4py) then fails on the renamed-in venv.
    venv = tmp_path / "venv"
    before = ours(venv)
    status, result = ansible(args(venv))
    assert status == "FAILED!" and "import check failed" in result["msg"]
    assert "the previous one is back in place" in result["msg"]
    assert snapshot(venv) == before and litter(tmp_path) == []


def test_a_first_install_that_fails_leaves_nothing(tmp_path):
    venv = tmp_path / "fresh"
    status, result = ansible(args(venv))
    assert status == "FAILED!" and "import check failed" in result["msg"]
    assert not venv.exists() and litter(tmp_path) == []
