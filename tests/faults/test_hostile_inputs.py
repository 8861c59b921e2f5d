"""Hostile values through the real playbooks/preflight.yml on localhost: every one is
refused by the inventory check with a line naming the host and variable, and nothing is created
(no results directory, no data directory) because the check runs before anything is written."""

from __future__ import annotations

import json

import pytest

from tests.integration.playbook import run_playbook
from tests.venvs import LOCAL_INVENTORY

pytestmark = [pytest.mark.integration]


def refused(run) -> str:
    (result,) = run.results("Refuse shell metacharacters").values()
    assert result["problems"], result
    assert any(m == f"{host}: {result['msg']}" for host in run.failed_hosts() for m in run.messages())
    return result["msg"]


def test_hostile_paths_names_and_dlio_values_are_refused_before_anything_is_written(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    run = run_playbook("preflight.yml", LOCAL_INVENTORY, {
        "mlps_results_dir": f"{results};rm -rf {tmp_path}",
        "mlps_data_dir": f"{data}/$(id)",
        "mlps_venv": f"{tmp_path}/../../etc",
        "mlps_model": "`id`",
        "mlps_training_org": "org\nINVALID",
        "mlps_training_system": "x" * 5000,
        "mlps_training_extra_overrides": {"reader.read_threads": "1; id", "dataset.x y": 1},
        "mlps_training_env": {"A;B": "1"},
    }, timeout=300)
    assert run.rc == 2, run.stdout[-3000:]
    lines = refused(run).splitlines()
    assert lines[0] == "10 inventory value(s) refused before anything was written:"
    assert [line.split("=")[0].split(": ")[1].split(":")[0] for line in lines[1:]] == [
        "mlps_data_dir", "mlps_results_dir", "mlps_venv", "mlps_preflight_mpirun", "mlps_preflight_model",
        "mlps_training_org",
        "mlps_training_system", "mlps_training_extra_overrides['reader.read_threads']",
        "mlps_training_extra_overrides", "mlps_training_env"]
    assert all(line.startswith("localhost: ") for line in lines[1:])
    assert "expected an absolute path" in lines[1] and "or with -e" in lines[1]
    assert "'org\\nINVALID'" in lines[6]            # the newline is shown escaped: one line per problem
    assert "(5000 characters)" in lines[7]          # the long value is cut, not echoed
    assert "key 'dataset.x y'" in lines[9]
    assert not results.exists() and not data.exists() and list(tmp_path.iterdir()) == []
    # the check stops the play: no probe, no preflight.json anywhere
    assert not run.results("Probe the venv") and not run.results("Create the results directory")


def test_a_nul_and_a_hostile_host_name_are_refused(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"clients": {"hosts": {
        "h1$(id)": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}))
    results = tmp_path / "results"
    run = run_playbook("preflight.yml", inventory, {
        "mlps_results_dir": str(results), "mlps_data_dir": str(tmp_path / "da\x00ta")}, timeout=300)
    assert run.rc == 2, run.stdout[-3000:]
    lines = refused(run).splitlines()
    assert lines[1].startswith("'h1$(id)': inventory host='h1$(id)': expected a host name") and "rename" in lines[1]
    assert lines[2].startswith("'h1$(id)': mlps_data_dir=") and "\\x00" in lines[2]
    assert not results.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yml"]


def test_ordinary_values_pass_the_check(tmp_path):
    """The same check lets a normal inventory through (the preflight then fails on the missing venv,
    which is a later check: the inventory check itself passed and the results directory exists)."""
    results = tmp_path / "results"
    run = run_playbook("preflight.yml", LOCAL_INVENTORY, {
        "mlps_results_dir": str(results), "mlps_data_dir": str(tmp_path / "data"),
        "mlps_venv": str(tmp_path / "no-venv"), "mlps_training_extra_overrides": {"reader.read_threads": 2},
        "mlps_training_env": {"MY_TOKEN": "$(not a shell; never run)"}, "mlps_preflight_command_timeout": 30},
        timeout=300)
    (result,) = run.results("Refuse shell metacharacters").values()
    assert result.get("failed") is not True and result["problems"] == []
    doc = json.loads((results / "preflight.json").read_text())
    assert [c["ok"] for c in doc["checks"] if c["name"] == "inventory_values"] == [True]
