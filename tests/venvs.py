"""Session fixtures that install the real client venv with playbooks/setup.yml (idempotent, so a
warm machine pays seconds). Every test that needs DLIO or mpirun takes its venv from here; the
VectorDB driver and servers take theirs (requirements/vectordb.lock) from `vectordb_venv`."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from tests.integration.playbook import ROOT, TEST_DIR, PlaybookRun, run_playbook

LOCAL_INVENTORY = ROOT / "inventory" / "localhost.ini"
LOCAL_VENV = TEST_DIR / "venv-localhost"
CLUSTER_VENV = TEST_DIR / "venv-cluster"
# The namespace hosts have no route to a package index: the controller fills this wheelhouse and,
# since every test host sees the same filesystem, clients install from it in place.
WHEELHOUSE = TEST_DIR / "wheelhouse"
VECTORDB_VENV = TEST_DIR / "vectordb-venv"


def setup(inventory: Path, extra_vars: dict) -> PlaybookRun:
    """setup.yml, one at a time on this machine: the pytest-xdist workers share the venvs and the
    wheelhouse, and the second worker then finds them ready."""
    TEST_DIR.mkdir(parents=True, exist_ok=True)
    with (TEST_DIR / ".setup.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        run = run_playbook("setup.yml", inventory, extra_vars)
    assert run.rc == 0, run.messages() or run.stdout[-2000:]
    return run


def cluster_vars(**extra) -> dict:
    return {"mlps_venv": str(CLUSTER_VENV), "mlps_env_wheelhouse": str(WHEELHOUSE),
            "mlps_env_wheelhouse_shared": True, **extra}


@pytest.fixture(scope="session")
def local_setup() -> PlaybookRun:
    return setup(LOCAL_INVENTORY, {"mlps_venv": str(LOCAL_VENV)})


@pytest.fixture(scope="session")
def client_venv(local_setup) -> Path:
    """A verified client venv on this machine (DLIO, mpi4py, Open MPI wheel)."""
    return LOCAL_VENV


@pytest.fixture(scope="session")
def cluster_setup(cluster3) -> PlaybookRun:
    return setup(cluster3.inventory, cluster_vars())


@pytest.fixture(scope="session")
def cluster_venv(cluster_setup) -> Path:
    return CLUSTER_VENV


@pytest.fixture(scope="session")
def vectordb_venv(local_setup) -> Path:
    """The verified VectorDB venv (pymilvus, psycopg, the embedded Milvus and PostgreSQL servers),
    installed once from the controller; the namespace hosts see it at the same path."""
    setup(LOCAL_INVENTORY, {"mlps_venv": str(LOCAL_VENV), "mlps_setup_vectordb": True,
                            "mlps_vectordb_venv": str(VECTORDB_VENV)})
    return VECTORDB_VENV
