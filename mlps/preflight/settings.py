"""The preflight's view of the inventory values, and the problems it finds in them before anything runs."""

from __future__ import annotations

from dataclasses import dataclass

from mlps import inputs
from mlps.campaign import checkpointing, kv_cache, phase, vector_database
from mlps.errors import UserError
from mlps.preflight.checks import BENCHMARKS, CLOCK_WARN_SECONDS, DIVISIONS, GIB
from mlps.rulebook.workloads import (
    ACCELERATOR_MEMORY_GB,
    get_checkpoint_model,
    get_training_workload,
)
from mlps_module_utils.mlps_mpirun import LAUNCHERS, placement


def _whole(value, name: str, minimum: int) -> tuple[int | None, str | None]:
    """A whole number >= minimum from an int or a digit string; (None, problem) otherwise."""
    return inputs.whole_number(name, value, minimum)


@dataclass(frozen=True)
class Settings:
    """One host's view of the campaign settings (inventory and -e values, already templated)."""

    benchmark: str = "training"
    model: str = "unet3d"
    accelerator: str = "h100"
    accelerators_per_host: object = 1
    division: str = "closed"
    num_files_train: object = 0
    checkpoint_processes: object = 0
    checkpoint_writes: object = 10
    checkpoint_scale: object = 1.0
    checkpoint_subset: object = False
    checkpoint_engine: str = "auto"
    checkpoint_folder: str = ""
    kv_options: object = "1,2,3"
    kv_num_processes: object = 0
    kv_npernode: object = 0
    vdb_engine: str = "milvus"
    vdb_index: str = "HNSW"
    vdb_uri: str = ""
    vdb_num_vectors: object = 1
    vdb_dimension: object = 1
    vdb_index_params: object = None
    vdb_num_processes: object = 0
    vdb_npernode: object = 0
    vdb_server_host: str = ""
    data_bytes: object = 0
    results_bytes: object = GIB
    mpi: str = "openmpi"
    mpirun: str = ""
    launch_with: str = "mpirun"
    slurm_job: str = ""
    venv: str = ""
    data_dir: str = ""
    results_dir: str = ""
    clock_warn_seconds: float = CLOCK_WARN_SECONDS

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def input_problems(values_by_host: dict) -> list[str]:
    """Hostile names, paths and DLIO values of every host (mlps.inputs), one line each. The role
    checks these first and stops before writing anything: such a value is unsafe to probe with."""
    return inputs.inventory_problems(values_by_host)


def value_problems(s: Settings) -> list[str]:
    """Every inventory value the rules cannot run with, one line each (empty when all are fine)."""
    problems = [p for p in (
        *(inputs.check_path(name, value) for name, value in (("mlps_data_dir", s.data_dir),
                                                             ("mlps_results_dir", s.results_dir),
                                                             ("mlps_venv", s.venv),
                                                             ("mlps_checkpointing_folder", s.checkpoint_folder))
          if value),
        *(inputs.check_plain_name(name, str(value)) for name, value in (("model", s.model),
                                                                        ("accelerator", s.accelerator)) if value),
    ) if p]
    if problems:  # unsafe values: the rules below would only repeat them
        return problems
    problems += [said for bad, said in (
        (s.benchmark not in BENCHMARKS,
         f"mlps_preflight_benchmark={s.benchmark!r}: expected one of {', '.join(BENCHMARKS)}"),
        (str(s.division) not in DIVISIONS, f"division={s.division!r}: expected closed or open"),
        (s.launch_with not in LAUNCHERS, f"mlps_launch_with={s.launch_with!r}: expected one of {', '.join(LAUNCHERS)}"),
    ) if bad]
    if s.benchmark == "checkpointing":
        try:
            get_checkpoint_model(s.model)
        except UserError as exc:
            problems.append(str(exc))
        if str(s.accelerator).lower() not in ACCELERATOR_MEMORY_GB:
            problems.append(f"accelerator {s.accelerator!r}: expected one of {', '.join(ACCELERATOR_MEMORY_GB)}")
        problems += [p for p in (_whole(s.checkpoint_processes, "checkpoint processes", 0)[1],
                                 _whole(s.checkpoint_writes, "checkpoint writes", 0)[1]) if p]
        problems += _checkpoint_problems(s) if not problems else []
    elif s.benchmark == "kv_cache":
        problems += _kv_problems(s)
    elif s.benchmark == "vector_database":
        problems += _vdb_problems(s)
    else:
        try:
            get_training_workload(s.model, s.accelerator)
        except UserError as exc:
            problems.append(str(exc))
        problem = _whole(s.accelerators_per_host, "accelerators per host", 1)[1]
        if problem:
            problems.append(problem)
        problem = _whole(s.num_files_train, "num_files_train", 0)[1]
        if problem:
            problems.append(problem)
    return problems


def _kv_problems(s: Settings) -> list[str]:
    """The Options and the client layout (the campaign's plan checks memory and folders itself)."""
    try:
        kv_cache.parse_options(s.kv_options)
        kv_cache.client_layout(["host"], s.kv_num_processes, s.kv_npernode)
    except UserError as exc:
        return [str(exc)]
    return []


def _vdb_problems(s: Settings) -> list[str]:
    """Engine and index, the URI's form, the scale and index parameters, the query ranks' layout (the
    campaign's own check then asks the server whether it builds the index)."""
    try:
        engine, _index = vector_database.check_engine_index(s.vdb_engine, s.vdb_index)
        if s.vdb_uri:
            vector_database.check_uri(engine, str(s.vdb_uri))
        vdb_footprint(s)
        phase.client_layout(["host"], s.vdb_num_processes, s.vdb_npernode, prefix="mlps_vectordb")
    except UserError as exc:
        return [str(exc)]
    return []


def vdb_footprint(s: Settings) -> dict:
    """The embedded server's bytes on its data folder and in its memory (mlps.campaign.vector_database)."""
    params = s.vdb_index_params if isinstance(s.vdb_index_params, dict) else {}
    return vector_database.footprint(s.vdb_engine, s.vdb_index, s.vdb_num_vectors, s.vdb_dimension, params)


def _flag(value) -> bool | None:
    """A yes/no inventory value (bool, or its text as -e gives it); None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "yes", "1", "on") else False if text in ("false", "no", "0", "off", "") else None


def _checkpoint_problems(s: Settings) -> list[str]:
    """Engine, scale and subset settings, and a shard plan that cannot be made (the numbers say why)."""
    problems = []
    if s.checkpoint_engine not in checkpointing.ENGINE_CHOICES:
        problems.append(f"mlps_checkpointing_engine={s.checkpoint_engine!r}: expected one of "
                        f"{', '.join(checkpointing.ENGINE_CHOICES)}")
    if _flag(s.checkpoint_subset) is None:
        problems.append(f"mlps_checkpointing_subset={s.checkpoint_subset!r}: expected true or false")
    try:
        scale = float(s.checkpoint_scale)
    except (TypeError, ValueError):
        scale = None
    if s.checkpoint_engine == "dlio" and scale is not None and scale != 1:
        problems.append(f"mlps_checkpointing_scale={s.checkpoint_scale}: DLIO has no size scale; set "
                        "mlps_checkpointing_engine=native (or auto), or scale 1")
    if problems:
        return problems
    try:
        _checkpoint_bytes(s)
    except UserError as exc:
        problems.append(str(exc))
    return problems


def _checkpoint_bytes(s: Settings) -> int:
    """What the campaign writes to the checkpoint folder: the shard plan's bytes x writes."""
    return checkpointing.preflight_bytes(s.model, s.checkpoint_processes, scale=s.checkpoint_scale,
                                         subset=bool(_flag(s.checkpoint_subset)), writes=s.checkpoint_writes)


def _checkpoint_ranks(s: Settings, hosts: list[str]) -> dict[str, int] | None:
    try:
        model = get_checkpoint_model(s.model)
    except UserError:
        return None
    processes = _whole(s.checkpoint_processes, "", 0)[0]
    if processes is None:
        return None
    counts = dict(placement(processes or model.closed_processes, hosts)) if hosts else {}
    return {host: counts.get(host, 0) for host in hosts}


def ranks_per_host(s: Settings, hosts: list[str]) -> dict[str, int] | None:
    """Simulated accelerators (ranks) on each host; None when the settings cannot say."""
    if s.benchmark == "checkpointing":
        return _checkpoint_ranks(s, hosts)
    if s.benchmark == "vector_database":
        return dict.fromkeys(hosts, 0)          # no simulated accelerators: the server's memory is its own row
    if s.benchmark == "kv_cache":
        try:
            _ranks, per_node = kv_cache.client_layout(hosts or ["host"], s.kv_num_processes, s.kv_npernode)
        except UserError:
            return None
        return dict.fromkeys(hosts, per_node)
    per_host = _whole(s.accelerators_per_host, "", 1)[0]
    return None if per_host is None else dict.fromkeys(hosts, per_host)
