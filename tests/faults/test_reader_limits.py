"""Hostile results trees: the reader never follows a symlink out of the tree and
refuses oversized or deeply nested files; each is a finding, never a crash, and `mlps verify` ends
with a verdict, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlps.report.system import load_description
from mlps.results.reader import _Walker, read_tree
from mlps.rulebook.findings import Outcome
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_training_workload

REPO = Path(__file__).resolve().parent.parent.parent
MARK = "outside-the-tree-7d1c"


def runs_of(workload: Path) -> list[Path]:
    return sorted((workload / "run").glob("2*"))


def leaf_named(tree, path: Path):
    return next(leaf for w in tree.workloads for leaf in w.leaves if leaf.path == path)


def read_files(result) -> list:
    return [f for f in result.findings if f.rule_id == "READ-FILES"]


def outside_summary(tmp_path: Path, inside: Path) -> Path:
    """A valid-looking summary outside the tree, marked so we can tell if it was ever read."""
    data = json.loads((inside / "summary.json").read_text())
    data["hostname"] = MARK
    target = tmp_path / "elsewhere" / "summary.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return target


def test_symlinked_file_out_of_the_tree_is_a_warning_and_never_read(tmp_path):
    root = tmp_path / "tree"
    leaf = runs_of(build_training_workload(root))[2]
    target = outside_summary(tmp_path, leaf)
    (leaf / "summary.json").unlink()
    os.symlink(target, leaf / "summary.json")
    result = verify(root)
    tree = read_tree(root)
    read = leaf_named(tree, leaf)
    assert read.summary is None
    [problem] = [p for p in read.problems if p.kind == "symlink"]
    assert problem.path.endswith("summary.json") and str(target) in problem.detail
    [finding] = [f for f in read_files(result) if f.evidence == problem.path]
    assert finding.outcome == Outcome.WARNING
    assert MARK not in json.dumps(result.as_dict(), default=str)


def test_symlinked_folder_out_of_the_tree_is_a_warning_and_never_walked(tmp_path):
    root = tmp_path / "tree"
    workload = build_training_workload(root)
    elsewhere = tmp_path / "elsewhere_runs"
    build_training_workload(elsewhere)
    os.symlink(elsewhere, workload / "run" / "more")
    tree = read_tree(root)
    assert all(str(leaf.path).startswith(str(root)) for w in tree.workloads for leaf in w.leaves)
    [problem] = [p for p in tree.problems if p.kind == "symlink"]
    assert problem.path.endswith("run/more") and "symlinked folder" in problem.detail
    result = verify(root)
    notes = [f for f in result.findings if f.rule_id == "READ-TREE" and f.evidence == problem.path]
    assert [f.outcome for f in notes] == [Outcome.WARNING]


def test_link_in_a_fixed_place_out_of_the_tree_is_not_read(tmp_path):
    """collector-staging/cluster_info.json is looked up by name, not listed: the same rule applies."""
    root = tmp_path / "tree"
    leaf = runs_of(build_training_workload(root))[1]
    outside = tmp_path / "cluster_info.json"
    outside.write_text(json.dumps({"schema": "mlps-cluster-info/1", "note": MARK}))
    (leaf / "collector-staging").mkdir()
    os.symlink(outside, leaf / "collector-staging" / "cluster_info.json")
    read = leaf_named(read_tree(root), leaf)
    assert read.cluster_info is None
    assert [p.kind for p in read.problems if p.path.endswith("cluster_info.json")] == ["symlink"]


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(tmp_path):
    """The listing saw a plain file; by the time it is opened it is a link out of the tree."""
    root = tmp_path / "tree"
    root.mkdir()
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"secret": MARK}))
    os.symlink(outside, root / "summary.json")
    walker = _Walker(root, 1 << 20)
    problems: list = []
    assert walker._json(root / "summary.json", "summary.json", problems) is None
    assert [p.kind for p in problems] == ["symlink"]
    (root / "inner.json").write_text('{"ok": 1}')
    os.symlink(root / "inner.json", root / "alias.json")
    assert walker._json(root / "alias.json", "alias.json", problems) == {"ok": 1}


def test_oversized_summary_is_refused_by_size_not_loaded(tmp_path):
    root = tmp_path / "tree"
    leaf = runs_of(build_training_workload(root))[3]
    with open(leaf / "summary.json", "r+b") as handle:
        handle.truncate(200 * 2**20)                    # sparse: above the 64 MiB default
    read = leaf_named(read_tree(root), leaf)
    [problem] = read.problems
    assert problem.kind == "too_large" and "above the 67108864-byte limit" in problem.detail
    found = read_files(verify(root))
    assert [f.outcome for f in found] == [Outcome.INVALID] and found[0].evidence.endswith("summary.json")


def test_deeply_nested_metadata_is_refused(tmp_path):
    root = tmp_path / "tree"
    leaf = runs_of(build_training_workload(root))[1]
    meta = leaf / f"training_{leaf.name}_metadata.json"
    meta.write_text('{"a":' * 500_000 + "1" + "}" * 500_000)
    read = leaf_named(read_tree(root), leaf)
    assert read.metadata is None
    [problem] = read.problems
    assert problem.kind == "unparsable" and "deeper than 64 levels" in problem.detail
    assert any(f.evidence == problem.path and f.outcome == Outcome.INVALID for f in read_files(verify(root)))


def test_yaml_alias_bomb_and_deep_yaml_are_refused(tmp_path):
    root = tmp_path / "tree"
    leaves = runs_of(build_training_workload(root))
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    (leaves[1] / "dlio_config" / "config.yaml").write_text(bomb)          # 10**9 strings if expanded
    (leaves[2] / "dlio_config" / "overrides.yaml").write_text("[&l [1], *l]\n")  # flow style: YAML reads it
    (leaves[3] / "dlio_config" / "config.yaml").write_text(
        "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n")
    tree = read_tree(root)
    one, two, three = (leaf_named(tree, leaf) for leaf in leaves[1:4])
    assert one.config is None and "anchors/aliases" in one.problems[0].detail
    assert two.overrides is None and "anchors/aliases" in two.problems[0].detail
    assert three.config is None and "deeper than 64 levels" in three.problems[0].detail
    document = verify(root).as_dict()
    assert document["verdict"] == "INVALID"
    json.dumps(document, default=str)


def test_cli_on_a_hostile_tree_gives_a_verdict_not_a_traceback(tmp_path):
    root = tmp_path / "tree"
    leaves = runs_of(build_training_workload(root))
    (leaves[1] / "summary.json").write_text("[" * 1_000_000)
    os.symlink("/etc/shadow", leaves[2] / "per_epoch_stats.json")
    os.symlink("/", leaves[3] / "rootfs")
    os.symlink("loop", leaves[4] / "loop")                          # a link to itself
    os.mkfifo(leaves[5] / "provenance.json")
    proc = subprocess.run([sys.executable, "-m", "mlps.cli", "verify", str(root), "--json", "-"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    document = json.loads(proc.stdout)
    evidence = {f["evidence"] for f in document["findings"] if f["rule"] in ("READ-FILES", "READ-TREE")}
    assert any(e and e.endswith("summary.json") for e in evidence)
    assert any(e and e.endswith("per_epoch_stats.json") for e in evidence)


def test_hostile_hand_written_systems_file_reads_as_its_error(tmp_path):
    """mlps report compares a hand-written systems YAML/JSON with the facts; a hostile one is an error entry."""
    cases = {
        "deep.yaml": "[" * 5000 + "]" * 5000,
        "block.yaml": "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n",
        "bomb.yaml": "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n",
        "deep.json": "[" * 100_000,
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        doc = load_description(tmp_path / name)
        assert list(doc) == ["(unreadable)"], (name, doc)
    (tmp_path / "ok.yaml").write_text("system_name: sut1\nnodes: [a, b]\n")
    assert load_description(tmp_path / "ok.yaml") == {"system_name": "sut1", "nodes": ["a", "b"]}
