"""SYS-DESCRIPTION (2.1.7): systems/<system>.yaml and .pdf beside the results, the YAML filled in."""

from __future__ import annotations

from mlps.report.tables import PLACEHOLDER
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import (
    SYSTEM_YAML,
    build_training_workload,
    build_v1_workload,
    write_system_description,
)


def found(result, outcome=Outcome.INVALID):
    return [f for f in result.findings if f.rule_id == "SYS-DESCRIPTION" and f.outcome == outcome]


def test_filled_in_description_passes(tmp_path):
    build_training_workload(tmp_path)
    write_system_description(tmp_path)
    result = verify(tmp_path)
    assert found(result) == [] and found(result, Outcome.WARNING) == []
    assert result.rules["SYS-DESCRIPTION"]["evaluated"] == 1


def test_missing_yaml_and_pdf_are_named(tmp_path):
    build_training_workload(tmp_path)
    hits = found(verify(tmp_path), Outcome.WARNING)
    assert sorted(h.missing for h in hits) == ["closed/Org/systems/sys1.pdf", "closed/Org/systems/sys1.yaml"]


def test_placeholder_and_bad_availability_are_invalid(tmp_path):
    build_training_workload(tmp_path)
    text = SYSTEM_YAML.replace("availability: available", "availability: soon").replace(
        "name: Example storage", f"name: '{PLACEHOLDER}: the product name'")
    write_system_description(tmp_path, text=text)
    result = verify(tmp_path)
    messages = sorted(h.message for h in found(result))
    assert len(messages) == 2 and "placeholder" in messages[1] and "'soon'" in messages[0]
    assert result.verdict == Verdict.INVALID


def test_capacity_below_one_tib_and_unreadable_yaml(tmp_path):
    build_training_workload(tmp_path / "a")
    write_system_description(tmp_path / "a", text=SYSTEM_YAML.replace("usable_capacity_tib: 100",
                                                                      "usable_capacity_tib: 0.5"))
    build_training_workload(tmp_path / "b")
    write_system_description(tmp_path / "b", text="solution: [unclosed\n")
    hits = found(verify(tmp_path))
    assert len(hits) == 2
    assert any("below 1 TiB" in h.message for h in hits) and any("cannot be read" in h.message for h in hits)


def test_v1_trees_are_not_held_to_it(tmp_path):
    build_v1_workload(tmp_path)
    result = verify(tmp_path)
    assert found(result) == [] and found(result, Outcome.WARNING) == []
