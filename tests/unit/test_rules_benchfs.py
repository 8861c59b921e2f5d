"""BENCHFS-* rules on synthetic BenchFS + IOR leaves: a complete leaf gives OPEN (never CLOSED, even under
closed/), and each rule has failing cases of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlps.rulebook.findings import Outcome
from mlps.rulebook.verify import verify

STAMP = "20260105_100000"
IOR = {"tests": [{"Results": [[{"access": "write", "bwMiB": 100.0}]]}],
       "summary": [{"operation": "write", "bwMaxMIB": 100.0, "bwMeanMIB": 100.0, "OPsMean": 1600.0}]}


def leaf_of(root: Path, division: str = "open", np: int = 2, daemons: dict | None = None) -> Path:
    leaf = root / division / "org" / "results" / "sys" / "benchfs" / "ior" / STAMP
    (leaf / "daemon").mkdir(parents=True)
    meta = {"benchmark": "benchfs", "status": "completed", "servers": {"np": np},
            "daemons": {"stop_forced": False, "shutdown_missing": [], "left_pids": {}, **(daemons or {})}}
    (leaf / f"benchfs_{STAMP}_metadata.json").write_text(json.dumps(meta))
    (leaf / "ior.json").write_text(json.dumps(IOR))
    for name in ("ior.stdout.log", "ior.stderr.log", "benchfs.toml"):
        (leaf / name).write_text("x\n")
    for rank in range(np):
        (leaf / "daemon" / f"rank_{rank}.log").write_text("shutdown complete\n")
    return leaf


def outcome(root: Path) -> tuple[str, dict]:
    result = verify(root)
    (workload,) = result.workloads
    found = {(f.rule_id, str(f.outcome)) for f in result.findings if f.rule_id.startswith("BENCHFS")}
    return workload["verdict"], found


def test_a_complete_leaf_is_open_and_read_as_benchfs(tmp_path):
    leaf_of(tmp_path)
    result = verify(tmp_path)
    (workload,) = result.workloads
    assert workload["benchmark"] == "benchfs" and workload["model"] == "ior"
    assert workload["verdict"] == "OPEN"
    ids = {f.rule_id for f in result.findings if f.outcome not in (Outcome.INFO,)}
    assert "BENCHFS-OPEN" in ids and "BENCH-UNCHECKED" not in ids
    assert not {"BENCHFS-FILES", "BENCHFS-SHUTDOWN"} & ids


def test_under_closed_it_is_still_open_never_closed(tmp_path):
    leaf_of(tmp_path, division="closed")
    verdict, found = outcome(tmp_path)
    assert verdict == "OPEN" and ("BENCHFS-OPEN", "OPEN") in found


@pytest.mark.parametrize("remove", ["ior.json", "ior.stderr.log", "benchfs.toml", "daemon/rank_1.log"])
def test_a_missing_file_is_invalid(tmp_path, remove):
    leaf = leaf_of(tmp_path)
    (leaf / remove).unlink()
    verdict, found = outcome(tmp_path)
    assert verdict == "INVALID" and ("BENCHFS-FILES", "INVALID") in found


def test_ior_json_without_a_summary_is_invalid(tmp_path):
    leaf = leaf_of(tmp_path)
    (leaf / "ior.json").write_text(json.dumps({"tests": []}))
    assert ("BENCHFS-FILES", "INVALID") in outcome(tmp_path)[1]


def test_a_leaf_without_metadata_is_unchecked(tmp_path):
    leaf = leaf_of(tmp_path)
    (leaf / f"benchfs_{STAMP}_metadata.json").unlink()
    verdict, found = outcome(tmp_path)
    assert ("BENCHFS-FILES", "UNCHECKED") in found and verdict != "CLOSED"


def test_a_forced_stop_is_a_warning_and_a_daemon_left_is_invalid(tmp_path):
    leaf_of(tmp_path / "a", daemons={"stop_forced": True, "shutdown_missing": [0, 1]})
    verdict, found = outcome(tmp_path / "a")
    assert verdict == "OPEN" and ("BENCHFS-SHUTDOWN", "WARNING") in found
    leaf_of(tmp_path / "b", daemons={"left_pids": {"h2": [4242]}})
    verdict, found = outcome(tmp_path / "b")
    assert verdict == "INVALID" and ("BENCHFS-SHUTDOWN", "INVALID") in found
