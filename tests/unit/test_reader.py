"""The results reader on the shapes real trees take: run folder names, per-host subfolders, report
placement, config folder names, junk, code trees, symlinks, size limits, DLIO 2.0.0 leaves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mlps.results.dlio_config import _NotSimple, parse_simple_yaml
from mlps.results.reader import TreeError, read_tree
from tests.unit.test_rules_synthetic import START, training_summary

V1 = Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v1.0"
V3 = Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v3.0"


def put(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def summary(**kw):
    return training_summary(start=START, **kw)


@pytest.mark.parametrize("names", [["run1", "run2"], ["run-1", "run-2"], ["run_1", "run_2"], ["run0", "run1"],
                                   ["unet3d_h100_run_1", "unet3d_h100_run_2"]])
def test_v1_run_folder_names(tmp_path, names):
    for name in names:
        put(tmp_path / "Closed" / "Org" / "results" / "sys" / "unet3d_h100" / name / "summary.json", summary())
    tree = read_tree(tmp_path)
    [workload] = tree.workloads
    assert workload.rel == "Closed/Org/results/sys/unet3d_h100"
    assert [leaf.name for leaf in workload.runs] == names
    assert (workload.division, workload.org, workload.system) == ("closed", "Org", "sys")
    assert tree.layout == "v1"


def test_runs_folder_level_is_skipped_for_the_workload(tmp_path):
    for index in (1, 2):
        put(tmp_path / "sys" / "1host@37GPUs" / "runs" / f"run{index}" / "summary.json", summary())
    [workload] = read_tree(tmp_path).workloads
    assert workload.rel == "sys/1host@37GPUs"
    assert len(workload.runs) == 2


def test_per_host_subfolders_only_the_launcher_has_a_summary(tmp_path):
    run = tmp_path / "unet3d_h100" / "run1"
    put(run / "host1" / "summary.json", summary(hosts=3))
    for host in ("host1", "host2", "host3"):
        put(run / host / "per_epoch_stats.json", {"1": {}})
    put(run / "host2" / "configs" / "overrides.yaml", "- workload=unet3d_h100\n")
    [workload] = read_tree(tmp_path).workloads
    [leaf] = workload.leaves
    assert leaf.name == "run1"
    assert leaf.host_parts == ("host1", "host2", "host3")
    assert leaf.summary_file == "host1/summary.json" and leaf.num_hosts == 3
    assert leaf.config_dir == "host2/configs" and leaf.accelerator == "h100"


@pytest.mark.parametrize("where", ["in", "beside", "above"])
def test_workload_report_in_beside_or_above_the_runs(tmp_path, where):
    workload_dir = tmp_path / "sys" / "cosmoflow" / "a100"
    for index in (1, 2):
        put(workload_dir / "runs" / f"run{index}" / "summary.json", summary())
        put(workload_dir / "runs" / f"run{index}" / "configs" / "overrides.yaml", "- workload=cosmoflow_a100\n")
    place = {"in": workload_dir / "runs" / "run1", "beside": workload_dir, "above": tmp_path / "sys"}[where]
    put(place / "mlperf_storage_report.json", {"overall": {"model": "cosmoflow", "accelerator": "a100"}})
    [workload] = read_tree(tmp_path).workloads
    assert workload.report == {"overall": {"model": "cosmoflow", "accelerator": "a100"}}
    assert workload.report_file.endswith("mlperf_storage_report.json")
    assert (workload.model, workload.accelerator) == ("cosmoflow", "a100")


@pytest.mark.parametrize("config_dir", ["dlio_config", "configs", ".hydra"])
def test_config_folder_names(tmp_path, config_dir):
    leaf = tmp_path / "training" / "unet3d" / "run" / "20260101_120000"
    put(leaf / config_dir / "overrides.yaml", "- workload=unet3d_b200\n- '++workload.reader.read_threads=8'\n")
    put(leaf / config_dir / "config.yaml", "workload:\n  reader:\n    odirect: true\n")
    put(leaf / config_dir / "hydra.yaml", "hydra: {}\n")
    [workload] = read_tree(tmp_path).workloads
    [leaf_obj] = workload.leaves
    assert leaf_obj.config_dir == config_dir
    assert leaf_obj.override_params() == {"reader.read_threads": "8"}
    assert leaf_obj.param("reader.odirect") is True
    assert (leaf_obj.command, leaf_obj.timestamp.hour) == ("run", 12)


def test_overrides_that_are_not_a_plain_list_fall_back_to_yaml(tmp_path):
    leaf = tmp_path / "sys" / "run1"
    put(leaf / "summary.json", summary())
    put(leaf / "configs" / "overrides.yaml", "[workload=unet3d_h100, ++workload.reader.read_threads=4]\n")
    [workload] = read_tree(tmp_path).workloads
    assert workload.leaves[0].override_params() == {"reader.read_threads": "4"}


def test_bad_yaml_and_json_become_problems(tmp_path):
    leaf = tmp_path / "sys" / "run1"
    put(leaf / "summary.json", "[1, 2")
    put(leaf / "configs" / "config.yaml", "workload: [unclosed\n")
    put(leaf / "configs" / "overrides.yaml", "workload: x\n")
    put(leaf / "configs" / "hydra.yaml", "")
    [workload] = read_tree(tmp_path).workloads
    kinds = sorted((p.kind, p.path.rsplit("/", 1)[-1]) for p in workload.leaves[0].problems)
    assert kinds == [("unparsable", "config.yaml"), ("unparsable", "hydra.yaml"), ("unparsable", "overrides.yaml"),
                     ("unparsable", "summary.json")]


def test_junk_is_ignored_and_listed(tmp_path):
    leaf = tmp_path / "sys" / "run1"
    put(leaf / "summary.json", summary())
    (leaf / "._summary.json").write_bytes(b"\x00\x05\x16\x07Mac OS X\x00\xff")
    (leaf / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (leaf / ".~lock.notes.odt#").write_text("x")
    (leaf / "core.1234").write_bytes(b"\x7fELF")
    tree = read_tree(tmp_path)
    assert sorted(p.rsplit("/", 1)[-1] for p in tree.junk) == sorted(
        [".DS_Store", ".~lock.notes.odt#", "._summary.json", "core.1234"])
    assert tree.workloads[0].leaves[0].summary_file == "summary.json"


def test_code_trees_inside_results_are_skipped(tmp_path):
    put(tmp_path / "sys" / "run1" / "summary.json", summary())
    put(tmp_path / "code" / "dlio_benchmark" / "tests" / "test_data" / "summary.json", summary())
    put(tmp_path / "code" / "dlio_benchmark" / "tests" / "test_data" / ".hydra" / "config.yaml", "a: 1\n")
    put(tmp_path / "sys" / "code-0123abcd" / ".code-hash.json", {"hash": "x"})
    put(tmp_path / "sys" / "code-0123abcd" / "run1" / "summary.json", summary())
    tree = read_tree(tmp_path)
    assert [leaf.rel for leaf in tree.leaves] == ["sys/run1"]
    assert sorted(tree.skipped) == ["code (code tree)", "sys/code-0123abcd (code tree)"]


def test_symlinked_directories_are_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    put(elsewhere / "run1" / "summary.json", summary())
    tree_dir = tmp_path / "tree"
    put(tree_dir / "sys" / "run1" / "summary.json", summary())
    os.symlink(elsewhere, tree_dir / "sys" / "linked")
    os.symlink(tree_dir / "sys" / "run1", tree_dir / "again")
    tree = read_tree(tree_dir)
    assert [leaf.rel for leaf in tree.leaves] == ["sys/run1"]
    # inside the tree: read where it really is; outside: a symlink problem, never read
    assert tree.skipped == ["again (symlinked directory, not followed)"]
    [problem] = tree.problems
    assert (problem.kind, problem.path) == ("symlink", "sys/linked")
    assert "outside the tree" in problem.detail


def test_symlinked_file_inside_the_tree_is_read(tmp_path):
    put(tmp_path / "shared" / "s.json", summary())
    leaf = tmp_path / "sys" / "run1"
    leaf.mkdir(parents=True)
    os.symlink(tmp_path / "shared" / "s.json", leaf / "summary.json")
    [workload] = [w for w in read_tree(tmp_path).workloads if w.runs and w.runs[0].name == "run1"]
    assert workload.runs[0].summary["num_accelerators"] == 8


def test_size_limit_refuses_large_files(tmp_path):
    put(tmp_path / "sys" / "run1" / "summary.json", summary())
    [workload] = read_tree(tmp_path, size_limit=100).workloads
    [problem] = workload.leaves[0].problems
    assert problem.kind == "too_large" and workload.leaves[0].summary is None


def test_unreadable_root_is_a_tree_error(tmp_path):
    with pytest.raises(TreeError, match="no such directory"):
        read_tree(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TreeError, match="not a directory"):
        read_tree(tmp_path / "file")


def test_dlio_2_0_0_leaves(tmp_path):
    """DLIO 2.0.0 writes per_epoch_stats.json without a rank and, for datagen, only dlio.log + .hydra/."""
    base = tmp_path / "mlps_tiny"
    put(base / "datagen" / "dlio.log", "x")
    put(base / "datagen" / ".hydra" / "config.yaml",
        "workload:\n  workflow:\n    generate_data: true\n    train: false\n")
    put(base / "run" / "summary.json", summary())
    put(base / "run" / "per_epoch_stats.json", {"1": {}})
    put(base / "run" / "0_output.json", {})
    [workload] = read_tree(tmp_path).workloads
    assert {leaf.name: leaf.command for leaf in workload.leaves} == {"datagen": "datagen", "run": "run"}
    run = workload.runs[0]
    assert run.per_epoch_files == ("per_epoch_stats.json",) and run.output_files == ("0_output.json",)


def test_our_layout_with_metadata(tmp_path):
    leaf = tmp_path / "results" / "closed" / "acme" / "results" / "sut1" / "training" / "unet3d" / "run"
    leaf = leaf / "20260101_010203"
    put(leaf / "summary.json", summary())
    put(leaf / "training_20260101_010203_metadata.json",
        {"schema": "mlps-run-metadata/1", "model": "unet3d", "args": {"accelerator_type": "h100"},
         "override_parameters": {"workload.reader.read_threads": 8}})
    put(leaf / "0_per_epoch_stats.json", {"1": {}})
    put(leaf / "1_per_epoch_stats.json", {"1": {}})
    [workload] = read_tree(tmp_path).workloads
    run = workload.runs[0]
    assert (workload.division, workload.org, workload.system, workload.model, workload.accelerator) == (
        "closed", "acme", "sut1", "unet3d", "h100")
    assert run.metadata_file == "training_20260101_010203_metadata.json"
    assert run.per_epoch_files == ("0_per_epoch_stats.json", "1_per_epoch_stats.json")
    assert run.override_params() == {"reader.read_threads": "8"}


def test_v3_fixture_layouts():
    tree = read_tree(V3)
    by_bench = {w.benchmark: w for w in tree.workloads}
    assert by_bench["training"].model == "unet3d" and by_bench["training"].accelerator == "b200"
    assert len(by_bench["training"].runs) == 6
    assert by_bench["checkpointing"].model == "llama3-8b" and by_bench["checkpointing"].accelerator is None
    assert by_bench["vector_database"].model == "milvus/DISKANN"
    assert [leaf.command for leaf in by_bench["vector_database"].leaves].count("datagen") == 1
    assert by_bench["kv_cache"].runs[0].summary["options"]["1"]["rank_count"] == 32


def test_v1_fixture_multi_host_outputs():
    tree = read_tree(V1)
    unet = next(w for w in tree.workloads if w.model == "unet3d")
    assert unet.runs[0].output_files == ("0_output.json", "1_output.json")
    assert unet.runs[0].summary["host_memory_GB"][2] == 0.0          # zero-padded (DLIO's per-host slots)


SIMPLE_CASES = [
    "workload:\n  model:\n    name: unet3d\n  reader:\n    batch_size: 7\n    odirect: True\n",
    "a:\n  b:\n  c: 0.162\nd: -4\ne: ''\nf: '1.3'\ng: \"x y\"\nh: null\ni: ~\nj: /mnt/x-y/z_1\n",
    "a: 1.\nb: FALSE\nc:\n",
]
FALLBACK_CASES = [
    "a: yes\n", "a: on\n", "a: 1e5\n", "a: 0x1F\n", "a: 007\n", "a: 2001-12-14\n", "a: [1, 2]\n", "a:\n- 1\n",
    "a: &x 1\nb: *x\n", "a: |\n  text\n", "a: b: c\n", "a: x # note\n", "1: one\n", "a:\n  b: 1\n    c: 2\n",
    "---\na: 1\n", "a: 'it''s'\n", "a: .inf\n", "a:\tb\n",
]


@pytest.mark.parametrize("text", SIMPLE_CASES)
def test_simple_yaml_matches_pyyaml(text):
    assert parse_simple_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", FALLBACK_CASES)
def test_yaml_beyond_the_simple_subset_is_left_to_pyyaml(text):
    with pytest.raises(_NotSimple):
        parse_simple_yaml(text)


def test_every_fixture_config_takes_the_fast_path_and_parses_as_pyyaml_does():
    configs = sorted((V1.parent).rglob("config.yaml"))
    assert len(configs) >= 16
    for path in configs:
        text = path.read_text()
        assert parse_simple_yaml(text) == yaml.safe_load(text), path


def test_a_leaf_outside_any_benchmark_folder_takes_its_metadata_benchmark_type(tmp_path):
    leaf = tmp_path / "sys" / "20260101_010203"
    put(leaf / "summary.json", summary())
    put(leaf / "x_20260101_010203_metadata.json", {"benchmark_type": "checkpointing", "model": "llama3-8b"})
    put(tmp_path / "other" / "run1" / "summary.json", summary())
    enum = tmp_path / "closed" / "o" / "results" / "s" / "training" / "unet3d" / "run" / "20260101_010203"
    put(enum / "summary.json", summary())
    put(enum / "training_20260101_010203_metadata.json", {"benchmark_type": "BENCHMARK_TYPES.training"})
    assert {w.rel: w.benchmark for w in read_tree(tmp_path).workloads} == {
        "sys": "checkpointing", "other": "training", "closed/o/results/s/training/unet3d": "training"}


def test_an_unknown_benchmark_folder_is_its_own_benchmark(tmp_path):
    for bench in ("foobench", "training"):
        leaf = tmp_path / "closed" / "acme" / "results" / "sut1" / bench / "unet3d" / "run" / "20260101_010203"
        put(leaf / "summary.json", summary())
    by_rel = {w.rel: (w.benchmark, w.model) for w in read_tree(tmp_path).workloads}
    assert by_rel == {"closed/acme/results/sut1/foobench/unet3d": ("foobench", "unet3d"),
                      "closed/acme/results/sut1/training/unet3d": ("training", "unet3d")}
