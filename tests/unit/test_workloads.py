"""The workload table (mlps.rulebook.workloads) and the DLIO YAMLs in configs/dlio agree."""

from __future__ import annotations

import pytest
import yaml

from mlps.errors import UserError
from mlps.rulebook import workloads
from mlps.rulebook.workloads import (
    CHECKPOINT_MODELS,
    DLIO_CONFIG_DIR,
    TRAINING_WORKLOADS,
    ParquetColumn,
    get_checkpoint_model,
    get_training_workload,
    parquet_record_length,
)

WORKLOAD_DIR = DLIO_CONFIG_DIR / "workload"

# Every key DLIO 2.0.0's LoadConfig reads that our templates use (the integration test checks this
# list against the installed DLIO source). A key outside it would be ignored by DLIO without a word.
DLIO_2_0_0_KEYS = {
    "model", "framework",
    "workflow.generate_data", "workflow.train", "workflow.checkpoint",
    "dataset.data_folder", "dataset.format", "dataset.num_files_train", "dataset.num_samples_per_file",
    "dataset.record_length", "dataset.record_length_stdev", "dataset.record_length_resize",
    "reader.data_loader", "reader.batch_size", "reader.read_threads", "reader.computation_threads",
    "reader.file_shuffle", "reader.sample_shuffle", "reader.shuffle_size",
    "train.epochs", "train.computation_time",
    "checkpoint.checkpoint_folder", "checkpoint.checkpoint_after_epoch",
    "checkpoint.epochs_between_checkpoints", "checkpoint.model_size",
    "metric.au",
}


def flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def dataset_keys(w: workloads.TrainingWorkload) -> dict:
    keys = {
        "model": w.model, "framework": w.framework,
        "dataset.data_folder": f"data/{w.model}/", "dataset.format": w.format,
        "dataset.num_files_train": w.num_files_train, "dataset.num_samples_per_file": w.num_samples_per_file,
        "dataset.record_length": w.record_length_bytes,
    }
    if w.record_length_bytes_stdev:
        keys["dataset.record_length_stdev"] = w.record_length_bytes_stdev
    if w.record_length_bytes_resize:
        keys["dataset.record_length_resize"] = w.record_length_bytes_resize
    return keys


def expected_training_config(w: workloads.TrainingWorkload) -> dict:
    keys = dataset_keys(w)
    keys.update({
        "workflow.generate_data": False, "workflow.train": True, "workflow.checkpoint": w.checkpoint,
        "reader.data_loader": w.data_loader, "reader.batch_size": w.batch_size,
        "reader.read_threads": w.read_threads,
        "train.epochs": w.epochs, "train.computation_time": w.computation_time, "metric.au": w.au_min,
    })
    for name in ("computation_threads", "file_shuffle", "sample_shuffle", "shuffle_size"):
        if getattr(w, name) is not None:
            keys[f"reader.{name}"] = getattr(w, name)
    if w.checkpoint_model_size:
        # unet3d templates: one checkpoint after epoch 5 of a 499 153 191 B model (the v1.0/v2.0 templates)
        keys.update({"checkpoint.checkpoint_folder": f"checkpoints/{w.model}",
                     "checkpoint.checkpoint_after_epoch": 5, "checkpoint.epochs_between_checkpoints": 2,
                     "checkpoint.model_size": w.checkpoint_model_size})
    return keys


def load(name: str) -> dict:
    return yaml.safe_load((WORKLOAD_DIR / f"{name}.yaml").read_text())


RUNNABLE = [w for w in TRAINING_WORKLOADS.values() if w.dlio_2_0_0_gap is None]


@pytest.mark.parametrize("workload", RUNNABLE, ids=lambda w: w.name)
def test_training_yaml_matches_the_table(workload):
    assert flatten(load(workload.config_name)) == expected_training_config(workload)


@pytest.mark.parametrize("model", sorted({w.model for w in RUNNABLE}))
def test_datagen_yaml_matches_every_accelerator_of_its_model(model):
    config = flatten(load(f"{model}_datagen"))
    variants = [w for w in RUNNABLE if w.model == model]
    # the file count is always overridden by the plan; the template holds one variant's value
    assert config.pop("dataset.num_files_train") in {w.num_files_train for w in variants}
    for w in variants:
        expected = dataset_keys(w)
        del expected["dataset.num_files_train"]
        expected.update({"workflow.generate_data": True, "workflow.train": False, "workflow.checkpoint": False})
        assert config == expected, w.name


def test_yaml_files_are_exactly_the_runnable_workloads_and_their_datagen():
    on_disk = {p.stem for p in WORKLOAD_DIR.glob("*.yaml")}
    expected = {w.config_name for w in RUNNABLE} | {w.datagen_config_name for w in RUNNABLE}
    assert on_disk == expected
    left_out = {w.name for w in TRAINING_WORKLOADS.values() if w.dlio_2_0_0_gap}
    assert left_out == {"dlrm_b200", "flux_b200"}
    assert not left_out & on_disk


@pytest.mark.parametrize("path", sorted(WORKLOAD_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_key_is_one_dlio_2_0_0_reads(path):
    keys = set(flatten(yaml.safe_load(path.read_text())))
    assert keys <= DLIO_2_0_0_KEYS, keys - DLIO_2_0_0_KEYS
    # the newer MLCommons spelling would be silently ignored by DLIO 2.0.0
    assert not any("record_length_bytes" in k for k in keys)


def test_primary_config_has_no_default_workload():
    config = yaml.safe_load((DLIO_CONFIG_DIR / "config.yaml").read_text())
    assert {"workload": "???"} in config["defaults"]
    assert "_self_" in config["defaults"]


def test_rule_book_numbers_spot_checks():
    unet = get_training_workload("unet3d", "b200")
    assert (unet.num_files_train, unet.record_length_bytes, unet.computation_time, unet.au_min_percentage) == \
        (7200, 146_600_628, 0.162, 90.0)
    assert unet.divisions("3.0") == {"closed", "open"}
    assert get_training_workload("unet3d", "h100").divisions("3.0") == {"whatif"}
    assert get_training_workload("unet3d", "h100").divisions("2.0") == {"closed", "open"}
    retina = get_training_workload("retinanet", "mi355")
    assert (retina.batch_size, retina.computation_time, retina.epochs, retina.au_min) == (32, 0.0634, 8, 0.85)
    assert get_training_workload("cosmoflow", "a100").computation_time == 0.00551
    assert get_training_workload("resnet50", "h100").record_length_bytes == 114_660.07
    assert get_training_workload("flux", "b200").divisions("3.0") == {"whatif"}
    assert get_training_workload("dlrm", "b200").divisions("2.0") == frozenset()


def test_lookup_is_case_insensitive():
    assert get_training_workload(" UNet3D ", "H100") is TRAINING_WORKLOADS["unet3d", "h100"]


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UserError) as err:
        get_training_workload("bert", "h100")
    message = str(err.value)
    assert "'bert'" in message and "unet3d/h100" in message and "retinanet/b200" in message
    assert "\n" not in message


def test_unknown_accelerator_names_the_models_accelerators():
    with pytest.raises(UserError, match=r"unknown accelerator 'v100' for model unet3d: expected one of "
                                        r"a100, b200, h100"):
        get_training_workload("unet3d", "v100")


def test_unet3d_mi355_says_no_template_exists():
    with pytest.raises(UserError, match="no unet3d_mi355 template"):
        get_training_workload("unet3d", "mi355")


def test_template_lookup_is_lenient_for_old_trees():
    assert workloads.template("unet3d", "h100").computation_time == 0.323
    assert workloads.template("unet3d", None).record_length_bytes == 146_600_628   # variants agree
    assert workloads.template("retinanet", None) is None                           # batch sizes differ
    assert workloads.template("bert", "v100") is None
    assert workloads.template(None, "h100") is None


def test_parquet_record_lengths_reproduce_the_templates():
    assert parquet_record_length(TRAINING_WORKLOADS["flux", "b200"].parquet_columns) == 2_164_832
    dlrm = TRAINING_WORKLOADS["dlrm", "b200"]
    assert len(dlrm.parquet_columns) == 200
    assert parquet_record_length(dlrm.parquet_columns) == dlrm.record_length_bytes == 761
    assert parquet_record_length([ParquetColumn("a", "float64", 3), ParquetColumn("b", "uint8", 5)]) == 29


def test_parquet_bad_column_is_a_user_error():
    with pytest.raises(UserError, match="unknown dtype 'complex128'"):
        parquet_record_length([ParquetColumn("a", "complex128")])
    with pytest.raises(UserError, match="size must be at least 1"):
        parquet_record_length([ParquetColumn("a", "float32", 0)])


@pytest.mark.parametrize("model", CHECKPOINT_MODELS.values(), ids=lambda m: m.name)
def test_checkpoint_layout_multiplies_to_the_closed_process_count(model):
    assert model.model_parallel * model.data_parallel == model.closed_processes
    assert model.open_process_multiple == model.tensor_parallel * model.pipeline_parallel
    assert model.vocab_size == 128_256


def test_uniform_rank_bytes_sum_to_the_reported_checkpoint_size():
    small, large = CHECKPOINT_MODELS["llama3-8b"], CHECKPOINT_MODELS["llama3-70b"]
    assert sum(small.uniform_rank_bytes) == 14_053_202_944
    assert round(small.closed_processes * sum(small.uniform_rank_bytes) / 2**30, 4) == small.formula_size_gib
    assert large.closed_processes * sum(large.uniform_rank_bytes) / 2**30 == large.measured_size_gib
    assert CHECKPOINT_MODELS["llama3-1t"].measured_size_gib is None


def test_checkpoint_model_aliases_and_errors():
    assert get_checkpoint_model("8b") is get_checkpoint_model("LLAMA3_8B") is CHECKPOINT_MODELS["llama3-8b"]
    assert get_checkpoint_model("llama3-405b").zero_stage == 1
    with pytest.raises(UserError, match="unknown checkpointing model '13b'"):
        get_checkpoint_model("13b")


def test_accelerator_memory_table():
    assert dict(workloads.ACCELERATOR_MEMORY_GB) == {"b200": 180, "mi355": 288, "h100": 80, "a100": 80}
    assert workloads.ACCELERATOR_DIVISIONS["h100"] == {"whatif"}
