"""CKPT-REMAP (4.7.3) and CKPT-SIMUL-RW (4.7.4): checkpointing against the system's declared remapping
time and simultaneous read/write support (systems/<system>.yaml)."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import SYSTEM_YAML, build_checkpoint_workload, write_system_description


def found(result, rule_id, outcome):
    return [f for f in result.findings if f.rule_id == rule_id and f.outcome == outcome]


def tree(tmp_path, yaml_text=SYSTEM_YAML, gap=10.0):
    build_checkpoint_workload(tmp_path, gap=gap)
    write_system_description(tmp_path, text=yaml_text)
    return verify(tmp_path)


def test_declared_capabilities_and_a_long_enough_interval_pass(tmp_path):
    result = tree(tmp_path, SYSTEM_YAML + "  remap_time_seconds: 16\n")      # 10 s gap >= 16 / 2
    assert found(result, "CKPT-REMAP", Outcome.INVALID) == [] and result.rules["CKPT-REMAP"]["evaluated"] == 1
    assert found(result, "CKPT-SIMUL-RW", Outcome.WARNING) == []
    assert result.verdict == Verdict.CLOSED, [f.line() for f in result.findings if f.outcome != Outcome.INFO]


def test_reads_sooner_than_half_the_remap_time_are_invalid(tmp_path):
    result = tree(tmp_path, SYSTEM_YAML + "  remap_time_seconds: 60\n")
    (hit,) = found(result, "CKPT-REMAP", Outcome.INVALID)
    assert hit.expected == ">= 30 s" and "remap_time_seconds=60" in hit.message


def test_no_declared_remap_time_has_nothing_to_check(tmp_path):
    result = tree(tmp_path, gap=0.5)
    assert found(result, "CKPT-REMAP", Outcome.INVALID) == []


def test_system_without_simultaneous_read_warns(tmp_path):
    result = tree(tmp_path, SYSTEM_YAML.replace("simultaneous_read: true", "simultaneous_read: false"))
    (hit,) = found(result, "CKPT-SIMUL-RW", Outcome.WARNING)
    assert "simultaneous read" in hit.message and hit.actual is False
    assert result.verdict == Verdict.CLOSED


def test_system_declaring_neither_warns_twice(tmp_path):
    text = SYSTEM_YAML.split("capabilities:")[0]
    hits = found(tree(tmp_path, text), "CKPT-SIMUL-RW", Outcome.WARNING)
    assert sorted(h.expected for h in hits) == ["simultaneous_read: true", "simultaneous_write: true"]
