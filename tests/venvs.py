"""Session fixtures that install the real client venv with playbooks/setup.yml (idempotent, so a
warm machine pays seconds). Every test that needs DLIO or mpirun takes its venv from here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.playbook import ROOT, TEST_DIR, PlaybookRun, run_playbook

LOCAL_INVENTORY = ROOT / "inventory" / "localhost.ini"
LOCAL_VENV = TEST_DIR / "venv-localhost"
CLUSTER_VENV = TEST_DIR / "venv-cluster"
# The namespace hosts have no route to a package index: the controller fills this wheelhouse and,
# since every test host sees the same filesystem, clients install from it in place.
WHEELHOUSE = TEST_DIR / "wheelhouse"


def cluster_vars(**extra) -> dict:
    return {"mlps_venv": str(CLUSTER_VENV), "mlps_env_wheelhouse": str(WHEELHOUSE),
            "mlps_env_wheelhouse_shared": True, **extra}


@pytest.fixture(scope="session")
def local_setup() -> PlaybookRun:
    run = run_playbook("setup.yml", LOCAL_INVENTORY, {"mlps_venv": str(LOCAL_VENV)})
    assert run.rc == 0, run.messages() or run.stdout[-2000:]
    return run


@pytest.fixture(scope="session")
def client_venv(local_setup) -> Path:
    """A verified client venv on this machine (DLIO, mpi4py, Open MPI wheel)."""
    return LOCAL_VENV


@pytest.fixture(scope="session")
def cluster_setup(cluster3) -> PlaybookRun:
    run = run_playbook("setup.yml", cluster3.inventory, cluster_vars())
    assert run.rc == 0, run.messages() or run.stdout[-2000:]
    return run


@pytest.fixture(scope="session")
def cluster_venv(cluster_setup) -> Path:
    return CLUSTER_VENV
