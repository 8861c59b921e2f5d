"""The checkpoint shard planner against DLIO's base_checkpointing.py figures, `mlps ckpt-plan`, the plan
contract with the native engine, and the checkpointing workload YAMLs against mlps.rulebook.workloads."""

from __future__ import annotations

import json

import pytest
import yaml

from mlps.cli import main
from mlps.errors import UserError
from mlps.plan.checkpoint import GIB, closed_plans, parameter_count, plan_checkpoint, stage_indices
from mlps.rulebook.workloads import CHECKPOINT_COMMON, CHECKPOINT_MODELS, DLIO_CONFIG_DIR
from mlps_module_utils import mlps_ckpt_native

CKPT_CONFIG_DIR = DLIO_CONFIG_DIR.parent / "checkpointing"

# DLIO's base_checkpointing.py: (model bytes, optimizer bytes) per rank at the CLOSED layout, by pipeline stage for
# ZeRO-1 models (d=0 ranks; d=1 ranks write optimizer state only).
UNIFORM = {"llama3-8b": (2_007_565_312, 12_045_637_632), "llama3-70b": (2_184_120_320, 13_103_482_368)}
STAGED = {
    "llama3-405b": (9_513_171_840, {0: 3_713_269_760, 1: 3_187_933_184, 29: 3_187_933_184,
                                    30: 2_390_949_888, 31: 2_916_319_232}),
    "llama3-1t": (13_865_244_924, {0: 5_425_047_936, 1: 4_595_488_128, 62: 4_595_488_128, 63: 5_425_099_680}),
}
SUBSET_GIB = {"llama3-70b": 113.90, "llama3-405b": 98.54, "llama3-1t": 143.72}   # subset mode: 8 ranks' bytes


def valid_counts(model):
    """CLOSED count and other multiples of TP x PP that DLIO can use (OPEN)."""
    mp = model.model_parallel
    return sorted({mp, 2 * mp, model.closed_processes, 3 * mp} - ({mp} if model.zero_stage == 1 else set()))


# --- the formula against the rule book -----------------------------------------------------------------
@pytest.mark.parametrize("plan", closed_plans(), ids=lambda p: p.model.name)
def test_closed_layout_sums_to_the_rule_book_size(plan):
    model = plan.model
    assert plan.checkpoint_size_gib == pytest.approx(model.formula_size_gib, abs=5e-4)   # 1t's is given to 3 places
    if model.measured_size_gib is not None:
        assert plan.checkpoint_size_gib == pytest.approx(model.measured_size_gib, abs=0.01)
    assert plan.total_bytes == sum(f.bytes for r in plan.ranks for f in r.files)
    assert len(plan.ranks) == model.closed_processes and plan.data_parallel == model.data_parallel


@pytest.mark.parametrize("name", UNIFORM)
def test_zero3_ranks_write_the_rule_book_bytes_in_two_files(name):
    plan = plan_checkpoint(name, CHECKPOINT_MODELS[name].closed_processes)
    assert {(r.model_bytes, r.optim_bytes) for r in plan.ranks} == {UNIFORM[name]}
    rank = plan.ranks[-1]
    assert [f.name for f in rank.files] == [f"zero_pp_rank_{rank.d}_mp_rank_{rank.m}_model_states.pt",
                                            f"zero_pp_rank_{rank.d}_mp_rank_{rank.m}_optim_states.pt"]


@pytest.mark.parametrize("name", STAGED)
def test_zero1_stages_write_the_rule_book_bytes(name):
    model = CHECKPOINT_MODELS[name]
    optim, by_stage = STAGED[name]
    plan = plan_checkpoint(name, model.closed_processes)
    for rank in plan.ranks:
        assert rank.optim_bytes == optim
        if rank.d == 0:
            if rank.p in by_stage:
                assert rank.model_bytes == by_stage[rank.p], (rank.rank, rank.p)
            # one file per owned layer index plus the optimizer file ("layers+1")
            assert len(rank.files) == len(stage_indices(model, rank.p)) + 1
        else:
            assert rank.model_bytes == 0
            assert [f.name for f in rank.files] == [f"zero_pp_rank_{rank.d}_mp_rank_{rank.m}_optim_states.pt"]


def test_405b_stage_layer_ranges_and_file_names():
    model = CHECKPOINT_MODELS["llama3-405b"]
    assert stage_indices(model, 0) == [0, 1, 2, 3, 4]
    assert stage_indices(model, 30) == [121, 122, 123]
    assert stage_indices(model, 31) == [124, 125, 126, 127, 128]
    plan = plan_checkpoint(model, 512)
    layer_files = [f"layer_{i}-model_255_model_states.pt" for i in range(124, 129)]
    assert [f.name for f in plan.ranks[255].files] == [*layer_files, "zero_pp_rank_0_mp_rank_255_optim_states.pt"]
    layers = [i for p in range(32) for i in stage_indices(model, p)]
    assert layers == list(range(model.layers + 3))        # every index owned once, in order


@pytest.mark.parametrize("model", CHECKPOINT_MODELS.values(), ids=lambda m: m.name)
def test_any_valid_count_holds_the_whole_model_and_optimizer(model):
    """Weights: the same total at any count (ZeRO-3 splits them over DP, less integer-division crumbs;
    ZeRO-1 keeps them on d=0); optimizer: 12 bytes per parameter plus 60 h per rank (DLIO's base_checkpointing.py)."""
    params = parameter_count(model)
    closed = sum(r.model_bytes for r in plan_checkpoint(model, model.closed_processes).ranks)
    for count in valid_counts(model):
        plan = plan_checkpoint(model, count)
        weights = sum(r.model_bytes for r in plan.ranks)
        optim = sum(r.optim_bytes for r in plan.ranks)
        crumbs = 2 * 6 * (model.layers + 3) * (count + model.closed_processes)
        assert abs(weights - closed) <= (crumbs if model.zero_stage == 3 else 0), count
        assert 0 <= 12 * params + 60 * model.hidden * count - optim <= 12 * count, count
    if model.tensor_parallel == 1:                              # no norms replicated over tensor ranks
        assert 0 <= 2 * params - closed <= 2 * 6 * (model.layers + 3) * model.closed_processes


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.001, 1e-6])
@pytest.mark.parametrize("model", CHECKPOINT_MODELS.values(), ids=lambda m: m.name)
def test_scaled_rank_bytes_sum_to_the_checkpoint_size_times_the_scale(model, scale):
    for count in valid_counts(model):
        full = plan_checkpoint(model, count)
        scaled = plan_checkpoint(model, count, scale=scale)
        files = sum(len(r.files) for r in scaled.ranks)
        # every file is floor(size x scale): the total is at most one byte per file below size x scale
        assert full.total_bytes * scale - files < scaled.total_bytes <= full.total_bytes * scale + 1e-6
        assert [f.name for r in scaled.ranks for f in r.files] == [f.name for r in full.ranks for f in r.files]
    closed = plan_checkpoint(model, model.closed_processes, scale=scale)
    crumbs = sum(len(r.files) for r in closed.ranks) / GIB
    expected = pytest.approx(model.formula_size_gib * scale, rel=1e-6, abs=5e-4 * scale + crumbs)
    assert closed.checkpoint_size_gib == expected


@pytest.mark.parametrize("name", SUBSET_GIB)
def test_subset_mode_writes_the_first_shards_of_the_closed_layout(name):
    plan = plan_checkpoint(name, 8, subset=True)
    assert round(plan.checkpoint_size_gib, 2) == SUBSET_GIB[name]
    assert plan.data_parallel == CHECKPOINT_MODELS[name].data_parallel
    assert plan.division == "invalid" and "CKPT-SUBSET" in plan.invalid_reasons[0]


def test_8b_subset_at_8_is_identical_to_the_full_run_and_closed():
    subset, full = plan_checkpoint("llama3-8b", 8, subset=True), plan_checkpoint("llama3-8b", 8)
    assert subset.to_dict()["ranks"] == full.to_dict()["ranks"]
    assert subset.division == "closed"


# --- placement, cache rule, classification -----------------------------------------------------------
def test_bytes_per_host_follow_the_mpirun_placement():
    plan = plan_checkpoint("llama3-405b", 512, hosts=["a", "b", "c", "d"])
    per_host = dict(plan.bytes_per_host())
    assert sum(per_host.values()) == plan.total_bytes
    assert per_host["a"] == sum(r.bytes for r in plan.ranks[:128])          # stages 0-15 of d=0
    assert per_host["c"] == per_host["d"] == 128 * 9_513_171_840            # d=1: optimizer only
    uneven = plan_checkpoint("llama3-8b", 8, hosts=["a", "b", "c"])
    assert uneven.hosts == [("a", 3), ("b", 3), ("c", 2)]
    assert dict(uneven.bytes_per_host())["c"] == 2 * 14_053_202_944


def test_cache_drop_follows_the_3x_memory_rule():
    def plan(memory_gib, **kw):
        return plan_checkpoint("llama3-8b", 8, hosts=["h0"], host_memory_bytes=int(memory_gib * GIB), **kw)
    assert plan(34.0).cache_drop_required() is False          # 104.7 GiB > 3 x 34
    assert plan(35.0).cache_drop_required() is True           # 104.7 GiB <= 3 x 35
    assert plan(1.0, scale=0.001).cache_drop_required() is True
    assert plan_checkpoint("llama3-8b", 8).cache_drop_required() is None
    # two hosts write 52.35 GiB each: above 3 x 17 GiB, not above 3 x 18 GiB
    assert plan_checkpoint("llama3-8b", 8, hosts=["a", "b"], host_memory_bytes=17 * GIB).cache_drop_required() is False
    assert plan_checkpoint("llama3-8b", 8, hosts=["a", "b"], host_memory_bytes=18 * GIB).cache_drop_required() is True


def test_classification_inputs():
    assert plan_checkpoint("llama3-8b", 8).division == "closed"
    scaled = plan_checkpoint("llama3-8b", 8, scale=0.01)
    assert scaled.division == "open" and "size scale 0.01" in scaled.open_reasons[0]
    native = plan_checkpoint("llama3-70b", 64, engine="native")
    assert native.division == "open" and "native engine" in native.open_reasons[0]
    other = plan_checkpoint("llama3-70b", 16)
    assert other.division == "open" and "CLOSED needs exactly 64" in other.open_reasons[0]
    assert plan_checkpoint("llama3-8b", 8, engine="native", scale=0.5).run_record() == {
        "engine": "native", "size_scale": 0.5, "checkpoint_mode": "default",
        "checkpoint_plan_bytes": plan_checkpoint("llama3-8b", 8, scale=0.5).total_bytes}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "llama3-70b", "processes": 12}, "must be a multiple of TP x PP = 8 x 1 = 8 (e.g. 8 or 16)"),
    ({"model": "llama3-405b", "processes": 100}, "multiple of TP x PP = 8 x 32 = 256 (e.g. 256)"),
    ({"model": "llama3-405b", "processes": 600, "subset": True}, "at most DP x TP x PP = 2 x 256 = 512"),
    ({"model": "llama3-8b", "processes": 0}, "processes=0: expected a positive whole number"),
    ({"model": "llama3-8b", "processes": 8, "scale": 0}, "scale=0: expected a number in (0, 1]"),
    ({"model": "llama3-8b", "processes": 8, "scale": float("nan")}, "scale=nan"),
    ({"model": "llama3-8b", "processes": 8, "engine": "fio"}, "engine='fio': expected one of dlio, native"),
    ({"model": "gpt2", "processes": 8}, "unknown checkpointing model 'gpt2'"),
])
def test_bad_input_is_a_one_line_user_error(kwargs, message):
    with pytest.raises(UserError) as err:
        plan_checkpoint(kwargs.pop("model"), kwargs.pop("processes"), **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


# --- the CLI and the engine contract -----------------------------------------------------------------
def test_cli_json_is_a_plan_the_native_engine_accepts(tmp_path, capsys):
    assert main(["ckpt-plan", "--model", "llama3-8b", "--processes", "4", "--scale", "0.001",
                 "--engine", "native", "--json"]) == 0
    text = capsys.readouterr().out
    document = json.loads(text)
    assert document["schema"] == "mlps-ckpt-plan/1" and document["division"] == "open"
    assert document["total_bytes"] == sum(f["bytes"] for r in document["ranks"] for f in r["files"])
    path = tmp_path / "plan.json"
    path.write_text(text)
    assert mlps_ckpt_native.load_plan(str(path)) == document


def test_engine_refuses_a_malformed_plan(tmp_path):
    path = tmp_path / "plan.json"
    plan = plan_checkpoint("llama3-8b", 2, scale=0.001).to_dict()
    plan["ranks"][1]["files"][0]["name"] = "../escape.pt"
    path.write_text(json.dumps(plan))
    with pytest.raises(mlps_ckpt_native.EngineError, match="rank entry 1 is malformed"):
        mlps_ckpt_native.load_plan(str(path))
    path.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(mlps_ckpt_native.EngineError, match="expected a mlps-ckpt-plan/1 document"):
        mlps_ckpt_native.load_plan(str(path))


@pytest.mark.parametrize(("text", "value"), [("4MiB", 4 << 20), ("512KiB", 512 << 10), ("1G", 1 << 30),
                                              ("4096", 4096), (" 8 MB ", 8 << 20)])
def test_engine_transfer_sizes(text, value):
    assert mlps_ckpt_native.parse_size(text) == value


def test_engine_rejects_bad_arguments_before_mpi(capsys):
    base = ["--plan", "p", "--folder", "f", "--output-folder", "o"]
    for extra, message in ((["--reads", "11"], "--reads 11 > --writes 10"),
                           (["--odirect", "--transfer-size", "1000"], "O_DIRECT needs a multiple of 4096"),
                           (["--transfer-size", "lots"], "expected bytes or a size like 4MiB"),
                           (["--writes", "0", "--reads", "0"], "nothing to do")):
        with pytest.raises(SystemExit) as exc:
            mlps_ckpt_native.parse_args(base + extra)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_text_output_and_bad_input(capsys):
    argv = ["ckpt-plan", "--model", "405b", "--processes", "512", "--hosts", "a,b", "--host-memory-gib", "512"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ranks 256-511       model 0 + optim 9513171840" in out
    assert "division              CLOSED" in out and "cache drop            not required" in out
    assert main(["ckpt-plan", "--model", "llama3-70b", "--processes", "12"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlps ckpt-plan: error: llama3-70b with 12 processes") and err.count("\n") == 1


# --- workload YAMLs ------------------------------------------------------------------------------------
def flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("model", CHECKPOINT_MODELS.values(), ids=lambda m: m.name)
def test_checkpointing_yaml_matches_the_table(model):
    size = model.name.split("-", 1)[1]
    config = flatten(yaml.safe_load((CKPT_CONFIG_DIR / "workload" / f"llama3_{size}.yaml").read_text()))
    assert config == {
        "model.name": f"llama3_{size}", "model.type": "transformer", "model.num_layers": model.layers,
        "model.model_datatype": CHECKPOINT_COMMON["model_datatype"],
        "model.optimizer_datatype": CHECKPOINT_COMMON["optimizer_datatype"],
        "model.parallelism.tensor": model.tensor_parallel, "model.parallelism.pipeline": model.pipeline_parallel,
        "model.parallelism.zero_stage": model.zero_stage,
        "model.transformer.vocab_size": model.vocab_size, "model.transformer.hidden_size": model.hidden,
        "model.transformer.ffn_hidden_size": model.ffn, "model.transformer.num_attention_heads": model.heads,
        "model.transformer.num_kv_heads": model.kv_heads,
        "framework": CHECKPOINT_COMMON["framework"],
        "workflow.generate_data": False, "workflow.train": False, "workflow.checkpoint": True,
        "checkpoint.checkpoint_folder": f"checkpoints/{model.name}", "checkpoint.mode": "default",
        "checkpoint.time_between_checkpoints": CHECKPOINT_COMMON["time_between_checkpoints"],
        "checkpoint.num_checkpoints_write": CHECKPOINT_COMMON["num_checkpoints_write"],
        "checkpoint.num_checkpoints_read": CHECKPOINT_COMMON["num_checkpoints_read"],
        "checkpoint.fsync": CHECKPOINT_COMMON["fsync"],
    }


def test_checkpointing_config_dir_holds_exactly_the_four_models():
    on_disk = sorted(p.name for p in (CKPT_CONFIG_DIR / "workload").glob("*.yaml"))
    assert on_disk == sorted(f"llama3_{m.split('-', 1)[1]}.yaml" for m in CHECKPOINT_MODELS)
    primary = yaml.safe_load((CKPT_CONFIG_DIR / "config.yaml").read_text())
    assert {"workload": "???"} in primary["defaults"]
    assert "${workload.model.name}" in primary["hydra"]["run"]["dir"]
