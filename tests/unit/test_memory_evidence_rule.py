"""MLPS-MEM-DLIO: DLIO's per-slot memory array against measured per-host memory (cluster_info.json)."""

from __future__ import annotations

from mlps import cluster as cluster_model
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_failing import host_facts
from tests.unit.test_rules_synthetic import build_training_workload, edit_json, write_json


def tree(tmp_path, slots):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    info = cluster_model.build_cluster([host_facts("h0", 64.0), host_facts("h1", 64.0)]).to_dict()
    for leaf in sorted((workload / "run").glob("2*")):
        write_json(leaf / "cluster_info.json", info)
        edit_json(leaf / "summary.json", lambda d: d.update(host_memory_GB=slots))
    return verify(tmp_path)


def found(result, outcome):
    return [f for f in result.findings if f.rule_id == "MLPS-MEM-DLIO" and f.outcome == outcome]


def test_array_matching_the_measured_hosts_passes(tmp_path):
    result = tree(tmp_path, [64.0, 64.0])
    assert found(result, Outcome.WARNING) == [] and found(result, Outcome.INFO) == []
    assert result.verdict == Verdict.CLOSED


def test_zero_padded_array_is_noted(tmp_path):
    result = tree(tmp_path, [128.0, 0.0])
    hits = found(result, Outcome.INFO)
    assert len(hits) == 6 and "1 empty slot(s) of 2" in hits[0].message
    assert found(result, Outcome.WARNING) == []


def test_doubled_array_warns(tmp_path):
    hits = found(tree(tmp_path, [128.0, 128.0]), Outcome.WARNING)
    assert len(hits) == 6 and "more than once (2.00x)" in hits[0].message
    assert hits[0].expected == 128.0 and hits[0].actual == 256.0


def test_array_missing_a_host_warns(tmp_path):
    hits = found(tree(tmp_path, [64.0, 0.0]), Outcome.WARNING)
    assert hits and "misses hosts" in hits[0].message


def test_without_measured_memory_there_is_nothing_to_compare(tmp_path):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    for leaf in sorted((workload / "run").glob("2*")):
        edit_json(leaf / "summary.json", lambda d: d.update(host_memory_GB=[128.0, 128.0]))
    result = verify(tmp_path)
    assert found(result, Outcome.WARNING) == [] and result.rules["MLPS-MEM-DLIO"]["evaluated"] == 1
