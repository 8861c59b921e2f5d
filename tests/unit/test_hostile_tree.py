"""`mlps verify` and `mlps report` on trees built by an attacker: each attack found by trying them
(local files leaked, output written outside the tree, crashes, a symlinked `run` read, formula
and link injection, terminal escapes) on a real synthetic campaign tree through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import pytest

from mlps import cli
from mlps.jsonio import YAML_MAX_BYTES
from mlps.report import svg
from mlps.results.reader import read_tree
from mlps.rulebook import verify
from mlps.safe_text import csv_cell, printable, relative_link
from tests.unit.test_report_builders import build_campaign_tree
from tests.unit.test_rules_synthetic import build_v1_workload

CANARY = "CANARY-5f0c1e-aws_secret_access_key"
VERDICT_CODES = {0, 1, 3}
WORKLOAD = "closed/Org/results/sys1/training/unet3d"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([*map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def every_file_text(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture
def tree(tmp_path) -> Path:
    return build_campaign_tree(tmp_path / "tree", runs=2)


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "credentials"
    path.write_text(f"system_name: {CANARY}\n")
    return path


def first_leaf(root: Path) -> Path:
    return sorted(p for p in (root / WORKLOAD / "run").iterdir() if p.is_dir())[0]


# --- 2: report leaks local files ---------------------------------------------------------------------
def test_report_never_reads_a_systems_file_symlinked_out_of_the_tree(tree, secret, tmp_path, capsys):
    systems = tree / "closed/Org/systems"
    systems.mkdir(parents=True)
    (systems / "sys1.yaml").symlink_to(secret)
    code, out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 0, err
    assert CANARY not in out + err
    assert CANARY not in every_file_text(tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.generated.diff"))


# --- 3: report writes outside the tree ---------------------------------------------------------------
def test_out_that_is_a_symlink_is_refused(tree, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "out").symlink_to(victim)
    code, _out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 2
    assert "symbolic link" in err and "--out" in err and len(err.strip().splitlines()) == 1
    assert list(victim.iterdir()) == []


def test_a_symlinked_folder_planted_below_out_is_never_written_through(tree, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    out = tmp_path / "out"
    (out / "closed").mkdir(parents=True)
    (out / "closed" / "Org").symlink_to(victim)
    code, _out, err = run(capsys, "report", tree, "--out", out)
    assert code == 2 and "symlink" in err
    assert list(victim.iterdir()) == []


def test_default_out_refused_in_a_tree_mlps_did_not_write(tmp_path, capsys):
    build_v1_workload(tmp_path / "theirs")
    code, _out, err = run(capsys, "report", tmp_path / "theirs")
    assert code == 2 and "--out" in err
    assert not (tmp_path / "theirs" / "report").exists()


def test_default_out_symlink_in_our_tree_is_refused(tree, tmp_path, capsys):
    leaf = first_leaf(tree)
    meta = leaf / f"training_{leaf.name}_metadata.json"
    meta.write_text(json.dumps({"schema": "mlps-training-metadata/1", "status": "completed"}))
    victim = tmp_path / "victim"
    victim.mkdir()
    (tree / "report").symlink_to(victim)
    code, _out, err = run(capsys, "report", tree)
    assert code == 2 and "symbolic link" in err
    assert list(victim.iterdir()) == []
    (tree / "report").unlink()
    assert run(capsys, "report", tree)[0] == 0          # our own tree: the default still works
    assert (tree / "report" / "report.html").is_file()


# --- 5: crashes ---------------------------------------------------------------------------------------
def test_deeply_nested_folders_give_a_verdict(tree, capsys):
    fd = os.open(tree / "closed", os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1_100):                  # by descriptor: the whole path is beyond PATH_MAX
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    try:
        code, out, err = run(capsys, "verify", tree)
        assert code == 3, err                # what lies past the cap was not read: it may hide leaves
        assert "READ-TREE" in out and "nested deeper than 48 levels" in out and "move what is not results" in out
    finally:
        remove_chain(tree / "closed", "d")


def remove_chain(parent: Path, name: str) -> None:
    """Remove parent/name/name/... one level at a time (shutil.rmtree recurses per level)."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            try:
                os.rename(f"{name}/{name}", ".next", src_dir_fd=fd, dst_dir_fd=fd)
            except FileNotFoundError:
                os.rmdir(name, dir_fd=fd)
                return
            os.rmdir(name, dir_fd=fd)
            os.rename(".next", name, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


def test_series_line_nested_too_deeply_is_skipped(tree, tmp_path, capsys):
    series = next(first_leaf(tree).glob("*timeseries/h1.jsonl"))
    with series.open("a") as handle:
        handle.write("[" * 200_000 + "\n")
    code, _out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 0, err


def test_wrong_types_in_series_and_stdev_are_left_out_and_said(tree, tmp_path, capsys):
    leaf = first_leaf(tree)
    series = next(leaf.glob("*timeseries/h1.jsonl"))
    lines = series.read_text().splitlines()
    sample = json.loads(lines[3])
    sample["wall"], sample["mono"] = "soon", "later"
    sample["counters"]["meminfo"] = {"Cached": "lots"}
    lines[3] = json.dumps(sample)
    series.write_text("\n".join(lines) + "\n")
    summary = json.loads((leaf / "summary.json").read_text())
    summary["metric"]["train_throughput_stdev_samples_per_second"] = "wide"
    (leaf / "summary.json").write_text(json.dumps(summary))
    code, out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 0, err
    assert "not drawn" in out
    assert "not drawn" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("value", [1.7e308, -1.7e308, 1e-320, 10**400])
def test_extreme_values_do_not_break_the_axis(tree, tmp_path, capsys, value):
    leaf = first_leaf(tree)
    summary = json.loads((leaf / "summary.json").read_text())
    summary["metric"]["train_throughput_mean_samples_per_second"] = value
    summary["metric"]["train_throughput_samples_per_second"] = [value, 1.0]
    summary["metric"]["train_au_percentage"] = [value, 95.0]
    (leaf / "summary.json").write_text(json.dumps(summary))
    code, _out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 0, err


def test_nice_ticks_never_overflow():
    for low, high in ((0.0, 1.7e308), (-1.7e308, 1.7e308), (0.0, 1e-320), (5e-324, 1e308)):
        ticks = svg.nice_ticks(low, high)
        assert ticks and all(isinstance(t, float) and math.isfinite(t) for t in ticks)


def test_a_crash_exits_6_with_one_line(tree, monkeypatch, capsys):
    def broken(*_args, **_kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(verify, "verify", broken)
    code, out, err = run(capsys, "verify", tree)
    assert code == 6 and out == ""
    assert err.startswith("mlps verify: internal error (RecursionError") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_yaml_above_one_mib_is_refused_quickly(tree):
    config = first_leaf(tree) / "dlio_config" / "config.yaml"
    config.write_text("workload: [" + "1, " * (YAML_MAX_BYTES // 3 + 10) + "1]\n")
    leaf = read_tree(tree).workloads[0].runs[0]
    assert leaf.config is None
    assert [p.kind for p in leaf.problems if p.path.endswith("config.yaml")] == ["too_large"]


# --- 6: a `run` symlink out of the tree --------------------------------------------------------------
def test_results_json_behind_a_run_symlink_out_of_the_tree_is_not_read(tree, tmp_path, capsys):
    workload = tree / WORKLOAD
    (workload / "run").rename(workload / "runs-kept")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "results.json").write_text(json.dumps({"train_mean_of_au_percentage": 12345.678,
                                                      "note": CANARY}))
    (workload / "run").symlink_to(outside)
    code, out, err = run(capsys, "verify", tree, "--json", "-", "-v")
    assert code in VERDICT_CODES, err
    assert CANARY not in out and "12345.678" not in out
    assert "outside the tree" in out


# --- 7: results.csv formula injection and link schemes -----------------------------------------------
def test_csv_cells_are_never_formulas_and_links_stay_relative(tmp_path, capsys):
    base = tmp_path / "javascript:alert(1)"
    build_campaign_tree(base, runs=2, system='=HYPERLINK("evil.example","x")')
    code, _out, err = run(capsys, "report", tmp_path, "--out", tmp_path / "out")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    hrefs = [c.split('href="', 1)[1] for c in cells if 'href="' in c]
    assert hrefs and not [h for h in hrefs if h.lower().startswith("javascript:") or ":" in h.split("/")[0]]


def test_sanitisers():
    assert csv_cell("=1+2") == "'=1+2" and csv_cell("\tx") == "'\tx" and csv_cell("sys1") == "sys1"
    assert relative_link("javascript:alert(1)") == "javascript%3Aalert%281%29"
    assert relative_link("/etc/passwd") is None and relative_link("a/../b") is None
    assert printable("ok\x1b[2K\rverdict: CLOSED\u202e") == "ok\\x1b[2K\\x0dverdict: CLOSED\\u202e"


# --- 8: terminal escapes ------------------------------------------------------------------------------
def test_escape_sequences_never_reach_the_terminal(tmp_path, capsys):
    hostile = "Org\x1b[2K\r\x1b[32mverdict: CLOSED\x1b[0m"
    build_campaign_tree(tmp_path / "t", runs=2)
    os.rename(tmp_path / "t" / "closed" / "Org", tmp_path / "t" / "closed" / hostile)
    leaf = sorted((tmp_path / "t").rglob("summary.json"))[1]
    summary = json.loads(leaf.read_text())
    summary["host_memory_GB"] = ["\x1b]0;owned\x07"]
    leaf.write_text(json.dumps(summary))
    for argv in (("verify", tmp_path / "t", "-v"), ("report", tmp_path / "t", "--out", tmp_path / "out")):
        code, out, err = run(capsys, *argv)
        assert code in VERDICT_CODES, err
        assert "\x1b" not in out + err and "\r" not in out + err and "\x07" not in out + err


def test_a_large_hand_written_systems_file_in_out_is_kept(tree, tmp_path, capsys):
    hand = tmp_path / "out" / "closed/Org/systems/sys1.yaml"
    hand.parent.mkdir(parents=True)
    text = "system_name: mine\n" + "# notes\n" * (YAML_MAX_BYTES // 8 + 10)   # above the YAML cap
    hand.write_text(text)
    code, _out, err = run(capsys, "report", tree, "--out", tmp_path / "out")
    assert code == 0, err
    assert hand.read_text() == text and hand.with_name("sys1.generated.yaml").is_file()
    assert "above the" in hand.with_name("sys1.generated.diff").read_text()


def test_an_output_file_that_is_a_symlink_is_replaced_not_written_through(tree, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").symlink_to(victim)
    code, _out, err = run(capsys, "report", tree, "--out", out)
    assert code == 0, err
    assert victim.read_text() == "untouched\n"
    assert not (out / "results.csv").is_symlink() and (out / "results.csv").read_text().startswith("Public ID")
