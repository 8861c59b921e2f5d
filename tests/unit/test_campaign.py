"""mlps.campaign.frame: leaf allocation, atomic metadata, the plan, DLIO's command line, collecting
outputs and run/results.json."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from mlps.campaign import frame, training
from mlps.errors import UserError
from tests.archives import make_tar

GIB = 2**30


def cluster_info(tmp_path: Path, memory_gib=(8, 8)) -> Path:
    hosts = [{"hostname": f"h{i}", "machine_id": f"m{i}", "facts": {"hostname": f"h{i}", "machine_id": f"m{i}",
                                                                     "meminfo": {"MemTotal": gib * GIB}}}
             for i, gib in enumerate(memory_gib)]
    path = tmp_path / "cluster_info_start.json"
    path.write_text(json.dumps({"schema": "mlps-cluster-info/1", "hosts": hosts}))
    return path


# --- names and leaves -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", "a/b", "..", "with space", "x;y"])
def test_check_name_refuses_what_is_not_a_plain_folder_name(bad):
    with pytest.raises(UserError, match="plain name"):
        frame.check_name("mlps_training_org", bad)


def test_workload_dir_follows_the_results_layout(tmp_path):
    path = training.workload_dir(tmp_path, "closed", "acme", "sys-1", "unet3d")
    assert path == tmp_path / "closed" / "acme" / "results" / "sys-1" / "training" / "unet3d"
    with pytest.raises(UserError, match="closed or open"):
        training.workload_dir(tmp_path, "preview", "acme", "sys-1", "unet3d")


def test_allocate_leaf_never_reuses_a_taken_second(tmp_path):
    times = iter([datetime.datetime(2026, 1, 2, 3, 4, 5, 900000)] * 2 + [datetime.datetime(2026, 1, 2, 3, 4, 6)])
    waits = []
    first, stamp1 = frame.allocate_leaf(tmp_path, "run", clock=lambda: next(times), sleep=waits.append)
    second, stamp2 = frame.allocate_leaf(tmp_path, "run", clock=lambda: next(times), sleep=waits.append)
    assert (stamp1, stamp2) == ("20260102_030405", "20260102_030406")
    assert first.is_dir() and second.is_dir() and first != second
    assert waits and 0.05 <= waits[0] <= 0.2          # waited for the rest of the taken second


def test_allocate_leaf_rejects_unknown_commands(tmp_path):
    with pytest.raises(UserError, match="datasize, datagen, run"):
        frame.allocate_leaf(tmp_path, "train")


def test_update_metadata_merges_and_writes_atomically(tmp_path):
    frame.update_metadata(tmp_path, "20260101_000000", {"status": "running", "argv": ["a"]}, "training")
    meta = frame.update_metadata(tmp_path, "20260101_000000", {"status": "completed", "rc": 0}, "training")
    on_disk = json.loads((tmp_path / "training_20260101_000000_metadata.json").read_text())
    assert on_disk == meta
    assert (meta["status"], meta["argv"], meta["rc"]) == ("completed", ["a"], 0)
    assert meta["schema"] == training.METADATA_SCHEMA
    assert [p.name for p in tmp_path.iterdir()] == ["training_20260101_000000_metadata.json"]   # no temp left
    with pytest.raises(UserError, match="status 'done'"):
        frame.update_metadata(tmp_path, "20260101_000000", {"status": "done"}, "training")


# --- the plan ---------------------------------------------------------------------------------------
def test_plan_uses_measured_memory_and_places_ranks_evenly(tmp_path):
    plan = training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=2, hosts=["h0", "h1"],
                                  cluster_info=cluster_info(tmp_path))
    assert plan["client_memory_bytes"] == 16 * GIB
    assert plan["num_accelerators"] == 4 and plan["ranks_per_host"] == {"h0": 2, "h1": 2}
    # 5 x 16 GiB / 146600628 B per file = 586.03 -> 587 files; steps: 500 x 4 x 7 = 14000 files dominate
    assert plan["plan"]["num_files_train"] == 14000 == plan["num_files_train"]
    assert plan["num_subfolders_train"] == 1
    assert (plan["run_workload"], plan["datagen_workload"], plan["epochs"]) == ("unet3d_h100", "unet3d_datagen", 5)
    assert not plan["undersized"]


def test_plan_stops_on_an_undersized_user_value_naming_the_rule_and_both_numbers(tmp_path):
    with pytest.raises(UserError) as err:
        training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=2, hosts=["h0", "h1"],
                               cluster_info=cluster_info(tmp_path), num_files_train=16)
    text = str(err.value)
    assert "mlps_training_num_files_train=16" in text and "14000" in text and "TRAIN-DATASIZE" in text
    assert "mlps_training_accept_undersized" in text


def test_plan_records_an_accepted_undersized_run(tmp_path):
    plan = training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=2, hosts=["h0"],
                                  cluster_info=cluster_info(tmp_path, (8,)), num_files_train=16,
                                  accept_undersized=True, extra={"train.epochs": 2, "dataset.record_length": 1024})
    assert plan["undersized"] and plan["accept_undersized"] and not plan["check"]["ok"]
    assert (plan["num_files_train"], plan["num_subfolders_train"]) == (16, 0)
    assert (plan["epochs"], plan["record_length"]) == (2, 1024)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "bert"}, "unknown"),
    ({"accelerators_per_host": 0}, "at least 1"),
    ({"hosts": []}, "clients group is empty"),
])
def test_plan_bad_input_is_one_clear_error(tmp_path, kwargs, match):
    args = {"model": "unet3d", "accelerator": "h100", "accelerators_per_host": 1, "hosts": ["h0"],
            "cluster_info": cluster_info(tmp_path, (8,)), **kwargs}
    with pytest.raises(UserError, match=match):
        training.plan_campaign(**args)


def test_datasize_metadata_has_what_the_verifier_reads(tmp_path):
    plan = training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=1, hosts=["h0", "h1"],
                                  cluster_info=cluster_info(tmp_path))
    meta = training.datasize_metadata(plan, "/data", "20260101_000000")
    assert meta["parameters"]["dataset"]["num_files_train"] == plan["num_files_train"]
    assert meta["parameters"]["dataset"]["total_disk_bytes"] == plan["total_disk_bytes"]
    assert meta["args"]["client_host_memory_in_gb"] == 8.0
    assert (meta["args"]["max_accelerators"], meta["args"]["accelerator_type"]) == (2, "h100")


# --- DLIO's command line --------------------------------------------------------------------------
def test_dlio_command_sets_the_campaign_keys_then_the_users():
    argv, overrides = training.dlio_command(
        dlio="/v/bin/dlio_benchmark", config_dir="/c/dlio", workload="unet3d_h100", data_folder="/d",
        num_files_train=16, num_subfolders_train=0, checkpoint_folder="/ck", output_folder="/o",
        tunables={"reader.read_threads": 1}, extra={"train.epochs": 2, "reader.odirect": True})
    assert argv[:4] == ["/v/bin/dlio_benchmark", "--config-path", "/c/dlio", "workload=unet3d_h100"]
    assert argv[-1] == "hydra.run.dir=/o"
    assert "++workload.output.folder=/o" in argv and "++workload.reader.odirect=True" in argv
    assert overrides["dataset.num_files_train"] == "16" and overrides["train.epochs"] == "2"


def test_check_overrides_refuses_non_tunables_but_takes_extras_with_a_warning():
    with pytest.raises(UserError, match=r"train\.epochs may not be changed"):
        training.check_overrides({"train.epochs": 1}, {})
    with pytest.raises(UserError, match="set by the campaign"):
        training.check_overrides({}, {"dataset.num_files_train": 3})
    with pytest.raises(UserError, match="dotted DLIO key"):
        training.check_overrides({}, {"a b": 1})
    assert training.check_overrides({"reader.read_threads": 2}, {"train.epochs": 1}) == [
        "train.epochs=1 is not a rules tunable: the run is for testing only"]


# --- collecting outputs and results.json ------------------------------------------------------------
def test_extract_outputs_unpacks_in_order_and_names_a_refused_host(tmp_path):
    leaf = tmp_path / "leaf"
    leaf.mkdir()
    routes = {"dlio": ".", "timeseries": "series"}
    other = make_tar(tmp_path / "h1.tar", {"dlio/1_output.json": b"{}", "dlio/dlio.log": b"partial"})
    bad = make_tar(tmp_path / "h2.tar", {"dlio/dlio.log": b"forged", "../evil": b"x"})
    launcher = make_tar(tmp_path / "h0.tar", {"dlio/summary.json": b"{}", "dlio/dlio.log": b"full",
                                          "dlio/.hydra/config.yaml": b"a: 1", "timeseries/h0.jsonl": b"{}\n"})
    written, refused = frame.extract_outputs([("h1", other), ("h2", bad), ("h0", launcher)], leaf, routes)
    assert written == [".hydra/config.yaml", "1_output.json", "dlio.log", "series/h0.jsonl", "summary.json"]
    assert (leaf / "dlio.log").read_text() == "full"
    assert list(refused) == ["h2"] and "archive from h2 refused: member '../evil'" in refused["h2"]
    assert not (tmp_path / "evil").exists()


def test_write_results_json_averages_the_measured_runs(tmp_path):
    workload = training.workload_dir(tmp_path, "closed", "o", "s", "unet3d")
    for i, au in enumerate([10.0, 50.0, 70.0]):
        leaf = workload / "run" / f"20260101_00000{i}"
        leaf.mkdir(parents=True)
        (leaf / "summary.json").write_text(json.dumps({
            "num_accelerators": 2, "num_hosts": 1,
            "metric": {"train_au_percentage": [au, au], "train_io_mean_MB_per_second": 1024.0,
                       "train_throughput_mean_samples_per_second": 10.0}}))
    doc = training.write_results_json(workload)
    assert doc["warmup"] == "20260101_000000" and doc["runs"] == ["20260101_000001", "20260101_000002"]
    assert doc["results"]["train_mean_of_au_percentage"] == 60.0
    assert doc["results"]["read_bw_GiB_per_second"] == 1.0
    assert json.loads((workload / "run" / "results.json").read_text()) == doc


def test_planned_files_are_rounded_up_to_split_evenly_over_the_ranks(tmp_path):
    # 500 steps x 7 per batch x 3 ranks = 10500 files: a multiple of 3 already, so use 7 ranks
    plan = training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=7,
                                  hosts=["h0"], cluster_info=cluster_info(tmp_path, memory_gib=(1,)))
    assert plan["plan"]["num_files_train"] == 24500 and plan["num_files_train"] == 24500
    plan = training.plan_campaign(model="resnet50", accelerator="h100", accelerators_per_host=7,
                                  hosts=["h0"], cluster_info=cluster_info(tmp_path, memory_gib=(64,)))
    assert plan["num_files_train"] % 7 == 0 and plan["num_files_train"] >= plan["plan"]["num_files_train"]
    assert plan["num_files_train"] - plan["plan"]["num_files_train"] < 7


def test_a_user_file_count_that_does_not_split_over_the_ranks_is_refused_with_the_next_good_one(tmp_path):
    info = cluster_info(tmp_path, memory_gib=(1, 1, 1))
    with pytest.raises(UserError, match=r"num_files_train=16 does not split evenly over 3 ranks.*use 18"):
        training.plan_campaign(model="unet3d", accelerator="h100", accelerators_per_host=1,
                               hosts=["h0", "h1", "h2"], cluster_info=info, num_files_train=16,
                               accept_undersized=True)


def test_a_reused_dataset_becomes_the_one_datagen_leaf_only_when_there_is_none(tmp_path):
    workload = tmp_path / "wl"
    evidence = {"matches": True, "found_files": 16, "total_bytes": 16 * 2**20}
    leaf = training.record_skipped_datagen(workload, evidence, {"campaign_id": "C1", "model": "unet3d"})
    record = json.loads((leaf / training.metadata_name(leaf.name)).read_text())
    assert record["status"] == "skipped" and record["dataset_check"] == evidence and record["campaign_id"] == "C1"
    assert "already holds a dataset matching the plan" in record["message"]
    # a second reuse adds nothing: the workload keeps exactly one datagen leaf (TRAIN-DATAGEN-ONE)
    assert training.record_skipped_datagen(workload, evidence, {}) is None
    assert len(list((workload / "datagen").iterdir())) == 1
