"""Edition 3.0 submission-shape rules, each failing on a valid tree changed in one thing (the valid
trees of test_rules_synthetic.py are the passing cases), and passing where the rule does not apply."""

from __future__ import annotations

import json

from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.verify import verify
from tests.unit.test_rules_synthetic import build_checkpoint_workload, build_training_workload, edit_json


def found(result, rule_id, outcome=Outcome.INVALID):
    return [f for f in result.findings if f.rule_id == rule_id and f.outcome == outcome]


def runs(workload):
    return sorted((workload / "run").glob("2*"))


# --- TREE-NAMES (2.1.10-2.1.12) ----------------------------------------------------------------------
def test_tree_names_pass_on_the_valid_trees(tmp_path):
    build_training_workload(tmp_path / "t")
    build_checkpoint_workload(tmp_path / "c")
    result = verify(tmp_path)
    assert found(result, "TREE-NAMES") == [] and result.rules["TREE-NAMES"]["evaluated"] == 2


def test_tree_names_system_with_a_space(tmp_path):
    workload = build_training_workload(tmp_path)
    system = workload.parent.parent
    system.rename(system.with_name("my system"))
    (hit,) = found(verify(tmp_path), "TREE-NAMES")
    assert hit.actual == "my system" and "system folder name" in hit.message


def test_tree_names_renamed_leaf_and_unknown_phase(tmp_path):
    workload = build_training_workload(tmp_path)
    first = runs(workload)[0]
    first.rename(first.with_name("warmup"))
    (workload / "datagen").rename(workload / "generate")
    hits = found(verify(tmp_path), "TREE-NAMES")
    assert {h.actual.split("/")[0] for h in hits} == {"run", "generate"}


def test_tree_names_outside_the_division_layout_is_invalid(tmp_path):
    workload = build_training_workload(tmp_path)
    workload.rename(tmp_path / "unet3d")
    (hit,) = found(verify(tmp_path / "unet3d", edition="3.0"), "TREE-NAMES")
    assert "not under <division>/<org>/results/<system>/" in hit.message


# --- DLIO-CONFIG-EXACT (2.1.15 / 2.1.20 / 2.1.26) -----------------------------------------------------
def test_dlio_config_with_an_extra_file(tmp_path):
    workload = build_training_workload(tmp_path)
    (runs(workload)[2] / "dlio_config" / "config.yaml.orig").write_text("edited\n")
    (hit,) = found(verify(tmp_path), "DLIO-CONFIG-EXACT")
    assert hit.actual == ["config.yaml.orig"] and hit.evidence.endswith("dlio_config")


def test_dlio_config_extra_file_in_a_checkpoint_leaf(tmp_path):
    workload = build_checkpoint_workload(tmp_path)
    leaf = sorted(p for p in workload.iterdir() if p.is_dir())[0]
    (leaf / "dlio_config").mkdir(exist_ok=True)
    (leaf / "dlio_config" / "notes.txt").write_text("x\n")
    assert found(verify(tmp_path), "DLIO-CONFIG-EXACT")


# --- TRAIN-SINGLEHOST-CLIENTS (3.3.4) ---------------------------------------------------------------
def add_metadata(leaf, data):
    (leaf / f"training_{leaf.name}_metadata.json").write_text(json.dumps(data))


def test_single_host_result_launched_on_two_clients(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs(workload):
        add_metadata(leaf, {"command": "run", "executed_command":
                            "mpirun -n 8 -host c1:4,c2:4 python dlio_benchmark/main.py workload=unet3d_b200"})
    hits = found(verify(tmp_path), "TRAIN-SINGLEHOST-CLIENTS")
    assert len(hits) == 6 and hits[0].actual == 2 and "c1, c2" in hits[0].message


def test_single_host_result_on_one_client_passes(tmp_path):
    workload = build_training_workload(tmp_path)
    for leaf in runs(workload):
        add_metadata(leaf, {"command": "run", "args": {"hosts": ["c1"]},
                            "executed_command": "mpirun -n 8 -host c1:8 python main.py"})
    result = verify(tmp_path)
    assert found(result, "TRAIN-SINGLEHOST-CLIENTS") == [] and result.verdict == Verdict.CLOSED


def test_tool_args_hosts_are_read_too(tmp_path):
    workload = build_training_workload(tmp_path)
    add_metadata(runs(workload)[1], {"command": "run", "args": {"hosts": "c1,c2,c3"}})
    (hit,) = found(verify(tmp_path), "TRAIN-SINGLEHOST-CLIENTS")
    assert hit.actual == 3


# --- TRAIN-EVAL-FILES (3.3.1) -----------------------------------------------------------------------
def test_eval_files_beyond_the_generated_dataset(tmp_path):
    workload = build_training_workload(tmp_path)
    edit_json(runs(workload)[3] / "summary.json", lambda d: d.update(num_files_eval=16))
    (hit,) = found(verify(tmp_path), "TRAIN-EVAL-FILES")
    assert hit.expected == "<= 0" and hit.actual == 16


def test_eval_files_within_the_generated_dataset_pass(tmp_path):
    workload = build_training_workload(tmp_path)
    (datagen,) = sorted((workload / "datagen").iterdir())
    edit_json(datagen / "summary.json", lambda d: d.update(num_files_eval=32))
    for leaf in runs(workload):
        edit_json(leaf / "summary.json", lambda d: d.update(num_files_eval=16))
    result = verify(tmp_path)
    assert found(result, "TRAIN-EVAL-FILES") == [] and result.rules["TRAIN-EVAL-FILES"]["evaluated"] == 1
