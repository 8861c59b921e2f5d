"""KV-cache run leaves: reading the per-rank results and the run summary they aggregate to (rule book §6.3.4).

A run leaf holds `option_<O>/trial_<T>/rank_<N>/kvcache_results_<ts>.json`, one per client (MPI rank)
and trial, and `summary.json`, the aggregation of those files:

- within a trial the ranks' figures are summed (bandwidth, tokens/s); the Option's figure is the
  mean (statistics.fmean) over its trials, a trial whose ranks are all missing counting as 0;
- a P95 is never pooled: the Option's P95 is the largest per-rank P95 over ranks and trials.
  Three are in circulation, all computed and labelled: `aggregated_p95_latency_ms` (per-request
  storage time, what the v3.0 tool and table use), `aggregated_device_read_p95_ms` and
  `aggregated_device_write_p95_ms` (the rule book's §6.3.4.3 device spans) and
  `aggregated_storage_read_p95_ms` (per-I/O total read time, what newer report generators prefer);
- a rank file that is absent or unreadable is listed in `missing_files` and sets `partial_failure`;
  a rank that kept nothing on the storage tier (`storage_entries` 0) is listed in `cpu_tier_ranks`.

`aggregate()` is a pure function of the rank documents and the run's layout: the campaign writes
summary.json with it, and the verifier recomputes a leaf's summary with it (`recompute`,
`summary_differences`). The rank files of a tree someone else wrote are read below the verified
root only (mlps.safe_path: no symlink followed out at any depth), size- and count-bounded.
One file: the aggregation our campaign writes and the one the verifier recomputes must stay one code.
"""

from __future__ import annotations

import errno
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from mlps import tree_walk
from mlps.errors import UserError
from mlps.jsonio import MAX_BYTES, ReadError, parse_json, read_bytes, write_json_atomic
from mlps.results.models import Problem
from mlps.safe_path import OutsideRoot, open_under

SCHEMA_VERSION = "1.0"
SUMMARY_NAME = "summary.json"
METADATA_SCHEMA = "mlps-kv_cache-metadata/1"
NATIVE_ENGINE = "mlps-native-kvcache"          # the `engine` our native rank engine writes in its results

OPTION_RE = re.compile(r"^option_(\d{1,3})$")
TRIAL_RE = re.compile(r"^trial_(\d{1,4})$")
RANK_RE = re.compile(r"^rank_(\d{1,6})$")
RANK_FILE_RE = re.compile(r"^kvcache_results_\d{8}_\d{6}\.json$")
# the option/trial/rank of a path in missing_files or cpu_tier_ranks (tools write absolute paths)
LOCATION_RE = re.compile(r"option_(\d+)/trial_(\d+)/rank_(\d+)(?:/|$)")

# Reading bounds: a leaf of 3 Options x 3 trials x a few thousand ranks is far below them.
MAX_RANK_FILES = 65_536
RANK_FILE_MAX_BYTES = MAX_BYTES
LIST_KEEP = 32                  # lists longer than this (raw latency samples) are not kept in memory

REL_TOL = 1e-9

# (summary key, place in a rank document) for the figures summed within a trial
SUMMED = (
    ("aggregated_read_bandwidth_gbps", ("cache_stats", "tier_storage_read_bandwidth_gbps")),
    ("aggregated_write_bandwidth_gbps", ("cache_stats", "tier_storage_write_bandwidth_gbps")),
    ("aggregated_avg_throughput_tokens_per_sec", ("summary", "avg_throughput_tokens_per_sec")),
    ("aggregated_storage_throughput_tokens_per_sec", ("summary", "storage_throughput_tokens_per_sec")),
)
# (summary key, place in a rank document) for the labelled P95s (largest per-rank value)
EXTRA_P95 = (
    ("aggregated_device_read_p95_ms", ("cache_stats", "storage_read_device_p95_ms")),
    ("aggregated_device_write_p95_ms", ("cache_stats", "storage_write_device_p95_ms")),
    ("aggregated_storage_read_p95_ms", ("cache_stats", "storage_read_p95_ms")),
)
TIERS = ("gpu", "cpu", "storage")


@dataclass(slots=True)
class RankResult:
    """One rank's results file of one trial. `doc` is None when the file could not be used."""
    option: int
    trial: int
    rank: int
    file: str                                      # relative to the leaf, posix
    doc: dict | None
    extra_files: tuple = ()                        # further results files in the same rank folder

    @property
    def location(self) -> tuple[int, int, int]:
        return (self.option, self.trial, self.rank)


@dataclass(slots=True)
class RankFiles:
    """What a leaf's option_*/trial_*/rank_* folders hold."""
    results: list = field(default_factory=list)    # RankResult, sorted by (option, trial, rank)
    trials: dict = field(default_factory=dict)     # option -> sorted trial numbers with a folder
    problems: list = field(default_factory=list)   # Problem


# --- reading ---------------------------------------------------------------------------------------
def has_rank_folders(dir_names: Iterable[str]) -> bool:
    return any(OPTION_RE.match(name) for name in dir_names)


def read_rank_files(leaf_path: Path, root: Path, leaf_rel: str) -> RankFiles:
    """The rank results below a run leaf; every folder and file is opened below `root` without
    following a symlink, and what cannot be used is a Problem (its path relative to `root`)."""
    found = RankFiles()
    budget = [MAX_RANK_FILES]
    for option, option_name in _numbered(leaf_path, root, leaf_rel, "", OPTION_RE, found.problems):
        trials = found.trials.setdefault(option, [])
        for trial, trial_name in _numbered(leaf_path, root, leaf_rel, option_name, TRIAL_RE, found.problems):
            trials.append(trial)
            trial_rel = f"{option_name}/{trial_name}"
            for rank, rank_name in _numbered(leaf_path, root, leaf_rel, trial_rel, RANK_RE, found.problems):
                result = _read_rank(leaf_path, root, leaf_rel, f"{trial_rel}/{rank_name}", (option, trial, rank),
                                    found.problems, budget)
                if result is not None:
                    found.results.append(result)
        trials.sort()
    found.results.sort(key=lambda r: r.location)
    return found


def _list(leaf_path: Path, root: Path, leaf_rel: str, sub: str, problems: list) -> list[tuple[str, str]]:
    """(name, kind) of a folder's entries, kind dir|file; a symlink is a Problem and left out."""
    where = f"{leaf_rel}/{sub}" if sub else leaf_rel
    try:
        fd = open_under(root, leaf_path / sub if sub else leaf_path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        kind = "symlink" if isinstance(exc, OutsideRoot) or exc.errno == errno.ELOOP else "unreadable"
        problems.append(Problem(kind, where, f"cannot open the folder: {exc.strerror or exc}"))
        return []
    out = []
    try:
        with os.scandir(fd) as entries:
            for count, entry in enumerate(entries):
                if count >= tree_walk.MAX_ENTRIES:
                    problems.append(Problem("limit", where, f"more than {tree_walk.MAX_ENTRIES} entries; "
                                                            "only the first ones read"))
                    break
                if entry.is_symlink():
                    problems.append(Problem("symlink", f"{where}/{entry.name}", "a symlink inside a KV-cache "
                                                                               "results folder; not followed"))
                elif entry.is_dir(follow_symlinks=False):
                    out.append((entry.name, "dir"))
                elif entry.is_file(follow_symlinks=False):
                    out.append((entry.name, "file"))
    except OSError as exc:
        problems.append(Problem("unreadable", where, f"cannot list the folder: {exc.strerror or exc}"))
    finally:
        os.close(fd)
    return out


def _numbered(leaf_path, root, leaf_rel, sub, pattern, problems) -> list[tuple[int, str]]:
    """(number, folder name) of the sub-folders named like `pattern`, in numeric order."""
    out = []
    for name, kind in _list(leaf_path, root, leaf_rel, sub, problems):
        match = pattern.match(name)
        if match and kind == "dir":
            out.append((int(match.group(1)), name))
    return sorted(out)


def _read_rank(leaf_path, root, leaf_rel, rank_rel, location, problems, budget) -> RankResult | None:
    names = sorted(name for name, kind in _list(leaf_path, root, leaf_rel, rank_rel, problems)
                   if kind == "file" and RANK_FILE_RE.match(name))
    if not names:
        return None                                 # counted as missing by aggregate()
    if budget[0] <= 0:
        problems.append(Problem("limit", f"{leaf_rel}/{rank_rel}", f"more than {MAX_RANK_FILES} rank files in "
                                                                   "the leaf; the rest not read"))
        return None
    budget[0] -= 1
    file_rel = f"{rank_rel}/{names[0]}"
    where = f"{leaf_rel}/{file_rel}"
    doc = None
    try:
        data = parse_json(read_bytes(leaf_path / file_rel, max_bytes=RANK_FILE_MAX_BYTES, root=root), where)
        if isinstance(data, dict):
            doc = compact(data)
        else:
            problems.append(Problem("unparsable", where, "expected a JSON object"))
    except ReadError as exc:
        problems.append(Problem(exc.kind, where, exc.detail))
    extra = tuple(f"{rank_rel}/{name}" for name in names[1:])
    return RankResult(*location, file=file_rel, doc=doc, extra_files=extra)


def compact(doc: dict) -> dict:
    """A rank document without its raw sample arrays (thousands of latencies per rank)."""
    def keep(value):
        if isinstance(value, dict):
            return {k: keep(v) for k, v in value.items() if not (isinstance(v, list) and len(v) > LIST_KEEP)}
        return value
    return {k: keep(v) for k, v in doc.items() if not (isinstance(v, list) and len(v) > LIST_KEEP)}


# --- one rank's figures ------------------------------------------------------------------------------
def cache_stats(doc: dict | None) -> dict:
    """`summary.cache_stats` (where kv-cache.py writes it), else a top-level `cache_stats`."""
    if not isinstance(doc, dict):
        return {}
    summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
    for stats in (summary.get("cache_stats"), doc.get("cache_stats")):
        if isinstance(stats, dict):
            return stats
    return {}


def _summary(doc: dict | None) -> dict:
    value = doc.get("summary") if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else {}


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def figure(doc: dict | None, place: tuple[str, str]) -> float | None:
    section, key = place
    source = cache_stats(doc) if section == "cache_stats" else _summary(doc)
    return _num(source.get(key))


def storage_io_p95(doc: dict | None) -> float | None:
    latency = _summary(doc).get("storage_io_latency_ms")
    return _num(latency.get("p95")) if isinstance(latency, dict) else None


def is_cpu_tier(doc: dict | None) -> bool:
    value = cache_stats(doc).get("storage_entries")
    return value == 0 and not isinstance(value, bool)


# --- aggregation ------------------------------------------------------------------------------------
def aggregate(ranks: Iterable[RankResult], *, npernode: int, host_count: int, total_ranks: int,
              trials_per_option: int, run_datetime: str, expected_ranks: int | None = None,
              options: Iterable[int] = (1, 2, 3), trials: Mapping[int, Iterable[int]] | None = None,
              trial_failures: Mapping | None = None) -> dict:
    """The run summary (summary.json, schema_version 1.0) of a KV-cache run leaf.

    `ranks`: the rank results (RankResult; `doc` None for a file that could not be read).
    `expected_ranks`: ranks each trial should have (default `total_ranks`); `trials`: option ->
    trial numbers (default 1..trials_per_option); `trial_failures`: label -> failure record of the
    trials that did not complete. Option keys are strings, as the JSON the tools write has them.
    """
    expected = total_ranks if expected_ranks is None else expected_ranks
    by_location = {r.location: r for r in ranks}
    out_options = {}
    for option in options:
        option_trials = list(trials.get(option, ()) if trials is not None else range(1, trials_per_option + 1))
        out_options[str(option)] = _option(option, option_trials, expected, by_location)
    failures = dict(trial_failures or {})
    return {
        "schema_version": SCHEMA_VERSION,
        "run_datetime": run_datetime,
        "npernode": npernode,
        "host_count": host_count,
        "total_ranks": total_ranks,
        "trials_per_option": trials_per_option,
        "options": out_options,
        "partial_failure": any(o["partial_failure"] for o in out_options.values()) or bool(failures),
        "trial_failures": failures,
    }


def _option(option: int, trial_numbers: list, expected: int, by_location: dict) -> dict:
    sums = {key: [] for key, _ in SUMMED}
    p95_per_trial: list[float] = []
    extra = {key: [] for key, _ in EXTRA_P95}
    missing, cpu_tier, per_trial, per_rank = [], [], [], []
    tier_bytes = dict.fromkeys(TIERS, 0.0)
    hit_rates = []
    for trial in trial_numbers:
        trial_sums = {key: 0.0 for key, _ in SUMMED}
        trial_p95 = []
        present = 0
        for rank in range(expected):
            result = by_location.get((option, trial, rank))
            if result is None:
                missing.append(f"option_{option}/trial_{trial}/rank_{rank}")
                continue
            if result.doc is None:
                missing.append(result.file)
                continue
            doc = result.doc
            present += 1
            if is_cpu_tier(doc):
                cpu_tier.append(result.file)
            for key, place in SUMMED:
                trial_sums[key] += figure(doc, place) or 0.0
            p95 = storage_io_p95(doc)
            trial_p95.append(p95 or 0.0)
            for key, place in EXTRA_P95:
                value = figure(doc, place)
                if value is not None:
                    extra[key].append(value)
            per_rank.append({"trial": trial, "rank": rank, "storage_io_p95_ms": p95,
                             "device_read_p95_ms": figure(doc, EXTRA_P95[0][1]),
                             "device_write_p95_ms": figure(doc, EXTRA_P95[1][1]),
                             "storage_read_p95_ms": figure(doc, EXTRA_P95[2][1])})
            stats = cache_stats(doc)
            for tier in TIERS:
                tier_bytes[tier] += _num(stats.get(f"tier_{tier}_kv_bytes_read_gb")) or 0.0
            rate = _num(stats.get("cache_hit_rate"))
            if rate is not None:
                hit_rates.append(rate)
        for key, values in sums.items():
            values.append(trial_sums[key])
        p95_per_trial.append(max(trial_p95) if trial_p95 else 0.0)
        per_trial.append({"trial": trial, "ranks_present": present,
                          "read_bandwidth_gbps": trial_sums["aggregated_read_bandwidth_gbps"],
                          "write_bandwidth_gbps": trial_sums["aggregated_write_bandwidth_gbps"],
                          "avg_throughput_tokens_per_sec": trial_sums["aggregated_avg_throughput_tokens_per_sec"],
                          "storage_throughput_tokens_per_sec":
                              trial_sums["aggregated_storage_throughput_tokens_per_sec"]})
    read_total = math.fsum(tier_bytes.values())
    out = {"option": option}
    out.update({key: fmean(values) if values else 0.0 for key, values in sums.items()})
    out["aggregated_p95_latency_ms"] = max(p95_per_trial) if p95_per_trial else None
    out.update({"rank_count": expected, "trial_count": len(trial_numbers), "partial_failure": bool(missing),
                "missing_files": missing, "cpu_tier_ranks": cpu_tier})
    out.update({key: max(values) if values else None for key, values in extra.items()})
    out["per_trial"] = per_trial
    out["per_rank_p95"] = per_rank
    out["cache_hit_rate_mean"] = fmean(hit_rates) if hit_rates else None
    # share of the KV bytes read that each tier served (the "tier hit rates" of the report)
    out["tier_read_share"] = {tier: (tier_bytes[tier] / read_total if read_total else None) for tier in TIERS}
    return out


# --- writing a leaf's summary (the campaign) ------------------------------------------------------------
def write_summary(leaf_dir, metadata: dict) -> dict:
    """Aggregate the rank files below our run leaf `leaf_dir` as its `metadata` (schema
    mlps-kv_cache-metadata/1) describes the run, write `summary.json` atomically and return it."""
    leaf_dir = Path(leaf_dir)
    layout = {}
    for key in ("npernode", "host_count", "num_processes", "trials_per_option"):
        value = metadata.get(key) if isinstance(metadata, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(f"{leaf_dir}: KV-cache metadata field {key}={value!r}: expected a whole number >= 1; "
                            "record the run's layout in the metadata before writing its summary")
        layout[key] = value
    options = metadata.get("options")
    if not (isinstance(options, list) and options and all(o in (1, 2, 3) and not isinstance(o, bool) for o in options)):
        raise UserError(f"{leaf_dir}: KV-cache metadata field options={options!r}: expected a list of Options "
                        "1, 2, 3 in the order run")
    files = read_rank_files(leaf_dir, leaf_dir, leaf_dir.name)
    summary = aggregate(files.results, npernode=layout["npernode"], host_count=layout["host_count"],
                        total_ranks=layout["num_processes"], trials_per_option=layout["trials_per_option"],
                        run_datetime=str(metadata.get("run_datetime") or leaf_dir.name), options=options,
                        trial_failures=trial_failures_from_metadata(metadata))
    write_json_atomic(leaf_dir / SUMMARY_NAME, summary, indent=2)
    return summary


# --- recomputing a leaf's summary ----------------------------------------------------------------------
def trial_failures_from_metadata(metadata: dict | None) -> dict:
    """label -> failure record of the trials our campaign recorded as not completed."""
    trials = metadata.get("trials") if isinstance(metadata, dict) else None
    if not isinstance(trials, dict):
        return {}
    out = {}
    for label, record in sorted(trials.items()):
        if isinstance(record, dict) and record.get("status") not in (None, "completed"):
            out[str(label)] = {k: record[k] for k in ("status", "failure", "missing_hosts") if k in record}
    return out


def layout_of(leaf) -> dict | None:
    """The aggregate() arguments a leaf records: our metadata first, else its stored summary
    (a published leaf has no metadata). None when neither gives them."""
    meta = leaf.metadata if isinstance(leaf.metadata, dict) else {}
    stored = leaf.summary if isinstance(leaf.summary, dict) else {}
    ours = meta.get("schema") == METADATA_SCHEMA

    def pick(meta_key, summary_key):
        value = meta.get(meta_key) if ours else None
        return value if isinstance(value, int) and not isinstance(value, bool) else stored.get(summary_key)

    layout = {"npernode": pick("npernode", "npernode"), "host_count": pick("host_count", "host_count"),
              "total_ranks": pick("num_processes", "total_ranks"),
              "trials_per_option": pick("trials_per_option", "trials_per_option"),
              "run_datetime": (meta.get("run_datetime") if ours else None) or stored.get("run_datetime") or leaf.name}
    if any(not isinstance(layout[k], int) or isinstance(layout[k], bool) or layout[k] < 0
           for k in ("npernode", "host_count", "total_ranks", "trials_per_option")):
        return None
    options = meta.get("options") if ours else None
    if not (isinstance(options, list) and all(isinstance(o, int) and not isinstance(o, bool) for o in options)):
        stored_options = stored.get("options") if isinstance(stored.get("options"), dict) else {}
        options = sorted(int(k) for k in stored_options if str(k).isdigit()) or [1, 2, 3]
    layout["options"] = options
    if ours:
        layout["trial_failures"] = trial_failures_from_metadata(meta)
    else:
        stored_failures = stored.get("trial_failures")
        layout["trial_failures"] = dict(stored_failures) if isinstance(stored_failures, dict) else {}
    layout["trials"] = _trial_numbers(leaf, layout, ours)
    return layout


def _trial_numbers(leaf, layout: dict, ours: bool) -> dict:
    """option -> trial numbers: our campaign numbers trials 1..n; a third-party leaf is taken as its
    folders are numbered (the tool's own tests number them from 0)."""
    default = list(range(1, layout["trials_per_option"] + 1))
    ranks = getattr(leaf, "kv_ranks", None)
    seen = ranks.trials if ranks is not None else {}
    return {o: default if ours else (seen.get(o) or default) for o in layout["options"]}


def recompute(leaf) -> dict | None:
    """The summary the leaf's rank files give (None without rank files or a known layout)."""
    ranks = getattr(leaf, "kv_ranks", None)
    if ranks is None or not ranks.results:
        return None
    layout = layout_of(leaf)
    if layout is None:
        return None
    return aggregate(ranks.results, npernode=layout["npernode"], host_count=layout["host_count"],
                     total_ranks=layout["total_ranks"], trials_per_option=layout["trials_per_option"],
                     run_datetime=str(layout["run_datetime"]), options=layout["options"], trials=layout["trials"],
                     trial_failures=layout["trial_failures"])


def summary_differences(stored: dict, computed: dict, rel_tol: float = REL_TOL) -> list[tuple[str, object, object]]:
    """(field, stored, recomputed) for every stored field the recomputation does not reproduce.
    Numbers compare to `rel_tol` (relative); paths in missing_files/cpu_tier_ranks compare by their
    option/trial/rank (the v3.0 tool writes absolute paths of the machine it ran on)."""
    return _diff(stored, computed, rel_tol, "")


def _diff(stored, computed, rel_tol, path) -> list:
    if isinstance(stored, dict):
        return _diff_dict(stored, computed, rel_tol, path)
    if isinstance(stored, list):
        return _diff_list(stored, computed, rel_tol, path)
    a, b = _num(stored), _num(computed)
    numeric = a is not None and b is not None
    same = math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0) if numeric else stored == computed
    return [] if same else [(path, stored, computed)]


def _diff_dict(stored: dict, computed, rel_tol, path) -> list:
    if not isinstance(computed, dict):
        return [(path or ".", stored, computed)]
    out = []
    for key, value in stored.items():
        sub = f"{path}.{key}" if path else str(key)
        out.extend(_diff(value, computed[key], rel_tol, sub) if key in computed else [(sub, value, None)])
    if path == "trial_failures":
        # a failure the stored summary leaves out is a difference too (only stored keys count elsewhere)
        out.extend((f"{path}.{key}", None, value) for key, value in computed.items() if key not in stored)
    return out


def _diff_list(stored: list, computed, rel_tol, path) -> list:
    if path.endswith(("missing_files", "cpu_tier_ranks")) and isinstance(computed, list):
        return [] if _locations(stored) == _locations(computed) else [(path, stored, computed)]
    if not isinstance(computed, list) or len(stored) != len(computed):
        return [(path, stored, computed)]
    return [d for i, (a, b) in enumerate(zip(stored, computed, strict=True))
            for d in _diff(a, b, rel_tol, f"{path}[{i}]")]


def _locations(paths: list) -> list:
    out = []
    for item in paths:
        match = LOCATION_RE.search(str(item).replace("\\", "/"))
        out.append(tuple(int(g) for g in match.groups()) if match else str(item))
    return sorted(out, key=str)


def missing_locations(leaf) -> list[str]:
    """Rank files the leaf's layout expects and its folders do not hold (relative to the leaf)."""
    layout = layout_of(leaf)
    ranks = getattr(leaf, "kv_ranks", None)
    if layout is None:
        return []
    present = {r.location for r in (ranks.results if ranks else ()) if r.doc is not None}
    out = []
    for option in layout["options"]:
        for trial in layout["trials"][option]:
            out.extend(f"option_{option}/trial_{trial}/rank_{rank}" for rank in range(layout["total_ranks"])
                       if (option, trial, rank) not in present)
    return out
