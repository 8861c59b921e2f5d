"""Identical findings are one counted line in `mlps verify`, the HTML report and the verdict document
(what the campaigns print after each run)."""

from __future__ import annotations

import json

from mlps.cli import main
from mlps.rulebook.finding_groups import group_findings, shape
from mlps.rulebook.findings import Finding, Outcome
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_training_workload


def finding(message, evidence, rule="TRAIN-PARAMS", outcome=Outcome.INVALID, expected=None, actual=None):
    return Finding(rule_id=rule, outcome=outcome, message=message, evidence=evidence, expected=expected,
                   actual=actual, fix="remove the override")


def test_same_rule_and_message_shape_make_one_group_with_count_and_first_paths():
    items = [finding("train.epochs=2 may not be overridden", f"w/run/2026010{i}_100000/dlio_config/overrides.yaml",
                     expected="CLOSED or OPEN tunables only", actual="train.epochs=2") for i in range(6)]
    (group,) = group_findings(items)
    assert group["count"] == 6 and len(group["paths"]) == 3
    assert group["paths"][0] == "w/run/20260100_100000/dlio_config/overrides.yaml"
    assert group["line"].startswith("INVALID TRAIN-PARAMS: train.epochs=2 may not be overridden")
    assert " x6 [" in group["line"] and group["line"].endswith("overrides.yaml ...] -> remove the override")


def test_different_rules_outcomes_or_messages_stay_apart():
    items = [finding("train.epochs=2 may not be overridden", "a"),
             finding("reader.batch_size=9 may not be overridden", "a"),
             finding("train.epochs=2 may not be overridden", "a", outcome=Outcome.WARNING),
             finding("train.epochs=2 may not be overridden", "a", rule="TRAIN-AU")]
    assert [g["count"] for g in group_findings(items)] == [1, 1, 1, 1]


def test_numbers_and_paths_are_the_varying_part_of_a_message():
    assert shape("20260704_052047 started 3600 s after 20260704_050040") == \
        shape("20260704_054120 started 3590.5 s after 20260704_052047")
    assert shape("missing a/b/c.json") == shape("missing x/y.json")
    assert shape("no datagen leaf") != shape("no datasize leaf")


def test_values_that_differ_within_a_group_are_not_shown_as_if_common():
    items = [finding("gap", "a", rule="TRAIN-RUNS-GAP", expected="< 1200 s", actual=3600),
             finding("gap", "b", rule="TRAIN-RUNS-GAP", expected="< 1200 s", actual=1800)]
    (group,) = group_findings(items)
    assert group["expected"] == "< 1200 s" and group["actual"] is None
    assert "found" not in group["line"]


def test_dicts_and_findings_group_alike():
    items = [finding("m 1", "a"), finding("m 2", "b")]
    assert group_findings(items) == group_findings([f.as_dict() for f in items])


def six_runs_with_one_bad_override(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in sorted((workload / "run").glob("2*")):
        overrides = leaf / "dlio_config" / "overrides.yaml"
        overrides.write_text(overrides.read_text() + "- ++workload.train.epochs=2\n")
    return workload


def test_verify_prints_one_line_for_six_identical_findings(tmp_path, capsys):
    six_runs_with_one_bad_override(tmp_path)
    assert main(["verify", str(tmp_path)]) == 3
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "TRAIN-PARAMS" in line]
    assert len(lines) == 1 and " x6 [" in lines[0], out
    assert "run/2026" in lines[0] and "closed/Org" not in lines[0]   # paths relative to the workload


def test_verdict_document_and_html_report_group_too(tmp_path):
    six_runs_with_one_bad_override(tmp_path)
    document = verify(tmp_path).as_dict()
    params = [g for g in document["grouped"] if g["rule"] == "TRAIN-PARAMS"]
    assert [g["count"] for g in params] == [6]
    assert sum(g["count"] for g in document["grouped"]) == len(document["findings"])
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "closed"), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert html.count("train.epochs=2 may not be overridden") == 1 and "&times;6" in html
    assert json.loads((out / "verdict.json").read_text())["grouped"][0]["count"] >= 1


def test_changes_lists_only_what_is_new_since_the_previous_verdict():
    from mlps.rulebook.finding_groups import changes, group_findings, group_key

    def finding(rule, message):
        return {"rule": rule, "outcome": "INVALID", "message": message, "evidence": None}

    first = group_findings([finding("TRAIN-PARAMS", "train.epochs=2 is not allowed in run 20260101_000001")])
    new, unchanged, gone = changes(first, [])
    assert [g["rule"] for g in new] == ["TRAIN-PARAMS"] and (unchanged, gone) == (0, 0)
    # the next run repeats the same problem in another leaf and adds one
    second = group_findings([finding("TRAIN-PARAMS", "train.epochs=2 is not allowed in run 20260101_000002"),
                             finding("TRAIN-AU", "AU 12.5% below 90%")])
    new, unchanged, gone = changes(second, [group_key(g) for g in first])
    assert [g["rule"] for g in new] == ["TRAIN-AU"] and (unchanged, gone) == (1, 0)
    new, unchanged, gone = changes([], [group_key(g) for g in second])
    assert new == [] and (unchanged, gone) == (0, 2)
