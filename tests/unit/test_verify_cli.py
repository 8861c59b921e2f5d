"""`mlps verify` and `mlps rules`: exit codes, JSON output, the generated docs page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlps.cli import main
from mlps.commands.rules import render_markdown
from mlps.rulebook.registry import all_rules
from tests.unit.test_rules_synthetic import build_training_workload

REPO = Path(__file__).resolve().parent.parent.parent
V1 = REPO / "tests" / "fixtures" / "mlperf_results" / "storage_results_v1.0"


def test_closed_tree_exits_0_and_prints_the_verdict(capsys):
    assert main(["verify", str(V1)]) == 0
    out = capsys.readouterr().out
    assert "verdict: CLOSED" in out and "Read B/W 40.017 GiB/s" in out


def test_open_tree_exits_1(tmp_path, capsys):
    workload = build_training_workload(tmp_path)
    for leaf in sorted((workload / "run").glob("2*")):
        overrides = leaf / "dlio_config" / "overrides.yaml"
        overrides.write_text("- workload=unet3d_b200\n- ++workload.framework=tensorflow\n")
    assert main(["verify", str(tmp_path)]) == 1
    assert "verdict: OPEN" in capsys.readouterr().out


def test_invalid_tree_exits_3(tmp_path, capsys):
    build_training_workload(tmp_path, runs=4)
    assert main(["verify", str(tmp_path)]) == 3
    assert "INVALID TRAIN-RUNS-COUNT" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(tmp_path), "--profile", "sideways"])
    assert exc.value.code == 2
    assert main(["verify", str(tmp_path), "--size-limit-mib", "0"]) == 2


def test_unreadable_or_empty_tree_exits_4(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "absent")]) == 4
    assert main(["verify", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert "no such directory" in err and "no result leaves found" in err
    assert "Traceback" not in err


def test_json_to_a_file_and_to_stdout(tmp_path, capsys):
    target = tmp_path / "verdict.json"
    assert main(["verify", str(V1), "--json", str(target)]) == 0
    document = json.loads(target.read_text())
    assert document["schema"] == "mlps-verdict/1" and document["verdict"] == "CLOSED"
    assert len(document["workloads"]) == 3
    assert document["workloads"][0]["aggregate"]["mlperf_storage_report"]["num_benchmark_runs"] == 5
    capsys.readouterr()
    assert main(["verify", str(V1), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "CLOSED"


def test_edition_option_forces_the_edition(tmp_path, capsys):
    build_training_workload(tmp_path)
    assert main(["verify", str(tmp_path), "--edition", "1.0", "--json", "-"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["editions"] == ["1.0"]
    assert any(f["rule"] == "TRAIN-RUNS-COUNT" for f in document["findings"])      # 6 runs, v1.0 wants 5


def test_a_crashing_rule_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    build_training_workload(tmp_path)
    rule = next(r for r in all_rules() if r.id == "TRAIN-RUNS-GAP")
    monkeypatch.setattr(type(rule), "check", lambda self, ctx: 1 / 0)
    assert main(["verify", str(tmp_path)]) == 3
    assert "ERROR   TRAIN-RUNS-GAP" in capsys.readouterr().out


def test_rules_lists_every_rule(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule in all_rules():
        assert rule.id in out and rule.section in out
    assert main(["rules", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["id"] for row in rows} == {rule.id for rule in all_rules()}
    assert all(row["editions"] and row["profiles"] and row["description"] for row in rows)


def test_docs_rules_page_is_current():
    page = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert page == render_markdown(), "docs/rules.md is stale: run `mlps rules --markdown > docs/rules.md`"


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "mlps.cli", "verify", str(V1), "--json", "-"],
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "CLOSED"


def test_every_exit_code_is_documented_alike_in_help_docs_and_readme(capsys):
    from mlps.cli import EXIT_INTERNAL
    from mlps.commands import verify as verify_cmd
    codes = {*verify_cmd.EXIT_CODES.values(), verify_cmd.EXIT_USAGE, verify_cmd.EXIT_UNREADABLE, EXIT_INTERNAL}
    assert [code for code, _meaning in verify_cmd.EXIT_TABLE] == sorted(codes)
    page = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    table = page.split("## Exit codes of `mlps verify`", 1)[1].split("##", 1)[0]
    assert {int(line.split("|")[1]) for line in table.splitlines() if line[:3].strip("| ").isdigit()} == codes
    assert "| 5 | verdict UNCHECKED" in table and "| UNCHECKED |" in page
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    help_text = capsys.readouterr().out
    assert all(f"  {code}  " in help_text for code in codes)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "0 CLOSED, 1 OPEN, 2 usage, 3 INVALID, 4 unreadable tree, 5 UNCHECKED" in readme
    assert "6 internal error" in readme
