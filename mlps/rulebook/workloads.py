"""The rule-book numbers of every workload, in one place (MLCommons' workload templates, rule book §4.3.3).

Training templates are keyed by (model, accelerator); the DLIO YAMLs under configs/dlio/workload/
must agree with this table (a unit test holds them to it). Checkpointing models carry the numbers of
rule book §4.3.3 (Table 2) and DLIO's base_checkpointing.py. Nothing here computes a plan: see
mlps.plan.datasize.
Long because it is one table per benchmark, kept together so that the numbers have one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from mlps.errors import UserError

# Every benchmark a results tree may hold (its folder name under <system>/); the reader and the rules share it.
BENCHMARKS = ("training", "checkpointing", "kv_cache", "vector_database", "benchfs")

CURRENT_EDITION = "3.0"
CLOSED_OPEN = frozenset({"closed", "open"})
WHATIF = frozenset({"whatif"})

# configs/dlio holds DLIO's primary config.yaml and the workload/ group (see configs/README.md).
DLIO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "dlio"
# configs/checkpointing/workload/llama3_<size>.yaml: the reference checkpointing workloads (rule book §4.3.3).
CHECKPOINT_CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "checkpointing"

# Bytes per element of the parquet dtypes the templates use (numpy item sizes). A shorter reading gives
# every other dtype 4 bytes, but only item sizes reproduce the published dlrm record length (761 B).
PARQUET_DTYPE_BYTES = MappingProxyType({
    "float64": 8, "int64": 8, "uint64": 8,
    "float32": 4, "int32": 4, "uint32": 4,
    "float16": 2, "int16": 2, "uint16": 2,
    "int8": 1, "uint8": 1, "bool": 1,
})


@dataclass(frozen=True)
class ParquetColumn:
    name: str
    dtype: str
    size: int = 1


@dataclass(frozen=True)
class TrainingWorkload:
    """One training template: the values DLIO reads plus the rule-book facts about it."""

    model: str
    accelerator: str
    framework: str
    data_loader: str
    format: str
    num_files_train: int          # template value; a real run always uses the datasize plan's value
    num_samples_per_file: int
    record_length_bytes: float    # mean; resnet50's is fractional (114660.07)
    batch_size: int
    read_threads: int
    epochs: int
    computation_time: float       # seconds of emulated compute per step
    au_min: float                 # DLIO metric.au, a fraction (0.90 = 90 %)
    editions: Mapping[str, frozenset[str]]   # rules edition -> divisions it may be submitted in
    record_length_bytes_stdev: int = 0
    record_length_bytes_resize: int | None = None
    computation_threads: int | None = None
    file_shuffle: str | None = None
    sample_shuffle: str | None = None
    shuffle_size: int | None = None
    checkpoint: bool = False      # workflow.checkpoint in the template
    checkpoint_model_size: int | None = None
    parquet_columns: tuple[ParquetColumn, ...] = ()
    # None when DLIO 2.0.0 (the PyPI release) can run it; otherwise why not.
    dlio_2_0_0_gap: str | None = None

    @property
    def name(self) -> str:
        return f"{self.model}_{self.accelerator}"

    @property
    def config_name(self) -> str:
        """The Hydra choice `workload=<config_name>` for a training run."""
        return self.name

    @property
    def datagen_config_name(self) -> str:
        return f"{self.model}_datagen"

    @property
    def au_min_percentage(self) -> float:
        return round(self.au_min * 100, 6)

    def divisions(self, edition: str = CURRENT_EDITION) -> frozenset[str]:
        return self.editions.get(edition, frozenset())


def _editions(**by_edition: frozenset[str]) -> Mapping[str, frozenset[str]]:
    # keyword names cannot hold dots: e3_0 -> "3.0"
    return MappingProxyType({k[1:].replace("_", "."): v for k, v in by_edition.items()})


_LEGACY = _editions(e1_0=CLOSED_OPEN, e2_0=CLOSED_OPEN, e3_0=WHATIF)   # closed v1.0-v2.0, whatif now
_ED3 = _editions(e3_0=CLOSED_OPEN)
_WHATIF_ONLY = _editions(e3_0=WHATIF)

_UNET3D = dict(
    model="unet3d", framework="pytorch", data_loader="pytorch", format="npz",
    num_samples_per_file=1, record_length_bytes=146_600_628, record_length_bytes_stdev=68_341_808,
    record_length_bytes_resize=2_097_152, batch_size=7, read_threads=4, epochs=5, au_min=0.90,
    file_shuffle="seed", sample_shuffle="seed", checkpoint_model_size=499_153_191,
)
_RESNET50 = dict(
    model="resnet50", framework="tensorflow", data_loader="tensorflow", format="tfrecord",
    num_files_train=1024, num_samples_per_file=1251, record_length_bytes=114_660.07,
    record_length_bytes_resize=150_528, batch_size=400, read_threads=8, computation_threads=8,
    epochs=5, au_min=0.90, editions=_LEGACY,
)
_COSMOFLOW = dict(
    model="cosmoflow", framework="tensorflow", data_loader="tensorflow", format="tfrecord",
    num_files_train=524_288, num_samples_per_file=1, record_length_bytes=2_828_486,
    record_length_bytes_stdev=71_311, batch_size=1, read_threads=4, epochs=5, au_min=0.70,
    file_shuffle="seed", sample_shuffle="seed", shuffle_size=2, editions=_LEGACY,
)
_RETINANET = dict(
    model="retinanet", framework="pytorch", data_loader="pytorch", format="jpeg",
    num_files_train=1_170_301, num_samples_per_file=1, record_length_bytes=322_957, read_threads=8,
    epochs=8, au_min=0.85, file_shuffle="seed", sample_shuffle="seed", editions=_ED3,
)
_PARQUET_GAP = "DLIO 2.0.0 has no parquet format (FormatType lacks it); needs MLCommons' DLIO build"

# flux: per-sample columns of float32 (record length = sum of size x dtype bytes, as mlpstorage computes it).
_FLUX_COLUMNS = (
    ParquetColumn("t5_encodings", "float32", 524_328),
    ParquetColumn("clip_encodings", "float32", 409),
    ParquetColumn("mean", "float32", 8_232),
    ParquetColumn("logvar", "float32", 8_232),
    ParquetColumn("timestamp", "float32", 7),
)


def _dlrm_columns() -> tuple[ParquetColumn, ...]:
    # dlrm_b200 has 200 scalar feature columns; only the dtype mix matters for the record length:
    # 49 float64, 56 float32, 50 float16, 45 int8 -> 392 + 224 + 100 + 45 = 761 bytes.
    mix = [("float64", 49), ("float32", 56), ("float16", 50), ("int8", 45)]
    columns, index = [], 0
    for dtype, count in mix:
        for _ in range(count):
            columns.append(ParquetColumn(f"feature_{index:03d}", dtype))
            index += 1
    return tuple(columns)


TRAINING_WORKLOADS: Mapping[tuple[str, str], TrainingWorkload] = MappingProxyType({
    (w.model, w.accelerator): w for w in (
        TrainingWorkload(accelerator="h100", num_files_train=168, computation_time=0.323, checkpoint=True,
                         editions=_LEGACY, **_UNET3D),
        TrainingWorkload(accelerator="a100", num_files_train=168, computation_time=0.636, checkpoint=True,
                         editions=_LEGACY, **_UNET3D),
        TrainingWorkload(accelerator="b200", num_files_train=7200, computation_time=0.162, checkpoint=False,
                         editions=_ED3, **_UNET3D),
        TrainingWorkload(accelerator="h100", computation_time=0.224, **_RESNET50),
        TrainingWorkload(accelerator="a100", computation_time=0.435, **_RESNET50),
        TrainingWorkload(accelerator="h100", computation_time=0.00350, **_COSMOFLOW),
        TrainingWorkload(accelerator="a100", computation_time=0.00551, **_COSMOFLOW),
        TrainingWorkload(accelerator="b200", batch_size=24, computation_time=0.04755, **_RETINANET),
        TrainingWorkload(accelerator="mi355", batch_size=32, computation_time=0.0634, **_RETINANET),
        TrainingWorkload(model="dlrm", accelerator="b200", framework="pytorch", data_loader="pytorch",
                         format="parquet", num_files_train=1024, num_samples_per_file=4_718_592,
                         record_length_bytes=761, batch_size=16_384, read_threads=4, epochs=1,
                         computation_time=0.000375, au_min=0.70, file_shuffle="seed",
                         editions=_WHATIF_ONLY, parquet_columns=_dlrm_columns(),
                         dlio_2_0_0_gap=_PARQUET_GAP),
        TrainingWorkload(model="flux", accelerator="b200", framework="pytorch", data_loader="pytorch",
                         format="parquet", num_files_train=4296, num_samples_per_file=288,
                         record_length_bytes=2_164_832, batch_size=48, read_threads=8, epochs=1,
                         computation_time=1.35, au_min=0.90, file_shuffle="seed",
                         editions=_WHATIF_ONLY, parquet_columns=_FLUX_COLUMNS,
                         dlio_2_0_0_gap=_PARQUET_GAP),
    )
})

# Names the rule book mentions without numbers we could use: say so instead of "unknown".
_KNOWN_GAPS = MappingProxyType({
    ("unet3d", "mi355"): "unet3d on mi355 is listed as sanctioned for edition 3.0, but no "
                         "unet3d_mi355 template was ever published, so its numbers are unknown",
})


def known_training_names() -> list[str]:
    return sorted(f"{m}/{a}" for m, a in TRAINING_WORKLOADS)


def get_training_workload(model: str, accelerator: str) -> TrainingWorkload:
    """The workload for a model and accelerator; UserError naming the known pairs otherwise."""
    key = (str(model).strip().lower(), str(accelerator).strip().lower())
    if key in TRAINING_WORKLOADS:
        return TRAINING_WORKLOADS[key]
    known = ", ".join(known_training_names())
    if key in _KNOWN_GAPS:
        raise UserError(f"workload {key[0]}/{key[1]}: {_KNOWN_GAPS[key]}; choose one of: {known}")
    models = sorted({m for m, _ in TRAINING_WORKLOADS})
    if key[0] not in models:
        raise UserError(f"unknown model {model!r}: expected one of {', '.join(models)} "
                        f"(known model/accelerator pairs: {known})")
    accels = sorted(a for m, a in TRAINING_WORKLOADS if m == key[0])
    raise UserError(f"unknown accelerator {accelerator!r} for model {key[0]}: expected one of "
                    f"{', '.join(accels)} (known model/accelerator pairs: {known})")


def template(model: str | None, accelerator: str | None) -> TrainingWorkload | None:
    """Lenient lookup for readers of old trees (no error): the workload, or None. Without a known
    accelerator, a model's variant is returned only when all its variants share record length,
    samples per file and batch size (the numbers a verifier needs)."""
    if not model:
        return None
    model = str(model).strip().lower()
    found = TRAINING_WORKLOADS.get((model, str(accelerator or "").strip().lower()))
    if found:
        return found
    variants = [w for (m, _), w in TRAINING_WORKLOADS.items() if m == model]
    shapes = {(w.record_length_bytes, w.num_samples_per_file, w.batch_size) for w in variants}
    return variants[0] if len(shapes) == 1 else None


def parquet_record_length(columns: tuple[ParquetColumn, ...] | list[ParquetColumn]) -> int:
    """Bytes of one parquet record: sum over columns of size x dtype bytes (mlpstorage's datasize tool)."""
    total = 0
    for column in columns:
        if column.dtype not in PARQUET_DTYPE_BYTES:
            raise UserError(f"parquet column {column.name!r}: unknown dtype {column.dtype!r}; expected one "
                            f"of {', '.join(sorted(PARQUET_DTYPE_BYTES))}")
        if column.size < 1:
            raise UserError(f"parquet column {column.name!r}: size must be at least 1, got {column.size}")
        total += column.size * PARQUET_DTYPE_BYTES[column.dtype]
    return total


# ---------------------------------------------------------------------------------------------
# Checkpointing (rule book §4.3.3 Table 2, §4.3.5, §4.6; DLIO's base_checkpointing.py)

LLAMA3_VOCAB_SIZE = 128_256
CHECKPOINT_COMMON = MappingProxyType({
    "model_datatype": "fp16",
    "optimizer_datatype": "fp32",
    "framework": "pytorch",
    "time_between_checkpoints": 5,
    "num_checkpoints_write": 10,
    "num_checkpoints_read": 10,
    "fsync": True,
})

# CKPT-ACCEL-MEM (Table 3): accelerator memory in GB and the divisions each type may be used in.
ACCELERATOR_MEMORY_GB = MappingProxyType({"b200": 180, "mi355": 288, "h100": 80, "a100": 80})
ACCELERATOR_DIVISIONS = MappingProxyType({
    "b200": CLOSED_OPEN, "mi355": CLOSED_OPEN, "h100": WHATIF, "a100": WHATIF,
})


@dataclass(frozen=True)
class CheckpointModel:
    """One llama3 checkpointing model (rule book §4.3.3 Table 2). Sizes in GiB, as DLIO reports them."""

    name: str
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    layers: int
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    closed_processes: int
    zero_stage: int
    table2_size: str                     # label as printed in Table 2 (binary units despite "GB"/"TB")
    formula_size_gib: float              # the DLIO shard formula, summed over the CLOSED ranks
    measured_size_gib: float | None      # checkpoint_size_GB seen in real summaries (none found for 1t)
    # (model bytes, optimizer bytes) written by every rank per checkpoint, when uniform (8b, 70b)
    uniform_rank_bytes: tuple[int, int] | None = None
    vocab_size: int = LLAMA3_VOCAB_SIZE
    notes: tuple[str, ...] = field(default=())

    @property
    def model_parallel(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    @property
    def open_process_multiple(self) -> int:
        """OPEN allows any positive multiple of TP x PP (CKPT-PROCS-OPEN)."""
        return self.model_parallel


CHECKPOINT_MODELS: Mapping[str, CheckpointModel] = MappingProxyType({
    m.name: m for m in (
        CheckpointModel("llama3-8b", 4096, 14_336, 32, 8, 32, 1, 1, 8, 8, 3, "105 GB", 104.7045, 104.70,
                        uniform_rank_bytes=(2_007_565_312, 12_045_637_632),
                        notes=("v3.0 tool table LLM_ALLOWED_VALUES uses 8, not 1, as the OPEN multiple",)),
        CheckpointModel("llama3-70b", 8192, 28_672, 128, 8, 80, 8, 1, 8, 64, 3, "912 GB", 911.2121,
                        911.2121276855469, uniform_rank_bytes=(2_184_120_320, 13_103_482_368)),
        CheckpointModel("llama3-405b", 16_384, 53_248, 128, 8, 126, 8, 32, 2, 512, 1, "5.29 TB", 5292.2487,
                        5292.248718261719),
        CheckpointModel("llama3-1t", 25_872, 98_304, 192, 32, 128, 8, 64, 2, 1024, 1, "18 TB", 15_426.589,
                        None, notes=("Table 2 says 18 TB; the shard formula gives 15 426.6 GiB",)),
    )
})


def get_checkpoint_model(name: str) -> CheckpointModel:
    """Accepts llama3-8b, llama3_8b or 8b (any case)."""
    key = str(name).strip().lower().replace("_", "-")
    if not key.startswith("llama3-"):
        key = f"llama3-{key}"
    if key in CHECKPOINT_MODELS:
        return CHECKPOINT_MODELS[key]
    raise UserError(f"unknown checkpointing model {name!r}: expected one of "
                    f"{', '.join(CHECKPOINT_MODELS)}")


# ---------------------------------------------------------------------------------------------
# KV-cache (rule book §6.3.1.1 Table KVCache-1, §6.3.2.1 locks; kv-cache.py model table)

# Bytes of K and V per token: layers x kv heads x head dim x 2 (K, V) x 2 (fp16).
KV_BYTES_PER_TOKEN = MappingProxyType({
    "tiny-1b": 24_576, "mistral-7b": 131_072, "llama2-7b": 524_288,
    "llama3.1-8b": 131_072, "llama3.1-70b-instruct": 327_680,
})


@dataclass(frozen=True)
class KvOption:
    """One Option of Table KVCache-1: what every client (MPI rank) runs."""

    option: int
    name: str
    model: str
    users: int
    duration: int                 # seconds
    gpu_mem_gb: float
    cpu_mem_gb: float
    max_concurrent_allocs: int
    generation_mode: str
    group_label: str              # the results table's column group


KV_OPTIONS: Mapping[int, KvOption] = MappingProxyType({
    o.option: o for o in (
        KvOption(1, "Max Storage Stress", "llama3.1-8b", 200, 300, 0, 0, 16, "none", "llama3.1-8b Storage Only"),
        KvOption(2, "Storage Throughput", "llama3.1-8b", 100, 300, 0, 4, 16, "none", "llama3.1-8b Storage + Mem"),
        KvOption(3, "Large Model (70B)", "llama3.1-70b-instruct", 70, 300, 0, 0, 4, "none",
                 "llama3.1-70b Storage Only"),
    )
})
# §6.3.2.1: what CLOSED locks (the delay is slept after Options 1 and 2 only).
KV_LOCKS = MappingProxyType({"seed": 42, "trials": 3, "inter_option_delay": 90})
KV_GENERATION_MODES = ("none", "fast", "realistic")
KV_RESULTS_MODEL = "llama3.1-8b"   # the model folder of a kv_cache run in published v3.0 trees


def get_kv_option(option) -> KvOption:
    """Option 1, 2 or 3 (int or text)."""
    try:
        return KV_OPTIONS[int(str(option).strip())]
    except (KeyError, ValueError):
        raise UserError(f"KV-cache option {option!r}: expected one of {', '.join(map(str, KV_OPTIONS))}") from None


# ---------------------------------------------------------------------------------------------
# VectorDB (rule book §5.1, §5.6; vdb_benchmark's shipped configs)

@dataclass(frozen=True)
class VdbScale:
    """A shipped configuration: vectors x dimension (the comparability classes; §5.1.1's table is not
    defined anywhere, so these are the scales a result is compared within)."""

    name: str
    num_vectors: int
    dimension: int
    num_shards: int


VDB_SCALES: Mapping[str, VdbScale] = MappingProxyType({
    s.name: s for s in (VdbScale("1m", 1_000_000, 1536, 1), VdbScale("10m", 10_000_000, 1536, 10))
})
VDB_CLOSED_ENGINES = frozenset({"milvus"})                               # §5.6.2
VDB_OPEN_ENGINES = frozenset({"milvus", "elasticsearch", "pgvector"})
VDB_CLOSED_INDEXES = frozenset({"DISKANN", "HNSW", "AISAQ"})              # §5.6.3
VDB_OPEN_MILVUS_INDEXES = VDB_CLOSED_INDEXES | {"IVF_FLAT", "IVF_SQ8", "FLAT"}
# §5.6.4: what a CLOSED run may set (dotted config keys); OPEN adds these and backend-native keys
VDB_CLOSED_TUNABLES = frozenset({
    "database.database", "index.index_type", "index.metric_type", "index.max_degree", "index.search_list_size",
    "index.M", "index.ef_construction", "index.inline_pq", "search.search_ef", "run.mode",
    "run.num_query_processes", "run.batch_size", "run.report_count", "dataset.collection_name",
    "dataset.num_shards", "dataset.chunk_size", "dataset.batch_size", "dataset.vector_dtype",
    "storage.storage_root", "storage.storage_type",
})
VDB_OPEN_TUNABLES = frozenset({"database.host", "database.port"})
VDB_RUN_MODES = frozenset({"timed", "query_count"})
VDB_OBJECT_BACKENDS = frozenset({"s3", "s3-compatible", "minio", "ceph"})  # §5.5.1, or a name starting "s3-"
VDB_RUNS = 5                               # §5.3.1: run leaves per index; no warm-up
VDB_MIN_RUNTIME_S = 30                     # the run checker's floor for timed mode
VDB_DEFAULTS = MappingProxyType({
    "runtime_s": 60, "num_queries": 1000, "query_seed": 42, "k": 10, "search_ef": 200, "batch_size": 1,
    "num_query_processes": 1, "max_degree": 64, "M": 64, "search_list_size": 200, "ef_construction": 200,
    "inline_pq": 16, "metric_type": "COSINE", "vector_dtype": "FLOAT_VECTOR",
})


def vdb_scale(num_vectors, dimension) -> VdbScale | None:
    """The shipped scale of this many vectors of this dimension, or None."""
    for scale in VDB_SCALES.values():
        if scale.num_vectors == num_vectors and scale.dimension == dimension:
            return scale
    return None
