"""Run a real ansible-playbook from tests through ansible-runner and read its job events."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Where integration tests keep client venvs: reused between runs on one machine, fresh in CI.
TEST_DIR = Path(os.environ.get("MLPS_TEST_DIR", "/tmp/mlps-test"))
# One host's line of an ad-hoc `ansible` run: host and status.
ADHOC_RESULT = re.compile(r"^(\S+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.MULTILINE)


def controller_tool(name: str) -> str:
    """A tool from the controller venv running these tests (falls back to PATH)."""
    import pytest

    candidate = BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found in {candidate.parent} or on PATH: run `make venv`", pytrace=False)
    return found


@dataclass
class PlaybookRun:
    rc: int
    stats: dict
    events: list = field(repr=False)
    stdout: str = field(repr=False, default="")

    def changed(self) -> int:
        return sum((self.stats.get("changed") or {}).values())

    def failed_hosts(self) -> set[str]:
        return set(self.stats.get("failures") or {}) | set(self.stats.get("dark") or {})

    def messages(self) -> list[str]:
        """Every msg of every failed or unreachable task result, prefixed with its host."""
        out = []
        for event in self.events:
            if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
                data = event["event_data"]
                if data.get("ignore_errors"):
                    continue
                msg = data.get("res", {}).get("msg", "")
                text = msg if isinstance(msg, str) else repr(msg)
                out.append(f"{data.get('host')}: {text}")
        return out

    def results(self, task_name_part: str) -> dict:
        """host -> result of the tasks whose name contains task_name_part."""
        found = {}
        for event in self.events:
            data = event.get("event_data", {})
            finished = event.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")
            task = data.get("task", "")
            if finished and task_name_part in task and not task.startswith("Validating arguments"):
                found.setdefault(data.get("host"), data.get("res", {}))
        return found


def run_playbook(playbook: str, inventory: str | Path, extra_vars: dict | None = None,
                 args: list[str] | None = None, timeout: int = 1800, artifact_dir: Path | None = None) -> PlaybookRun:
    """Run through ansible-runner's Python API; with artifact_dir its artifacts (job events, stdout,
    rc) are kept there, as a CI job driving a campaign keeps them beside the results."""
    env = {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "ANSIBLE_NOCOLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="mlps-runner-") as private:
        result = ansible_runner.run(
            private_data_dir=private, project_dir=str(ROOT), playbook=str(ROOT / "playbooks" / playbook),
            inventory=str(inventory), extravars=extra_vars or {}, envvars=env, cmdline=" ".join(args) if args else None,
            quiet=True, timeout=timeout, **({"artifact_dir": str(artifact_dir)} if artifact_dir else {}),
        )
        # Read everything before the private dir (and its artifacts) is removed.
        return PlaybookRun(result.rc, result.stats or {}, list(result.events), result.stdout.read())
