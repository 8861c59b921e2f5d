"""The rule registry, findings and the verdict."""

from __future__ import annotations

import re

import pytest

from mlps.errors import UserError
from mlps.rulebook import editions
from mlps.rulebook.findings import Finding, Outcome, Verdict, verdict_of
from mlps.rulebook.registry import PROFILES, Rule, _validate, all_rules

ID_RE = re.compile(r"^[A-Z]+(-[A-Z0-9]+)+$")


def f(outcome):
    return Finding(rule_id="X-Y", outcome=outcome, message="m")


@pytest.mark.parametrize(("outcomes", "verdict"), [
    ([], Verdict.CLOSED),
    ([Outcome.INFO, Outcome.WARNING], Verdict.CLOSED),
    ([Outcome.OPEN, Outcome.WARNING], Verdict.OPEN),
    ([Outcome.OPEN, Outcome.INVALID], Verdict.INVALID),
    ([Outcome.ERROR], Verdict.INVALID),
])
def test_verdict_of(outcomes, verdict):
    assert verdict_of([f(o) for o in outcomes]) == verdict


def test_every_rule_is_described_completely():
    rules = all_rules()
    assert len(rules) >= 35
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    for rule in rules:
        assert ID_RE.match(rule.id), rule.id
        assert rule.section and rule.description and rule.severity in Outcome
        assert set(rule.profiles) <= set(PROFILES) and set(rule.editions) <= set(editions.EDITIONS)


def test_the_rules_of_the_fact_sheet_are_there():
    ids = {rule.id for rule in all_rules()}
    assert {"TRAIN-DATASIZE", "TRAIN-RUNS-COUNT", "TRAIN-RUNS-GAP", "TRAIN-AU", "TRAIN-PARAMS", "TRAIN-ODIRECT",
            "SYS-ACCEL-EQUAL", "SYS-FS-SEPARATION", "SYS-SHARED-FS", "SYS-NODE-CONSISTENCY", "CKPT-COUNTS",
            "CKPT-INVOCATIONS", "CKPT-GAP", "CKPT-SUBSET", "CKPT-FSYNC", "CKPT-ACCEL-MEM", "CKPT-CACHE-RATIO",
            "TRAIN-VARIANCE"} <= ids


def test_a_rule_without_a_section_is_refused():
    class Bad(Rule):
        id = "BAD-RULE"
        description = "x"

    with pytest.raises(RuntimeError, match="needs a section"):
        _validate(Bad)


def test_a_rule_with_an_unknown_profile_is_refused():
    class Bad(Rule):
        id = "BAD-RULE"
        section = "1"
        description = "x"
        profiles = ("closed", "sideways")

    with pytest.raises(RuntimeError, match="unknown profile"):
        _validate(Bad)


def test_finding_document_and_line():
    item = Finding(rule_id="TRAIN-AU", outcome=Outcome.INVALID, message="AU low", expected=">= 90", actual=85.0,
                   evidence="a/summary.json", fix="use fewer accelerators", section="3.3.2")
    document = item.as_dict()
    assert set(document) >= {"rule", "outcome", "section", "message", "expected", "actual", "host", "evidence",
                             "workload", "missing", "fix"}
    assert document["outcome"] == "INVALID"
    assert item.line() == ("INVALID TRAIN-AU: AU low (expected >= 90, found 85.0) [a/summary.json] "
                           "-> use fewer accelerators")


def test_edition_names():
    assert editions.get("3").name == "3.0" and editions.get("v1.0").name == "1.0"
    with pytest.raises(UserError, match="unknown rules edition"):
        editions.get("4.0")
