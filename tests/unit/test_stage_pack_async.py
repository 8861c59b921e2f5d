"""mlps_stage_pack finds the sampler's async job where Ansible keeps it for this host: a configured
async_dir (ANSIBLE_ASYNC_DIR here) is honoured through the action plugin of the same name, so the
pack reads the sampler's final record at once instead of waiting its whole sampler_wait for a file
it looks for in ~/.ansible_async."""

from __future__ import annotations

import json
import os

from tests.adhoc import run_module


def test_the_pack_reads_the_sampler_job_from_the_configured_async_dir(tmp_path, monkeypatch):
    async_dir = tmp_path / "async"
    async_dir.mkdir()
    (async_dir / "j4711.1").write_text(json.dumps({"finished": 1, "samples": 7, "reason": "stop file"}))
    stage = tmp_path / "stage"
    (stage / "dlio").mkdir(parents=True)
    (stage / "dlio" / "summary.json").write_text("{}")
    monkeypatch.setenv("ANSIBLE_ASYNC_DIR", str(async_dir))
    status, result, _ = run_module("mlps_stage_pack", {
        "stage": str(stage), "archive": str(tmp_path / "stage-h1.tar"), "members": ["dlio"],
        "sampler_job": "j4711.1", "sampler_wait": 20, "remove": False})
    assert status == "CHANGED", result
    assert result["samples"] == 7 and result["sampler"]["reason"] == "stop file"
    assert result["files"] == 1
    assert not os.path.exists(async_dir / "j4711.1")   # read once, then removed as async_status does
