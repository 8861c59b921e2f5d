"""SYS-IDENTICAL-CONFIG (2.1.9): a client's measured memory and CPUs are the same in every leaf of one
system name (its kernel and OS too, a warning); the valid trees of test_rules_synthetic.py are the
passing case."""

from __future__ import annotations

from mlps import cluster as cluster_model
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_failing import host_facts
from tests.unit.test_rules_synthetic import build_training_workload, write_json


def found(result):
    return [f for f in result.findings if f.rule_id == "SYS-IDENTICAL-CONFIG" and f.outcome == Outcome.INVALID]


def with_facts(tmp_path, per_leaf, kernels=None):
    workload = build_training_workload(tmp_path)
    leaves = sorted((workload / "run").glob("2*"))
    for index, (leaf, (gib, cores)) in enumerate(zip(leaves, per_leaf, strict=False)):
        facts = host_facts("h0", gib, cores=cores)
        if kernels:
            facts.update(kernel={"release": kernels[index]}, os_release={"PRETTY_NAME": "Debian GNU/Linux 12"})
        write_json(leaf / "cluster_info.json", cluster_model.build_cluster([facts]).to_dict())
    return workload


def test_same_client_in_every_leaf_passes(tmp_path):
    with_facts(tmp_path, [(64.0, 16)] * 5 + [(64.2, 16)])      # within 1%: a few MiB between boots
    result = verify(tmp_path)
    assert found(result) == [] and result.rules["SYS-IDENTICAL-CONFIG"]["evaluated"] == 1
    assert result.verdict == Verdict.CLOSED, [f.line() for f in result.findings if f.outcome != Outcome.INFO]


def test_client_memory_changed_between_leaves(tmp_path):
    with_facts(tmp_path, [(64.0, 16)] * 3 + [(128.0, 16)] * 3)
    hits = found(verify(tmp_path))
    assert len(hits) == 3 and hits[0].host == "h0" and "memory 64.0 -> 128.0 GiB" in hits[0].message


def test_client_cpus_changed_between_leaves(tmp_path):
    with_facts(tmp_path, [(64.0, 16)] * 5 + [(64.0, 8)])
    (hit,) = found(verify(tmp_path))
    assert "CPU cores 16 -> 8" in hit.message


def test_other_system_names_are_compared_apart(tmp_path):
    with_facts(tmp_path / "a", [(64.0, 16)] * 6)
    workload = with_facts(tmp_path / "b", [(128.0, 16)] * 6)
    workload.parent.parent.rename(workload.parent.parent.with_name("sys2"))
    assert found(verify(tmp_path)) == []


def test_a_kernel_changed_between_leaves_is_a_warning(tmp_path):
    with_facts(tmp_path, [(64.0, 16)] * 6, kernels=["6.1.0-18"] * 4 + ["6.1.0-21"] * 2)
    result = verify(tmp_path)
    assert found(result) == []
    warned = [f for f in result.findings if f.rule_id == "SYS-IDENTICAL-CONFIG" and f.outcome == Outcome.WARNING]
    assert len(warned) == 2 and warned[0].message == ("system sys1: client h0 changed between leaves: "
                                                      "kernel 6.1.0-18 -> 6.1.0-21")
    assert warned[0].expected.startswith("as in closed/Org/results/sys1/training/unet3d/run/")
