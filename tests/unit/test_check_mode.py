"""Modules that declare check-mode support write nothing in check mode: each one that used to (a lease
touched, a folder created, a sentinel or preflight.json written) run for real with and without --check."""

from __future__ import annotations

import pytest

from tests.adhoc import ROOT, run_module

pytestmark = pytest.mark.integration



def test_dlio_progress_touches_no_lease_in_check_mode(tmp_path):
    log, lease = tmp_path / "dlio.log", tmp_path / "lease"
    log.write_text("")
    status, result, _ = run_module("mlps_dlio_progress", {"path": str(log), "lease_file": str(lease)}, "--check")
    assert status == "SUCCESS", result
    assert not lease.exists()
    status, result, _ = run_module("mlps_dlio_progress", {"path": str(log), "lease_file": str(lease)})
    assert status == "SUCCESS", result
    assert lease.is_file()                      # the real call keeps the launch alive


def test_wheelhouse_creates_no_folder_in_check_mode(tmp_path):
    lock = (ROOT / "requirements" / "mpi-openmpi.lock").read_text()
    wheels = tmp_path / "wheels"
    args = {"path": str(wheels), "lock_names": ["mpi-openmpi.lock"], "lock_contents": [lock]}
    status, result, _ = run_module("mlps_wheelhouse", args, "--check")
    assert status == "CHANGED", result          # would download
    assert result["changed"] is True and "download" in result["cmd"]
    assert not wheels.exists()


def test_preflight_path_writes_no_sentinel_in_check_mode(tmp_path):
    args = {"path": str(tmp_path), "file": ".mlps-preflight-x", "content": "x\n"}
    status, result, _ = run_module("mlps_preflight_path", args, "--check")
    assert status == "SUCCESS", result
    assert (result["written"], result["created"]) == (None, False)
    assert not (tmp_path / ".mlps-preflight-x").exists()
    status, result, _ = run_module("mlps_preflight_path", {**args, "path": str(tmp_path / "new")}, "--check")
    assert (status, result["created"], (tmp_path / "new").exists()) == ("CHANGED", True, False)
    status, result, _ = run_module("mlps_preflight_path", args)
    assert status == "SUCCESS", result
    assert (tmp_path / ".mlps-preflight-x").read_text() == "x\n"


def test_preflight_report_writes_no_file_in_check_mode(tmp_path):
    dest = tmp_path / "preflight.json"
    args = {"dest": str(dest), "skipped": True, "skip_reason": "test", "launcher": "localhost"}
    status, result, _ = run_module("mlps_preflight_report", args, "--check")
    assert status == "SUCCESS", result
    assert result["table"][-1] == f"would write {dest}"
    assert not dest.exists()
    status, result, _ = run_module("mlps_preflight_report", args)
    assert status == "SUCCESS", result
    assert dest.is_file() and result["table"][-1] == f"wrote {dest}"
