"""library/mlps_host_facts.py run for real through `ansible localhost -m mlps_host_facts`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlps_module_utils import mlps_procfs as procfs
from tests.adhoc import run_module
from tests.unit.test_procfs_collect import build_tree

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "library" / "mlps_host_facts.py"
BIN = Path(sys.executable).parent


def ansible(module_args: dict, *extra: str) -> tuple[str, dict]:
    return run_module("mlps_host_facts", module_args, *extra)[:2]


@pytest.mark.integration
def test_module_on_this_host_returns_the_schema(tmp_path):
    status, result = ansible({"paths": [str(tmp_path)], "path_timeout": 10})
    assert status == "SUCCESS", result
    assert result["changed"] is False
    facts = result["ansible_facts"]["mlps_host"]
    assert procfs.check_document(facts) == []
    assert facts["collection_method"] == "ssh"
    assert facts["root"] == "/"
    assert facts["errors"] == {}
    assert facts["meminfo"]["MemTotal"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert len(facts["cpuinfo"]["cpus"]) == os.sysconf("SC_NPROCESSORS_ONLN")
    entry = facts["paths"][str(tmp_path)]
    assert entry["error"] is None
    assert entry["total_bytes"] == os.statvfs(tmp_path).f_blocks * os.statvfs(tmp_path).f_frsize


@pytest.mark.integration
def test_module_in_check_mode_still_gathers():
    status, result = ansible({"gather_cpus": False}, "--check")
    assert status == "SUCCESS", result
    assert result["changed"] is False
    assert not result.get("skipped")
    facts = result["ansible_facts"]["mlps_host"]
    assert procfs.check_document(facts) == []
    assert facts["cpuinfo"]["cpus"] == []
    assert facts["cpuinfo"]["summary"]["logical_cpus"] == os.sysconf("SC_NPROCESSORS_ONLN")


@pytest.mark.integration
def test_module_reads_a_snapshot_root(tmp_path):
    status, result = ansible({"root": str(build_tree(tmp_path)), "gather_cpus": False})
    assert status == "SUCCESS", result
    facts = result["ansible_facts"]["mlps_host"]
    assert procfs.check_document(facts) == []
    assert facts["collection_method"] == "snapshot"
    assert facts["hostname"] == "client07"
    assert facts["meminfo"]["MemTotal"] == 15666184 * 1024
    assert facts["cpuinfo"]["summary"]["physical_cores"] == 4


@pytest.mark.integration
def test_module_bad_arguments_fail_with_every_problem(tmp_path):
    status, result = ansible({"path_timeout": 0, "paths": ["data"]})
    assert status == "FAILED!"
    assert result["msg"] == ("path_timeout=0: expected seconds above 0, such as 5; "
                             "paths: 'data' is not absolute; give an absolute path such as /mnt/data")
    status, result = ansible({"root": str(tmp_path)})
    assert status == "FAILED!"
    assert result["msg"].startswith(f"root={tmp_path}: no readable proc/meminfo or proc/cpuinfo under it;")


# -- documentation (DOCUMENTATION against ARGUMENT_SPEC: tests/unit/test_module_docs.py) ------------


@pytest.mark.integration
def test_ansible_doc_renders():
    proc = subprocess.run([str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "mlps_host_facts"],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stderr
    for option in ("paths", "path_timeout", "root", "gather_cpus"):
        assert option in proc.stdout
    assert "check_mode" in proc.stdout
