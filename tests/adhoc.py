"""Run one mlps module for real with `ansible localhost -m ...` and read its JSON result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_module(module: str, module_args: dict, *extra: str) -> tuple[str, dict, str]:
    """(status word such as SUCCESS or FAILED!, result, stderr) of one ad-hoc run on localhost."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"),
         "-m", module, "-a", json.dumps(module_args), *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=180)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep, f"no result in ansible output:\n{proc.stdout}\n{proc.stderr}"
    return head.split("|")[-1].strip(), json.loads(body), proc.stderr
