"""The checkpoint shard planner (DLIO's base_checkpointing.py): what every rank writes per checkpoint, in which files.

For a llama3 model, a process count, subset mode and a size scale it gives each rank's model and
optimizer bytes (TP x PP split, ZeRO over DP, exactly DLIO's integer arithmetic), the files each
rank writes (DeepSpeed names), the bytes per checkpoint and per host for a placement, whether the
3x-memory rule asks for a cache drop between the write and read phases, and why the run would be
OPEN or INVALID. Its JSON (`mlps ckpt-plan --json`) is the input of the native engine
(module_utils/mlps_ckpt_native.py). The model numbers live in mlps.rulebook.workloads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from mlps.errors import UserError
from mlps.rulebook.workloads import CHECKPOINT_MODELS, CheckpointModel, get_checkpoint_model
from mlps_module_utils.mlps_mpirun import MpirunError, placement

SCHEMA = "mlps-ckpt-plan/1"
GIB = 2**30
CACHE_MULTIPLE = 3            # CKPT-CACHE-RATIO: a checkpoint per host above 3x its memory needs no drop
MODEL_DTYPE_BYTES = 2         # fp16 weights
OPTIM_DTYPE_BYTES = 4         # fp32 optimizer state
ENGINES = ("dlio", "native")
# Fields a run records (summary.json and metadata) so the verifier can classify it (rule CKPT-ENGINE).
ENGINE_FIELD = "engine"
SCALE_FIELD = "size_scale"


@dataclass(frozen=True)
class ShardFile:
    name: str
    bytes: int


@dataclass(frozen=True)
class RankShard:
    rank: int
    t: int                    # tensor-parallel rank
    p: int                    # pipeline stage
    d: int                    # data-parallel rank
    m: int                    # model-parallel rank (t + T*p)
    model_bytes: int
    optim_bytes: int
    files: tuple[ShardFile, ...]

    @property
    def bytes(self) -> int:
        return self.model_bytes + self.optim_bytes

    def to_dict(self) -> dict:
        return {"rank": self.rank, "t": self.t, "p": self.p, "d": self.d, "m": self.m,
                "model_bytes": self.model_bytes, "optim_bytes": self.optim_bytes, "bytes": self.bytes,
                "files": [{"name": f.name, "bytes": f.bytes} for f in self.files]}


@dataclass
class CheckpointPlan:
    model: CheckpointModel
    processes: int
    subset: bool
    scale: float
    engine: str
    data_parallel: int                        # D used by the formula (N/M, or forced in subset mode)
    ranks: list[RankShard]
    hosts: list[tuple[str, int]] = field(default_factory=list)     # placement: (host, ranks)
    host_memory_bytes: int | None = None
    open_reasons: list[str] = field(default_factory=list)
    invalid_reasons: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Bytes written per checkpoint by all ranks (scaled)."""
        return sum(r.bytes for r in self.ranks)

    @property
    def checkpoint_size_gib(self) -> float:
        """What DLIO reports as checkpoint_size_GB (binary GiB)."""
        return self.total_bytes / GIB

    @property
    def division(self) -> str:
        if self.invalid_reasons:
            return "invalid"
        return "open" if self.open_reasons else "closed"

    def bytes_per_host(self) -> list[tuple[str, int]]:
        """Per checkpoint, in placement order: Open MPI's `--host h:n` with map-by slot gives each host
        a contiguous block of ranks."""
        out, start = [], 0
        for host, count in self.hosts:
            out.append((host, sum(r.bytes for r in self.ranks[start:start + count])))
            start += count
        return out

    def cache_drop_required(self) -> bool | None:
        """True when some host writes no more than 3x its memory per checkpoint: its page cache could
        hold what it reads back, so the cache must be dropped between writes and reads (split form).
        None without the host memory."""
        if not self.host_memory_bytes:
            return None
        return any(b <= CACHE_MULTIPLE * self.host_memory_bytes for _, b in self.bytes_per_host())

    def to_dict(self) -> dict:
        model = self.model
        return {
            "schema": SCHEMA, "model": model.name, "processes": self.processes, "subset": self.subset,
            "mode": "subset" if self.subset else "default", "scale": self.scale, "engine": self.engine,
            "tensor_parallel": model.tensor_parallel, "pipeline_parallel": model.pipeline_parallel,
            "data_parallel": self.data_parallel, "zero_stage": model.zero_stage,
            "total_bytes": self.total_bytes, "checkpoint_size_GB": self.checkpoint_size_gib,
            "files_per_checkpoint": sum(len(r.files) for r in self.ranks),
            "hosts": [{"host": h, "ranks": n, "bytes_per_checkpoint": b}
                      for (h, n), (_, b) in zip(self.hosts, self.bytes_per_host(), strict=True)],
            "host_memory_bytes": self.host_memory_bytes, "cache_drop_required": self.cache_drop_required(),
            "division": self.division, "open_reasons": self.open_reasons, "invalid_reasons": self.invalid_reasons,
            "ranks": [r.to_dict() for r in self.ranks],
        }

    def run_record(self) -> dict:
        """What a checkpointing run's metadata records about its plan (read by rule CKPT-ENGINE)."""
        return {ENGINE_FIELD: self.engine, SCALE_FIELD: self.scale, "checkpoint_mode": self.to_dict()["mode"],
                "checkpoint_plan_bytes": self.total_bytes}


# --- the shard formula (DLIO's base_checkpointing.py) -------------------------------------------
def stage_indices(model: CheckpointModel, p: int) -> list[int]:
    """Layer indices pipeline stage p owns: 0 = embedding, 1..L layers, L+1 = lm_head, L+2 = final norm."""
    layers, stages = model.layers, model.pipeline_parallel
    q, rest = divmod(layers, stages)
    if p < rest:
        first = p * (q + 1) + 1
        last = first + q
    else:
        first = rest * (q + 1) + (p - rest) * q + 1
        last = first + q - 1
    owned = list(range(first, last + 1))
    if p == 0:
        owned.insert(0, 0)
    if p == stages - 1:
        owned += [layers + 1, layers + 2]
    return owned


def index_elements(model: CheckpointModel, index: int, shard: int) -> int:
    """Elements of one owned index on one rank (integer division in DLIO's order)."""
    h, f, t, v = model.hidden, model.ffn, model.tensor_parallel, model.vocab_size
    if index in (0, model.layers + 1):
        return (h * v // t) // shard
    if index == model.layers + 2:
        return h // shard
    dkv = (h // model.heads) * model.kv_heads
    return (h // shard + (h * (h + 2 * dkv) // t) // shard + (h * h // t) // shard + h // shard
            + (2 * h * f // t) // shard + (h * f // t) // shard)


def parameter_count(model: CheckpointModel) -> int:
    h, f, v, layers = model.hidden, model.ffn, model.vocab_size, model.layers
    dkv = (h // model.heads) * model.kv_heads
    return 2 * v * h + layers * (2 * h + h * (h + 2 * dkv) + h * h + 3 * h * f) + h


def optim_bytes(model: CheckpointModel, data_parallel: int) -> int:
    """Every rank: fp32 groups [n, 5h, n, 5h, n, 5h] with n = N_params // (D*M)."""
    n = parameter_count(model) // (data_parallel * model.model_parallel)
    return OPTIM_DTYPE_BYTES * (3 * n + 15 * model.hidden)


def _rank_shard(model: CheckpointModel, rank: int, data_parallel: int, scale: Fraction) -> RankShard:
    tp, pp = model.tensor_parallel, model.pipeline_parallel
    t, p, d, m = rank % tp, (rank // tp) % pp, rank // (tp * pp), rank % (tp * pp)
    shard = data_parallel if model.zero_stage >= 3 else 1
    owned = stage_indices(model, p)
    per_index = {i: MODEL_DTYPE_BYTES * index_elements(model, i, shard) for i in owned}
    if model.zero_stage == 1 and d != 0:
        per_index = {}                                   # ZeRO-1: only d=0 holds the weights
    optim = optim_bytes(model, data_parallel)
    prefix = f"zero_pp_rank_{d}_mp_rank_{m}"
    if model.zero_stage >= 3:
        model_files = [(f"{prefix}_model_states.pt", sum(per_index.values()))]
    elif not per_index:
        model_files = []
    elif pp > 1:
        model_files = [(f"layer_{i}-model_{m}_model_states.pt", b) for i, b in per_index.items()]
    else:
        model_files = [(f"model_{m}_model_states.pt", sum(per_index.values()))]
    files = [ShardFile(name, _scaled(size, scale)) for name, size in model_files]
    files.append(ShardFile(f"{prefix}_optim_states.pt", _scaled(optim, scale)))
    return RankShard(rank, t, p, d, m, sum(f.bytes for f in files[:-1]), files[-1].bytes, tuple(files))


def _scaled(size: int, scale: Fraction) -> int:
    return int(size * scale)                             # floor: never more than the scaled size


# --- the plan ------------------------------------------------------------------------------------
def plan_checkpoint(model: str | CheckpointModel, processes: int, *, subset: bool = False, scale: float = 1.0,
                    engine: str = "dlio", hosts: list[str] | None = None,
                    host_memory_bytes: int | None = None) -> CheckpointPlan:
    """The plan, or UserError naming the input when the model's parallelism cannot use it."""
    ckpt = model if isinstance(model, CheckpointModel) else get_checkpoint_model(model)
    scale_fraction = _check_scale(scale)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise UserError(f"processes={processes!r}: expected a positive whole number of ranks")
    if engine not in ENGINES:
        raise UserError(f"engine={engine!r}: expected one of {', '.join(ENGINES)}")
    mp = ckpt.model_parallel
    if subset:
        # The tool forces DP = CLOSED count / (TP*PP); the ranks write the first ones of that layout.
        data_parallel = ckpt.closed_processes // mp
        if processes > data_parallel * mp:
            raise UserError(f"{ckpt.name} subset mode with {processes} processes: at most DP x TP x PP = "
                            f"{data_parallel} x {mp} = {data_parallel * mp} ranks; use fewer processes")
    else:
        if processes % mp:
            near = sorted({mp * max(1, processes // mp), mp * (processes // mp + 1)})
            raise UserError(f"{ckpt.name} with {processes} processes: the count must be a multiple of TP x PP = "
                            f"{ckpt.tensor_parallel} x {ckpt.pipeline_parallel} = {mp} (e.g. "
                            f"{' or '.join(map(str, near))}); or use subset mode")
        if ckpt.zero_stage >= 3 and ckpt.pipeline_parallel > 1:
            raise UserError(f"{ckpt.name}: ZeRO-3 with pipeline parallelism is rejected by DLIO")
        data_parallel = processes // mp
    ranks = [_rank_shard(ckpt, r, data_parallel, scale_fraction) for r in range(processes)]
    plan = CheckpointPlan(ckpt, processes, subset, float(scale), engine, data_parallel, ranks,
                          host_memory_bytes=host_memory_bytes)
    if hosts:
        try:
            plan.hosts = placement(processes, list(hosts))
        except MpirunError as exc:
            raise UserError(f"hosts={hosts!r}: {exc}") from exc
    _classify(plan)
    return plan


def _check_scale(scale) -> Fraction:
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= 1:
        raise UserError(f"scale={scale!r}: expected a number in (0, 1] that multiplies every shard "
                        f"(e.g. 0.001 for a small machine; 1 for a CLOSED run)")
    return Fraction(repr(value))                         # the decimal the user typed, exactly


def _classify(plan: CheckpointPlan) -> None:
    """The rules a plan can be checked against before any I/O (CKPT-PROCS, CKPT-SUBSET, CKPT-ENGINE)."""
    model = plan.model
    if plan.scale != 1:
        plan.open_reasons.append(f"size scale {plan.scale:g} (not 1): the shards are not the model's")
    if plan.engine == "native":
        plan.open_reasons.append("native engine (not DLIO): results are OPEN only")
    if plan.subset:
        small = CHECKPOINT_MODELS["llama3-8b"]
        if not (model is small and plan.processes == small.closed_processes):
            plan.invalid_reasons.append(f"subset mode is allowed only for llama3-8b at {small.closed_processes} "
                                        f"processes (CKPT-SUBSET), not {model.name} at {plan.processes}")
    elif plan.processes != model.closed_processes:
        plan.open_reasons.append(f"{plan.processes} processes (CLOSED needs exactly {model.closed_processes})")


def closed_plans() -> list[CheckpointPlan]:
    """The CLOSED layout of every model (what the rule book's checkpoint sizes describe)."""
    return [plan_checkpoint(m, m.closed_processes) for m in CHECKPOINT_MODELS.values()]
