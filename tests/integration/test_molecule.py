"""Every role's molecule scenario, run against the 3-host namespace cluster (driver default,
managed: false). The cluster venv is installed first, so converge measures the role, not pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.playbook import ROOT, TEST_DIR

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
SCENARIOS = sorted((ROOT / "roles").glob("*/molecule/*/molecule.yml"))


def test_every_role_has_a_molecule_scenario():
    missing = [role.name for role in ROLES if not (role / "molecule" / "default" / "molecule.yml").is_file()]
    assert missing == []


def _group(scenario: Path) -> str:
    """Each scenario a pytest-xdist group of its own, so they spread over the workers; the VectorDB
    roles start an embedded Milvus, one per host, so they join the other Milvus tests' group."""
    role = scenario.parents[2].name
    return "milvus" if role.startswith("mlps_vectordb") else f"molecule-{role}"


@pytest.mark.parametrize("scenario", [pytest.param(s, marks=pytest.mark.xdist_group(_group(s))) for s in SCENARIOS],
                         ids=lambda p: f"{p.parents[2].name}/{p.parent.name}")
def test_molecule_scenario(scenario: Path, cluster3, cluster_setup, vectordb_venv):
    role_dir = scenario.parents[2]
    env = dict(os.environ, MLPS_CLUSTER_INVENTORY=str(cluster3.inventory), MLPS_TEST_DIR=str(TEST_DIR),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1",
               NO_COLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "molecule"), "test", "-s", scenario.parent.name],
                          cwd=role_dir, env=env, capture_output=True, text=True, timeout=1200, check=False)
    output = proc.stdout + proc.stderr
    # the failed task's own message first (molecule's recap alone hides it), then the tail
    said = "\n".join(line for line in output.splitlines() if "fatal:" in line or "[ERROR]" in line)
    assert proc.returncode == 0, said[-4000:] + "\n...\n" + output[-2000:]
    steps = [s for s in ("converge", "idempotence", "verify") if f"- {s}" in scenario.read_text()]
    assert "converge" in steps and "verify" in steps
    for step in steps:
        assert f"{step}: Executed: Successful" in output.replace("➜ ", "").replace(" ➜", ""), step
