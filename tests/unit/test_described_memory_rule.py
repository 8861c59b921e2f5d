"""MLPS-MEM-DESCRIPTION: the client memory systems/<system>.yaml declares (the fields of mlps report's
draft) against the memory measured on the hosts; a description without those fields, or leaves
without measured per-host facts, are not compared."""

from __future__ import annotations

from mlps import cluster as cluster_model
from mlps.rulebook.findings import Outcome
from mlps.rulebook.verify import verify
from tests.unit.test_rules_failing import host_facts
from tests.unit.test_rules_synthetic import SYSTEM_YAML, build_training_workload, write_json, write_system_description

RULE = "MLPS-MEM-DESCRIPTION"


def found(result):
    return [f for f in result.findings if f.rule_id == RULE]


def measured_tree(tmp_path, gib=64.0):
    workload = build_training_workload(tmp_path)
    for leaf in sorted((workload / "run").glob("2*")):
        info = cluster_model.build_cluster([host_facts("h0", gib)]).to_dict()
        write_json(leaf / "cluster_info.json", info)
    return workload


def clients(node_gib, total_gib) -> str:
    return (SYSTEM_YAML + f"clients:\n  count: 1\n  total_memory_gib: {total_gib}\n  nodes:\n"
            f"  - hostname: h0\n    memory_gib: {node_gib}\n")


def test_a_description_that_matches_the_hosts_passes(tmp_path):
    measured_tree(tmp_path)
    write_system_description(tmp_path, text=clients(64.0, 64.3))        # within 2%
    result = verify(tmp_path)
    assert found(result) == [] and result.rules[RULE]["evaluated"] == 1


def test_declared_memory_unlike_the_hosts_is_named_per_client_and_in_total(tmp_path):
    measured_tree(tmp_path)
    write_system_description(tmp_path, text=clients(128, 256))
    hits = found(verify(tmp_path))
    assert [h.outcome for h in hits] == [Outcome.WARNING, Outcome.WARNING]
    assert hits[0].message == "systems/sys1.yaml declares 128 GiB for client h0; the hosts measured 64.0 GiB"
    assert "256 GiB for all clients together" in hits[1].message
    assert hits[0].evidence.endswith("/cluster_info.json") and (hits[0].expected, hits[0].actual) == (64.0, 128)


def test_nothing_to_compare_gives_nothing(tmp_path):
    build_training_workload(tmp_path / "a")                               # DLIO's array only: no measurement
    write_system_description(tmp_path / "a", text=clients(128, 256))
    measured_tree(tmp_path / "b")
    write_system_description(tmp_path / "b")                              # no clients block
    assert found(verify(tmp_path)) == []
