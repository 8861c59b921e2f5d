"""What the results reader produces: a Tree of Workloads, each a list of Leaves (one invocation each).

A Leaf keeps only the parsed pieces the rules read (summary, per-epoch stats, overrides, the merged
DLIO config, metadata, fs-separation evidence, a KV-cache leaf's per-rank results) plus the names of
the files that were there, so a rule can say exactly which file is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mlps.natural_order import natural_key

TIMESTAMP_RE = re.compile(r"^(\d{8})_(\d{6})$")


def parse_dir_timestamp(name: str) -> datetime | None:
    """`YYYYMMDD_HHMMSS` (local time, as the tools name leaves) -> naive datetime, else None."""
    match = TIMESTAMP_RE.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(name, "%Y%m%d_%H%M%S")
    except ValueError:
        return None


def parse_time(value) -> datetime | None:
    """DLIO's naive ISO strings, metadata ISO strings with `Z` (returned naive UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    utc = text.endswith("Z")
    if utc:
        text = text[:-1]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


@dataclass(slots=True)
class Problem:
    """Something the reader met while reading a file: kind in missing|unparsable|too_large|symlink|
    unreadable|placeholder|limit (a folder past the walk's depth, folder or entry caps)."""
    kind: str
    path: str
    detail: str


@dataclass(slots=True)
class Leaf:
    path: Path
    rel: str                                   # relative to the verified root, posix
    name: str
    benchmark: str | None = None               # training | checkpointing | kv_cache | vector_database
    command: str | None = None                 # run | datagen | datasize | None
    timestamp: datetime | None = None          # from the directory name
    files: frozenset = frozenset()             # names at the leaf root (junk excluded)
    config_dir: str | None = None              # configs/ .hydra/ dlio_config/ (name as found)
    config_files: frozenset = frozenset()
    summary: dict | None = None
    summary_file: str | None = None            # relative to the leaf
    per_epoch: dict | None = None
    per_epoch_files: tuple = ()
    output_files: tuple = ()                   # <rank>_output.json names
    overrides: list | None = None              # raw override lines
    config: dict | None = None                 # the `workload:` section of config.yaml
    metadata: dict | None = None
    metadata_file: str | None = None
    fs_separation: dict | None = None
    shared_fs: dict | list | None = None       # shared_fs.json: the data-dir sentinel probe
    cluster_info: dict | None = None
    cluster_info_file: str | None = None
    host_parts: tuple = ()                     # per-host subfolder names (v1.0 multi-host)
    rules_edition: str | None = None           # from provenance.json, when the tool stamped one
    kv_ranks: object | None = None             # KV-cache run leaf: kv_cache.RankFiles of option_*/trial_*/rank_*
    vdb: object | None = None                  # VectorDB leaf: vector_database.VdbFiles (statistics, verdict, load)
    benchfs: dict | None = None                # BenchFS leaf: {ior: IOR's JSON summary, daemon_files: daemon/ names}
    problems: list = field(default_factory=list)

    # --- identity -------------------------------------------------------------------------
    @property
    def workload_name(self) -> str | None:
        """`unet3d_h100` from the overrides' `workload=` line, if present."""
        for line in self.overrides or ():
            if line.startswith("workload="):
                return line.split("=", 1)[1].strip()
        return None

    @property
    def model(self) -> str | None:
        meta = self.metadata or {}
        if isinstance(meta.get("model"), str):
            return meta["model"]
        cfg_model = (self.config or {}).get("model")
        if isinstance(cfg_model, dict) and isinstance(cfg_model.get("name"), str):
            return cfg_model["name"]
        if isinstance(cfg_model, str):
            return cfg_model
        name = self.workload_name
        return name.split("_", 1)[0] if name else None

    @property
    def accelerator(self) -> str | None:
        meta = self.metadata or {}
        args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
        for value in (args.get("accelerator_type"), meta.get("accelerator")):
            if isinstance(value, str) and value:
                return value
        name = self.workload_name
        if name and "_" in name and self.benchmark in (None, "training"):
            return name.rsplit("_", 1)[1]
        return None

    # --- DLIO summary fields --------------------------------------------------------------
    def _summary_int(self, key: str) -> int | None:
        value = (self.summary or {}).get(key)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def num_accelerators(self) -> int | None:
        value = self._summary_int("num_accelerators")
        if value is None:
            value = (self.metadata or {}).get("num_processes")
        return value if isinstance(value, int) else None

    @property
    def num_hosts(self) -> int | None:
        return self._summary_int("num_hosts")

    @property
    def num_files_train(self) -> int | None:
        value = self._summary_int("num_files_train")
        if value is None:
            value = self.param("dataset.num_files_train")
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def samples_per_file(self) -> int | None:
        value = self._summary_int("num_samples_per_file")
        if value is None:
            value = self.param("dataset.num_samples_per_file")
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def metric(self) -> dict:
        value = (self.summary or {}).get("metric")
        return value if isinstance(value, dict) else {}

    @property
    def start(self) -> datetime | None:
        return parse_time((self.summary or {}).get("start"))

    @property
    def end(self) -> datetime | None:
        return parse_time((self.summary or {}).get("end"))

    @property
    def duration_s(self) -> float | None:
        if self.start and self.end:
            return (self.end - self.start).total_seconds()
        return None

    @property
    def sort_key(self):
        """Chronological order: directory timestamp, else summary start, else the name."""
        when = self.timestamp or self.start
        return (when is None, when or datetime.min, natural_key(self.name))

    # --- parameters -----------------------------------------------------------------------
    def override_params(self) -> dict | None:
        """Dotted workload keys the run overrode -> value text; None when no evidence exists."""
        if self.overrides is not None:
            out = {}
            for line in self.overrides:
                key, value = split_override(line)
                if key is not None:
                    out[key] = value
            return out
        meta_over = (self.metadata or {}).get("override_parameters")
        if isinstance(meta_over, dict):
            return {k.removeprefix("workload."): str(v) for k, v in meta_over.items()}
        return None

    def param(self, dotted: str):
        """Value of a dotted DLIO key from config.yaml, else the metadata's merged parameters,
        else the overrides; None when no source has it."""
        for source in (self.config, _meta_params(self.metadata)):
            value = _dig(source, dotted)
            if value is not None:
                return value
        overrides = self.override_params() or {}
        if dotted in overrides:
            return _scalar(overrides[dotted])
        return None


@dataclass(slots=True)
class Workload:
    path: Path
    rel: str
    benchmark: str
    model: str | None
    accelerator: str | None = None
    division: str | None = None                # closed | open (lower case) or None
    org: str | None = None
    system: str | None = None
    leaves: list = field(default_factory=list)
    report: dict | None = None                 # v1.0 mlperf_storage_report.json
    report_file: str | None = None             # relative to the root
    results_json: dict | None = None           # v3.0 run/results.json (training), results.json (ckpt)
    results_json_file: str | None = None
    problems: list = field(default_factory=list)
    edition: str | None = None                 # rules edition it is verified against
    edition_source: str | None = None          # why: "--edition", "provenance.json", "detected: ..."

    def by_command(self, command: str) -> list:
        """Leaves of one command, oldest first (the reader keeps `leaves` in that order)."""
        return [leaf for leaf in self.leaves if leaf.command == command]

    @property
    def runs(self) -> list:
        return self.by_command("run")


@dataclass(slots=True)
class Tree:
    root: Path
    workloads: list = field(default_factory=list)
    junk: list = field(default_factory=list)          # relative paths of ignored junk files
    skipped: list = field(default_factory=list)       # relative paths of skipped code trees / symlinks
    skipped_leaves: list = field(default_factory=list)  # leaf-like folders inside skipped trees (not judged)
    problems: list = field(default_factory=list)      # Problems not tied to one leaf
    layout: str = "unknown"                           # v1 | v3 | mixed | unknown

    @property
    def leaves(self):
        for workload in self.workloads:
            yield from workload.leaves


# --- helpers --------------------------------------------------------------------------------
def split_override(line: str):
    """`++workload.reader.read_threads=8` -> ("reader.read_threads", "8"); other lines -> (None, None)."""
    text = line.strip()
    for prefix in ("++workload.", "+workload.", "workload."):
        if text.startswith(prefix):
            key, sep, value = text[len(prefix):].partition("=")
            return (key.strip(), value.strip()) if sep else (None, None)
    return None, None


def _meta_params(meta):
    if not isinstance(meta, dict):
        return None
    for key in ("parameters", "combined_params"):
        value = meta.get(key)
        if isinstance(value, dict):
            return value.get("workload", value) if isinstance(value.get("workload"), dict) else value
    return None


def _dig(source, dotted: str):
    node = source
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _scalar(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
