"""setup.yml, lockfile_verify.yml and the MPI hello on the 3-host namespace cluster, for real."""

import json

import pytest

from tests.integration.playbook import run_playbook
from tests.venvs import CLUSTER_VENV, cluster_vars

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_converge_installs_once_for_a_shared_venv_path(cluster_setup):
    # Every test host sees one filesystem, like a venv on NFS: one host installs, the others wait
    # on the install lock and find the venv ready.
    assert cluster_setup.rc == 0
    installs = cluster_setup.results("Install the locked client venv")
    assert set(installs) == {"h1", "h2", "h3"}
    marker = json.loads((CLUSTER_VENV / ".mlps-env.json").read_text())
    assert marker["mpirun"] == str(CLUSTER_VENV / "bin" / "mpirun")
    assert all(r["marker"]["key"] == marker["key"] for r in installs.values())


def test_second_run_changes_nothing_on_any_host(cluster3, cluster_setup):
    again = run_playbook("setup.yml", cluster3.inventory, cluster_vars())
    assert again.rc == 0, again.messages()
    assert again.changed() == 0, again.stats
    assert set(again.stats["ok"]) == {"h1", "h2", "h3"}


def test_mpirun_hello_through_the_venv_reaches_every_host(cluster3, cluster_setup):
    run = run_playbook("mpi_hello.yml", cluster3.inventory, cluster_vars())
    assert run.rc == 0, run.messages()
    hello = run.results("Launch an MPI hello across all clients")["h1"]
    hosts = sorted(line.rsplit(" on ", 1)[1] for line in hello["stdout"].splitlines())
    assert hosts == ["h1", "h1", "h2", "h2", "h3", "h3"]
    assert hello["cmd"][hello["cmd"].index("--host") + 1] == "h1:2,h2:2,h3:2"


def test_lockfile_verify_on_every_host(cluster3, cluster_setup):
    run = run_playbook("lockfile_verify.yml", cluster3.inventory, cluster_vars())
    assert run.rc == 0, run.messages()
    checks = run.results("Compare installed packages")
    assert {h: r["ok"] for h, r in checks.items()} == {"h1": True, "h2": True, "h3": True}


def test_unreachable_host_is_named_and_the_others_still_install(cluster3, cluster_setup, tmp_path):
    inventory = tmp_path / "hosts.ini"
    text = cluster3.inventory.read_text().replace("[clients]\n", "[clients]\nh9 ansible_host=10.213.255.254\n", 1)
    inventory.write_text(text)
    run = run_playbook("setup.yml", inventory, cluster_vars(), args=["-T", "3"])
    assert run.rc != 0
    assert set(run.stats.get("dark", {})) == {"h9"}
    assert any(m.startswith("h9: ") for m in run.messages())
    assert set(run.stats["ok"]) >= {"h1", "h2", "h3"}
    assert not run.stats.get("failures")
