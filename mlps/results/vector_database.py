"""VectorDB leaves (rule book §5): the query statistics of a run, its recall, the disk I/O the samplers
saw, and the files a leaf carries, ours or published.

Our campaign's run leaf holds one folder per query process, `rank_<N>/`, with
- `queries.csv`: header `timestamp,batch_size,batch_time_seconds`, one row per search() batch
  (timestamp = epoch seconds at the batch's start, time = search() only);
- `rank.json`: the process's own record (hostname, ...);
- `result_ids.json`: `{"k": 10, "ids": {"<query index>": [ids ...]}}`, the ANN answers.
`pool_ranks` computes MLCommons' simple_bench statistics over all ranks pooled: per-query latency
samples are batch_time / batch_size repeated batch_size times (ms); the wall clock runs from the
earliest batch start to the latest batch end; percentiles are numpy's linear ones. `recall` scores
the answers against the datagen leaf's `ground_truth.json` (`{"k": 10, "ids": [[...] per query]}`).
`write_run_summary` writes `statistics.json` (full recall block), `summary.json` (recall reduced to
its mean, as the v3.0 tool does) and `result_verdict.json` (ground-truth coverage, rule book §5.3.5).

A published leaf may lack summary.json: `read_leaf_files` reads the native statistics file
(`statistics.json`, `vectordb/simple/statistics.json`, `vectordb/enhanced/enhanced_statistics.json`
or `vectordb/*/vdb_multi_node_summary.json`), `rebuild_summary` makes the summary from it and
`summary_differences` lists where both exist and disagree. Everything in a third-party tree is
read below the verified root without following a symlink, size-bounded.
One file: the statistics our campaign writes and the ones the verifier recomputes must stay one code.
"""

from __future__ import annotations

import bisect
import errno
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlps.errors import UserError
from mlps.jsonio import ReadError, parse_json, parse_jsonl, read_bytes, write_json_atomic
from mlps.natural_order import natural_items
from mlps.results.models import Problem
from mlps.safe_path import OutsideRoot, open_under
from mlps_module_utils.mlps_kvcache import percentile
from mlps_module_utils.mlps_timeseries import SCHEMA as SERIES_SCHEMA
from mlps_module_utils.mlps_timeseries import rates

LOAD_SCHEMA = "mlps-vectordb-load/1"
SUMMARY_NAME = "summary.json"
STATISTICS_NAME = "statistics.json"
VERDICT_NAME = "result_verdict.json"
LOAD_NAME = "load.json"
GROUND_TRUTH_NAME = "ground_truth.json"
QUERIES_NAME = "queries.csv"
RANK_NAME = "rank.json"
RESULT_IDS_NAME = "result_ids.json"
QUERIES_HEADER = "timestamp,batch_size,batch_time_seconds"
RANK_RE = re.compile(r"^rank_(\d{1,6})$")

# Bounds for files written by clients: far above a 1-hour run of one process at batch 1.
MAX_QUERY_ROWS = 20_000_000
MAX_QUERIES_BYTES = 1 << 30
MAX_RANKS = 4096
MAX_STATISTICS_FILES = 8
REL_TOL = 1e-9

# (suffix, percentile) of simple_bench's figures
PERCENTILES = (("p95", 95.0), ("p99", 99.0), ("p999", 99.9), ("p9999", 99.99))
RECALL_PERCENTILES = (("p5_recall", 5.0), ("p95_recall", 95.0), ("p99_recall", 99.0))
# ground-truth coverage (copied / total vectors of the FLAT copy): below this the result is invalid
COVERAGE_VALID = 0.99
# the native statistics files of a run leaf, in the order the summary is rebuilt from them
STATISTICS_PLACES = (STATISTICS_NAME, "vectordb/simple/statistics.json",
                     "vectordb/enhanced/enhanced_statistics.json")
MULTI_NODE_NAME = "vdb_multi_node_summary.json"


# --- numbers ---------------------------------------------------------------------------------------
class _Runs:
    """A sorted multiset (value -> how many) indexable like the expanded sorted list, so the percentile
    helper (numpy's linear method) reads it without millions of repeated floats in memory."""

    def __init__(self, counts: Mapping):
        self.values = sorted(counts)
        self.ends = []
        total = 0
        for value in self.values:
            total += counts[value]
            self.ends.append(total)

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, index: int) -> float:
        return self.values[bisect.bisect_right(self.ends, index)]

    def median(self) -> float:
        """numpy.median: the middle element, or the mean of the two middle ones."""
        n = len(self)
        return self[n // 2] if n % 2 else (self[n // 2 - 1] + self[n // 2]) / 2


def _figures(runs: _Runs, total: float, suffix: str) -> dict:
    """{min,max,mean,median,p95,p99,p999,p9999}_<suffix> of a multiset (0 when empty, as simple_bench)."""
    n = len(runs)
    out = {f"min_{suffix}": runs[0] if n else 0.0, f"max_{suffix}": runs[n - 1] if n else 0.0,
           f"mean_{suffix}": total / n if n else 0.0, f"median_{suffix}": runs.median() if n else 0.0}
    out.update({f"{name}_{suffix}": percentile(runs, q) for name, q in PERCENTILES})
    return out


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# --- our campaign's run leaf: pooled statistics ----------------------------------------------------
def _rank_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    try:
        names = sorted(os.listdir(run_dir))
    except OSError as exc:
        raise UserError(f"{run_dir}: cannot list the run folder ({exc.strerror}); give a VectorDB run leaf") from exc
    found = []
    for name in names:
        match = RANK_RE.match(name)
        path = run_dir / name
        if match and path.is_dir() and not path.is_symlink():
            found.append((int(match.group(1)), path))
    if not found:
        raise UserError(f"{run_dir}: no rank_<N>/ folders; expected one per query process with {QUERIES_NAME}")
    if len(found) > MAX_RANKS:
        raise UserError(f"{run_dir}: {len(found)} rank folders; at most {MAX_RANKS} are read")
    return sorted(found)


def read_queries(path: Path, root: Path | None = None) -> list[tuple[float, int, float]]:
    """(timestamp, batch_size, batch_time_seconds) rows of one rank's queries.csv; a row that is not
    three finite numbers (a whole batch size >= 1, times >= 0) is a UserError naming file and line."""
    try:
        data = read_bytes(path, max_bytes=MAX_QUERIES_BYTES, root=root or path.parent)
    except ReadError as exc:
        raise UserError(f"{path}: {exc.detail}; expected the rank's {QUERIES_NAME}") from None
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip().lstrip("\ufeff") != QUERIES_HEADER:
        found = repr(lines[0][:80]) if lines else "an empty file"
        raise UserError(f"{path}:1: header {found}; expected {QUERIES_HEADER!r}; write the file with the "
                        "VectorDB query runner")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if len(rows) >= MAX_QUERY_ROWS:
            raise UserError(f"{path}: more than {MAX_QUERY_ROWS} rows; split the run or raise the limit")
        rows.append(_row(path, number, line))
    return rows


def _row(path: Path, number: int, line: str) -> tuple[float, int, float]:
    parts = line.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        stamp, size, seconds = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise UserError(f"{path}:{number}: {line[:80]!r} is not three numbers; expected "
                        f"{QUERIES_HEADER}") from None
    if not (math.isfinite(stamp) and math.isfinite(seconds) and seconds >= 0 and size >= 1 and size.is_integer()):
        raise UserError(f"{path}:{number}: {line[:80]!r}: expected a finite timestamp, a whole batch size >= 1 "
                        "and a batch time >= 0 seconds")
    return stamp, int(size), seconds


def _rank_record(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = parse_json(read_bytes(path, max_bytes=1 << 20, root=path.parent), path)
    except ReadError as exc:
        raise UserError(f"{path}: {exc.detail}; expected the rank's JSON record") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object (the rank's record)")
    return data


def pool_ranks(run_dir) -> dict:
    """simple_bench's statistics over every rank's queries.csv pooled (rule book §5.2)."""
    run_dir = Path(run_dir)
    latency: dict = {}                                  # sample value (ms) -> how many
    batches: dict = {}
    per_rank = []
    lat_total = batch_total = 0.0
    queries = 0
    first = last = None
    for rank, folder in _rank_dirs(run_dir):
        rows = read_queries(folder / QUERIES_NAME, root=run_dir)
        record = _rank_record(folder / RANK_NAME)
        rank_queries = 0
        for stamp, size, seconds in rows:
            batch_ms = seconds * 1000.0
            sample = batch_ms / size
            latency[sample] = latency.get(sample, 0) + size
            batches[batch_ms] = batches.get(batch_ms, 0) + 1
            lat_total += batch_ms                       # size samples of batch_ms / size each
            batch_total += batch_ms
            rank_queries += size
            first = stamp if first is None else min(first, stamp)
            last = stamp + seconds if last is None else max(last, stamp + seconds)
        queries += rank_queries
        start = min((r[0] for r in rows), default=None)
        end = max((r[0] + r[2] for r in rows), default=None)
        per_rank.append({"rank": rank, "hostname": record.get("hostname"), "queries": rank_queries,
                         "batches": len(rows), "start_time": start, "end_time": end})
    total_time = (last - first) if first is not None else 0.0
    batch_count = sum(r["batches"] for r in per_rank)
    out = {"total_queries": queries, "batch_count": batch_count, "total_time_seconds": total_time,
           "throughput_qps": queries / total_time if total_time > 0 else 0.0}
    out.update(_figures(_Runs(latency), lat_total, "latency_ms"))
    out.update(_figures(_Runs(batches), batch_total, "batch_time_ms"))
    out.update({"start_time": first, "end_time": last, "num_processes": len(per_rank),
                "per_rank_queries": {str(r["rank"]): r["queries"] for r in per_rank}, "per_rank": per_rank})
    return out


# --- recall ----------------------------------------------------------------------------------------
def _ground_truth_ids(ground_truth: Mapping) -> list:
    ids = ground_truth.get("ids") if isinstance(ground_truth, Mapping) else None
    if not isinstance(ids, list) or not all(isinstance(row, list) for row in ids):
        raise UserError(f"ground truth: expected {{'k': K, 'ids': [[ids...] per query]}}, got "
                        f"{type(ids).__name__}; write it with the datagen's exact (FLAT) search")
    return ids


def recall(run_dir, ground_truth: Mapping, k: int) -> dict:
    """recall@k per query = |ANN top k ∩ ground-truth top k| / |ground-truth top k|, over every
    rank's result_ids.json pooled (a query answered by several ranks counts once per rank)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UserError(f"recall k={k!r}: expected a whole number >= 1 (the search limit)")
    run_dir = Path(run_dir)
    truth = _ground_truth_ids(ground_truth)
    scores = []
    for _rank, folder in _rank_dirs(run_dir):
        path = folder / RESULT_IDS_NAME
        try:
            data = parse_json(read_bytes(path, root=run_dir), path)
        except ReadError as exc:
            raise UserError(f"{path}: {exc.detail}; expected the rank's ANN answers") from None
        answers = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(answers, dict):
            raise UserError(f"{path}: expected {{'k': K, 'ids': {{'<query index>': [ids...]}}}}")
        for key, found in sorted(answers.items(), key=lambda item: (len(item[0]), item[0])):
            index = int(key) if str(key).isdigit() else -1
            if not 0 <= index < len(truth) or not isinstance(found, list):
                raise UserError(f"{path}: query {key!r}: expected an index below {len(truth)} with a list of ids")
            expected = set(truth[index][:k])
            if expected:
                scores.append(len(expected & set(found[:k])) / len(expected))
    counts: dict = {}
    for score in scores:
        counts[score] = counts.get(score, 0) + 1
    runs = _Runs(counts)
    n = len(scores)
    mean = math.fsum(scores) / n if n else 0.0
    out = {"recall_at_k": mean, "mean_recall": mean, "median_recall": runs.median() if n else 0.0,
           "min_recall": min(scores) if n else 0.0, "max_recall": max(scores) if n else 0.0}
    out.update({name: percentile(runs, q) for name, q in RECALL_PERCENTILES})
    out.update({"num_queries_evaluated": n, "k": k, "per_query_recall": scores})
    return out


# --- disk I/O from the samplers' series ----------------------------------------------------------------
def _series_samples(leaf: Path) -> dict:
    """host -> mlps-timeseries/1 samples sorted by `mono`, from the leaf's `*timeseries*` files."""
    from mlps.results.series import series_files  # noqa: PLC0415 - series pulls in the report's svg module

    hosts: dict = {}
    for path in series_files(leaf):
        try:
            records, _skipped = parse_jsonl(read_bytes(path, root=leaf), path)
        except ReadError:
            continue
        for record in records:
            if (isinstance(record, dict) and record.get("schema") == SERIES_SCHEMA
                    and _finite(record.get("mono")) is not None and _finite(record.get("wall")) is not None
                    and isinstance(record.get("counters"), dict)):
                hosts.setdefault(str(record.get("host") or path.stem), []).append(record)
    for samples in hosts.values():
        samples.sort(key=lambda s: s["mono"])
    return hosts


def disk_io(leaf, window: tuple[float, float] | None = None) -> dict | None:
    """Bytes the hosts' disks read and wrote during the run (each host once; rule book §5.2):
    {host_count, total_bytes_read, total_bytes_read_per_sec, total_bytes_written,
    total_bytes_written_per_sec, duration_seconds, per_host{host: {bytes_read, bytes_written}}}.
    `window`: (start, end) Unix seconds of the queries; samples outside it are left out. None when
    the leaf has no series."""
    hosts = _series_samples(Path(leaf))
    if not hosts:
        return None
    per_host = {}
    spans = []
    for host, all_samples in natural_items(hosts):
        samples = all_samples
        if window is not None:
            inside = [s for s in all_samples if window[0] <= s["wall"] <= window[1]]
            samples = inside if len(inside) >= 2 else all_samples
        read = written = 0.0
        for step in rates(samples, totals_only=True):
            total = step.get("disk_total") or {}
            read += (total.get("read_bytes_per_s") or 0.0) * step["dt"]
            written += (total.get("write_bytes_per_s") or 0.0) * step["dt"]
        per_host[host] = {"bytes_read": round(read), "bytes_written": round(written), "samples": len(samples)}
        if len(samples) >= 2:
            spans.append((samples[0]["wall"], samples[-1]["wall"]))
    duration = (window[1] - window[0]) if window else (
        max(s[1] for s in spans) - min(s[0] for s in spans) if spans else 0.0)
    total_read = sum(h["bytes_read"] for h in per_host.values())
    total_written = sum(h["bytes_written"] for h in per_host.values())
    return {"host_count": len(per_host), "total_bytes_read": total_read,
            "total_bytes_read_per_sec": total_read / duration if duration > 0 else 0.0,
            "total_bytes_written": total_written,
            "total_bytes_written_per_sec": total_written / duration if duration > 0 else 0.0,
            "duration_seconds": duration, "per_host": per_host}


# --- writing our leaves' summaries ---------------------------------------------------------------------
def check_load(load, where="load.json") -> dict:
    """The datagen's load.json (schema mlps-vectordb-load/1), checked for what the summaries need."""
    if not isinstance(load, Mapping) or load.get("schema", LOAD_SCHEMA) != LOAD_SCHEMA:
        raise UserError(f"{where}: expected a {LOAD_SCHEMA} document written by the VectorDB loader")
    for key in ("num_vectors", "dimension", "inserted_vectors"):
        value = load.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{where}: {key}={value!r}: expected a whole number >= 0; load the collection again")
    for key in ("engine", "index_type"):
        if not isinstance(load.get(key), str) or not load[key]:
            raise UserError(f"{where}: {key}={load.get(key)!r}: expected a name (e.g. milvus, DISKANN)")
    return dict(load)


def _descriptors(load: dict) -> dict:
    return {"num_vectors": load["num_vectors"], "dimension": load["dimension"],
            "inserted_vectors": load["inserted_vectors"], "index_type": load["index_type"],
            "database": {"database": load["engine"]}}


def write_datagen_summary(leaf, load) -> dict:
    """The datagen leaf's summary.json: the v3.0 fields, then the load's timings and index settings."""
    load = check_load(load, f"{leaf}/{LOAD_NAME}")
    summary = _descriptors(load)
    for key in ("metric_type", "index_params", "compacted", "timings", "server_version", "collection", "seed",
                "query_seed", "ground_truth"):
        if key in load:
            summary[key] = load[key]
    write_json_atomic(Path(leaf) / SUMMARY_NAME, summary, indent=2)
    return summary


def result_verdict(recall_block: Mapping, load: Mapping, verdict_inputs: Mapping | None = None) -> dict:
    """result_verdict.json (rule book §5.3.5): coverage < 0.99 or no query evaluated -> invalid,
    coverage below 1 -> degraded, else valid."""
    inputs = dict(verdict_inputs or {})
    truth = load.get("ground_truth") if isinstance(load.get("ground_truth"), Mapping) else {}
    total = inputs.get("total_vectors", truth.get("total_vectors"))
    copied = inputs.get("copied_vectors", truth.get("copied_vectors"))
    coverage = inputs.get("coverage", truth.get("coverage"))
    if coverage is None and _finite(total) and _finite(copied) is not None:
        coverage = copied / total
    evaluated = recall_block.get("num_queries_evaluated") or 0
    reason = inputs.get("reason")
    if _finite(coverage) is None:
        result, reason = "invalid", reason or "ground-truth coverage not recorded"
    elif coverage < COVERAGE_VALID:
        result, reason = "invalid", reason or f"FLAT copy coverage {coverage:.4f} below {COVERAGE_VALID}"
    elif not evaluated:
        result, reason = "invalid", reason or "no query evaluated for recall"
    elif coverage < 1:
        result, reason = "degraded", reason or f"FLAT copy coverage {coverage:.4f} below 1"
    else:
        result = "valid"
    return {"result": result, "valid": result == "valid", "num_queries_evaluated": evaluated,
            "flat_setup": {"ok": result != "invalid", "coverage": coverage, "total_vectors": total,
                           "copied_vectors": copied,
                           "had_recoverable_error": bool(inputs.get("had_recoverable_error", False)),
                           "reason": reason, "reused": bool(inputs.get("reused", False)),
                           "method": inputs.get("method", truth.get("method"))}}


def write_run_summary(leaf, statistics: Mapping, recall_block: Mapping, load, verdict_inputs=None) -> dict:
    """Write the run leaf's statistics.json, summary.json and result_verdict.json; return the summary."""
    leaf = Path(leaf)
    load = check_load(load)
    window = None
    if _finite(statistics.get("start_time")) is not None and _finite(statistics.get("end_time")) is not None:
        window = (statistics["start_time"], statistics["end_time"])
    io = disk_io(leaf, window)
    full = dict(statistics) | {"recall": dict(recall_block), "disk_io": io}
    write_json_atomic(leaf / STATISTICS_NAME, full, indent=2)
    summary = _descriptors(load) | rebuild_summary(full) | {"disk_io": io}
    write_json_atomic(leaf / SUMMARY_NAME, summary, indent=2)
    write_json_atomic(leaf / VERDICT_NAME, result_verdict(recall_block, load, verdict_inputs), indent=2)
    return summary


# --- published leaves: the files a VDB leaf carries ------------------------------------------------------
@dataclass(slots=True)
class VdbFiles:
    """What a VectorDB leaf holds beside summary.json; paths relative to the leaf."""
    statistics: list = field(default_factory=list)     # (rel, dict) of the native statistics files found
    verdict: dict | None = None
    verdict_file: str | None = None
    load: dict | None = None
    load_file: str | None = None
    rank_dirs: tuple = ()                               # our rank_<N> folder names
    rebuilt_from: str | None = None                     # the statistics file summary.json was rebuilt from
    problems: list = field(default_factory=list)


def has_vdb_files(files, dirs) -> bool:
    return (bool({STATISTICS_NAME, VERDICT_NAME, LOAD_NAME} & set(files)) or "vectordb" in dirs
            or any(RANK_RE.match(d) for d in dirs))


def _entries(root: Path, folder: Path, rel: str, problems: list) -> list[tuple[str, str]]:
    """(name, dir|file) of a folder below `root`, no symlink followed (a link is a Problem)."""
    try:
        fd = open_under(root, folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        kind = "symlink" if isinstance(exc, OutsideRoot) or exc.errno == errno.ELOOP else "unreadable"
        problems.append(Problem(kind, rel, f"cannot open the folder: {exc.strerror or exc}"))
        return []
    out = []
    try:
        with os.scandir(fd) as entries:
            for count, entry in enumerate(entries):
                if count >= 1000:
                    problems.append(Problem("limit", rel, "more than 1000 entries; only the first ones read"))
                    break
                if entry.is_symlink():
                    problems.append(Problem("symlink", f"{rel}/{entry.name}", "a symlink in a VectorDB results "
                                                                             "folder; not followed"))
                elif entry.is_dir(follow_symlinks=False):
                    out.append((entry.name, "dir"))
                elif entry.is_file(follow_symlinks=False):
                    out.append((entry.name, "file"))
    except OSError as exc:
        problems.append(Problem("unreadable", rel, f"cannot list the folder: {exc.strerror or exc}"))
    finally:
        os.close(fd)
    return sorted(out)


def _json(root: Path, leaf_path: Path, leaf_rel: str, sub: str, problems: list, max_bytes: int):
    where = f"{leaf_rel}/{sub}"
    try:
        data = parse_json(read_bytes(leaf_path / sub, max_bytes=max_bytes, root=root), where)
    except ReadError as exc:
        problems.append(Problem(exc.kind, where, exc.detail))
        return None
    if not isinstance(data, dict):
        problems.append(Problem("unparsable", where, "expected a JSON object"))
        return None
    return data


def read_leaf_files(leaf_path: Path, root: Path, leaf_rel: str, files, dirs, max_bytes: int) -> VdbFiles:
    """The statistics files, result_verdict.json and load.json of a VectorDB leaf."""
    found = VdbFiles()
    present = [STATISTICS_NAME] if STATISTICS_NAME in files else []
    if "vectordb" in dirs:
        for name, kind in _entries(root, leaf_path / "vectordb", f"{leaf_rel}/vectordb", found.problems):
            if kind != "dir":
                continue
            sub = f"vectordb/{name}"
            present += [f"{sub}/{file}" for file, what in _entries(root, leaf_path / sub, f"{leaf_rel}/{sub}",
                                                                    found.problems) if what == "file"]
    order = {place: index for index, place in enumerate(STATISTICS_PLACES)}
    wanted = sorted((p for p in present if p in order or p.endswith(f"/{MULTI_NODE_NAME}")),
                    key=lambda p: (order.get(p, len(order)), p))
    for sub in wanted[:MAX_STATISTICS_FILES]:
        data = _json(root, leaf_path, leaf_rel, sub, found.problems, max_bytes)
        if data is not None:
            found.statistics.append((sub, data))
    if VERDICT_NAME in files:
        found.verdict = _json(root, leaf_path, leaf_rel, VERDICT_NAME, found.problems, max_bytes)
        found.verdict_file = VERDICT_NAME
    if LOAD_NAME in files:
        found.load = _json(root, leaf_path, leaf_rel, LOAD_NAME, found.problems, max_bytes)
        found.load_file = LOAD_NAME
    found.rank_dirs = tuple(sorted(d for d in dirs if RANK_RE.match(d)))
    return found


def reduced_recall(value):
    """The scalar a summary carries for `recall`: the mean of a recall block, or the number itself."""
    if isinstance(value, Mapping):
        return value.get("mean_recall", value.get("recall_at_k"))
    return value


def rebuild_summary(statistics: Mapping) -> dict:
    """summary.json from a native statistics document: a copy with `recall` reduced to its mean and
    `query_count` from `total_queries` (how the v3.0 tool writes it)."""
    out = {k: v for k, v in statistics.items() if k not in ("per_rank", "rank_summaries", "per_query_recall")}
    if "recall" in out:
        out["recall"] = reduced_recall(out["recall"])
    if "query_count" not in out and "total_queries" in statistics:
        out["query_count"] = statistics["total_queries"]
    return out


def summary_differences(summary: Mapping, statistics: Mapping, rel_tol: float = REL_TOL) -> list[tuple]:
    """(field, summary value, statistics value) for each figure both carry that disagrees (numbers to
    `rel_tol` relative; the recall as its mean; query_count against total_queries)."""
    rebuilt = rebuild_summary(statistics)
    out = []
    for key, value in summary.items():
        if key not in rebuilt or key == "disk_io":
            continue
        other = rebuilt[key]
        mine = reduced_recall(value) if key == "recall" else value
        a, b = _finite(mine), _finite(other)
        numeric = a is not None and b is not None
        same = math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0) if numeric else mine == other
        if not same:
            out.append((key, mine, other))
    return out


def attach(leaf, found: VdbFiles) -> None:
    """Give a leaf without summary.json the one its first statistics file gives."""
    leaf.vdb = found
    if leaf.summary is None and leaf.summary_file is None and found.statistics:
        sub, data = found.statistics[0]
        leaf.summary = rebuild_summary(data)
        found.rebuilt_from = sub
