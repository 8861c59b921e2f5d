"""The time series of a run leaf, reduced to what the report plots.

A leaf holds one `mlps-timeseries/1` JSONL file per host, in a folder `*timeseries*/` (the
campaign writes `training_<ts>_timeseries/<host>.jsonl`) or as `*timeseries*.jsonl` files at the
leaf root. Rates come from mlps_timeseries.rates() (one home for that arithmetic); this module
only picks the five figures plotted and thins them to a few hundred points per host, so a report
over 1,000 leaves keeps little in memory.

DLIO writes its epoch times as naive local time while the samples carry Unix time; the offset
between the two is the timezone, a whole number of quarter hours, found by comparing the middle
of the run in both clocks.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlps import tree_walk
from mlps.jsonio import ReadError, parse_jsonl, read_bytes
from mlps.natural_order import natural_sorted
from mlps.report.svg import plottable
from mlps.results.models import parse_time
from mlps_module_utils.mlps_timeseries import SCHEMA, rates

MIB = 2**20
GIB = 2**30
MAX_POINTS = 240          # per host, metric and run when a chart shows one run: a point per 2 pixels
MIN_POINTS = 30           # per run however many runs share a chart
NESTED_DEPTH = 2                 # series/<option>/<trial>/<host>.jsonl
MAX_FILES = 256           # series files read per leaf: one per host (natural order: node1, node2, ...)
QUARTER_HOUR = 900.0
# (key, title, unit, value from one rates() entry)
METRICS = (
    ("disk_read", "Disk read", "MiB/s", lambda r: _scaled(r["disk_total"].get("read_bytes_per_s"), MIB)),
    ("disk_write", "Disk write", "MiB/s", lambda r: _scaled(r["disk_total"].get("write_bytes_per_s"), MIB)),
    ("net_rx", "Network receive", "MiB/s", lambda r: _scaled(r["net_total"].get("rx_bytes_per_s"), MIB)),
    ("cpu_busy", "CPU busy", "%", lambda r: r.get("cpu_busy_pct")),
    ("page_cache", "Page cache", "GiB", lambda r: _scaled(r.get("page_cache_bytes"), GIB)),
)


def _scaled(value, unit: float):
    return None if value is None else value / unit


@dataclass
class LeafSeries:
    """One run's plotted series: per host {metric: [(unix time, value)]}, its time span and epochs."""

    leaf: str
    start: float | None = None
    end: float | None = None
    hosts: dict = field(default_factory=dict)
    epochs: list = field(default_factory=list)        # (unix start, unix end, label)
    files: list = field(default_factory=list)
    skipped_lines: int = 0
    offset: float | None = None                       # naive DLIO time + offset = Unix time
    ignored: int = 0                                  # samples or values of the wrong type or range left out


def series_files(leaf_path: Path) -> list[Path]:
    """`*timeseries*/*.jsonl` and `*timeseries*.jsonl` (also `.json`) in the leaf, sorted. A leaf
    holding several phases keeps each phase's files in subfolders of the series folder
    (`kv_cache_<ts>_timeseries/option_<O>/trial_<T>/<host>.jsonl`): up to NESTED_DEPTH of them."""
    found = []
    try:
        entries = _listing(leaf_path)
    except OSError:
        return []
    for entry in entries:
        if "timeseries" not in entry.name or entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_jsonl_below(entry.path, NESTED_DEPTH))
        elif entry.name.endswith((".jsonl", ".json")) and entry.is_file(follow_symlinks=False):
            found.append(Path(entry.path))
    return natural_sorted(found, key=str)[:MAX_FILES]


def _jsonl_below(folder: str, depth: int) -> list[Path]:
    """The .jsonl files of `folder` and of its subfolders down to `depth` more levels (no links)."""
    try:
        entries = _listing(folder)
    except OSError:
        return []
    found = [Path(e.path) for e in entries if e.name.endswith(".jsonl") and e.is_file(follow_symlinks=False)]
    if depth > 0:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                found.extend(_jsonl_below(entry.path, depth - 1))
            if len(found) >= MAX_FILES:
                break
    return found


def phase_label(path: Path) -> str | None:
    """`option 1 trial 2` for `.../<series>/option_1/trial_2/<host>.jsonl`; None for a file directly
    in its series folder (a leaf of one phase)."""
    parts = path.parts
    for index in range(len(parts) - 2, 0, -1):
        if "timeseries" in parts[index]:
            nested = parts[index + 1:-1]
            return " ".join(part.replace("_", " ") for part in nested) or None
    return None


def _listing(folder) -> list:
    """At most tree_walk.MAX_ENTRIES entries of `folder` (a hostile leaf may hold millions)."""
    with os.scandir(folder) as entries:
        return list(itertools.islice(entries, tree_walk.MAX_ENTRIES))


def thin(points: list, limit: int = MAX_POINTS) -> list:
    """At most `limit` points: means over equal runs of consecutive samples (gaps stay gaps)."""
    if len(points) <= limit:
        return points
    size = len(points) / limit
    out = []
    for index in range(limit):
        chunk = points[int(index * size):int((index + 1) * size)]
        values = [v for _t, v in chunk if v is not None]
        out.append((chunk[len(chunk) // 2][0], sum(values) / len(values) if values else None))
    return out


def _naive_seconds(when: datetime) -> float:
    return when.replace(tzinfo=UTC).timestamp()


def clock_offset(series_start: float, series_end: float, naive_start: datetime | None,
                 naive_end: datetime | None) -> float:
    """Seconds to add to DLIO's naive local times to get Unix time (a whole number of quarter hours)."""
    if naive_start is None:
        return 0.0
    naive_mid = _naive_seconds(naive_start)
    if naive_end is not None:
        naive_mid = (naive_mid + _naive_seconds(naive_end)) / 2
    series_mid = (series_start + series_end) / 2
    return round((series_mid - naive_mid) / QUARTER_HOUR) * QUARTER_HOUR


def epochs_of(per_epoch: dict | None) -> list[tuple]:
    """(naive start, naive end, label) per training epoch of DLIO's per-epoch statistics."""
    out = []
    for key, value in (per_epoch or {}).items():
        if not isinstance(value, dict):
            continue
        start, end = parse_time(value.get("start")), parse_time(value.get("end"))
        if start is not None:
            out.append((start, end, f"epoch {key}"))
    return sorted(out, key=lambda item: item[0])


def decimate(samples: list, limit: int) -> list:
    """Every k-th sample (and the last), at most about `limit`. Counters are cumulative, so the rate
    between two kept samples is exactly the mean rate over the samples skipped between them: nothing
    is lost that a chart of this width could show, and rates() has k times less to do."""
    if len(samples) <= limit + 1:
        return samples
    step = -(-len(samples) // limit)
    kept = samples[::step]
    if kept[-1] is not samples[-1]:
        kept.append(samples[-1])
    return kept


_WRONG_SHAPE = (TypeError, ValueError, AttributeError, KeyError, ArithmeticError)


def _samples(path: Path, result: LeafSeries) -> list:
    """The mlps-timeseries/1 samples of one file with numeric, in-range `mono` and `wall`. Read
    through jsonio (size- and depth-limited, never through a symlink out of the leaf); lines that
    are not JSON count as skipped, samples of the wrong shape as ignored."""
    try:
        records, skipped = parse_jsonl(read_bytes(path, root=path.parent), path)
    except ReadError:
        result.skipped_lines += 1
        return []
    result.skipped_lines += skipped
    samples = []
    for record in records:
        if not (isinstance(record, dict) and record.get("schema") == SCHEMA
                and isinstance(record.get("counters"), dict)):
            result.skipped_lines += 1
        elif plottable(record.get("mono")) and plottable(record.get("wall")):
            samples.append(record)
        else:
            result.ignored += 1
    return samples


def _rates(samples: list, result: LeafSeries) -> list:
    """rates() of the samples; when a counter has the wrong type, pair by pair, leaving out (and
    counting) the intervals that cannot be computed."""
    try:
        return rates(samples, totals_only=True)
    except _WRONG_SHAPE:
        pass
    steps = []
    for pair in itertools.pairwise(samples):
        try:
            steps.extend(rates(list(pair), totals_only=True))
        except _WRONG_SHAPE:
            result.ignored += 1
    return steps


def _value(pick, step: dict, result: LeafSeries):
    """One plotted value, or None (counted in result.ignored when present but not a plottable number)."""
    try:
        value = pick(step)
    except _WRONG_SHAPE:
        value = False                       # not None: counted below
    if value is None or plottable(value):
        return value
    result.ignored += 1
    return None


def load_leaf(leaf, points: int = MAX_POINTS) -> LeafSeries | None:
    """The leaf's plotted series (about `points` per host and metric), or None without time series."""
    files = series_files(leaf.path)
    if not files:
        return None
    result = LeafSeries(leaf=leaf.name, files=[f.name for f in files])
    phases: dict = {}                                   # label -> [start, end] of a nested phase's files
    for path in files:
        samples = _samples(path, result)
        by_host: dict = {}
        for sample in samples:
            by_host.setdefault(str(sample.get("host") or path.stem), []).append(sample)
        for host, host_samples in by_host.items():
            host_samples.sort(key=lambda s: s["mono"])
            steps = _rates(decimate(host_samples, points), result)
            walls = [s["wall"] for s in host_samples]
            result.start = min(walls) if result.start is None else min(result.start, *walls)
            result.end = max(walls) if result.end is None else max(result.end, *walls)
            metrics = {key: thin([(r["wall"], _value(pick, r, result)) for r in steps], points)
                       for key, _title, _unit, pick in METRICS}
            label = phase_label(path)
            if label:
                span = phases.setdefault(label, [min(walls), max(walls)])
                span[0], span[1] = min(span[0], *walls), max(span[1], *walls)
            if host in result.hosts:                    # another phase of the same host: a gap, then it
                for key, values in metrics.items():
                    result.hosts[host][key] += [(walls[0], None), *values]
            else:
                result.hosts[host] = metrics
    if result.start is None:
        return result
    result.epochs.extend((start, end, label) for label, (start, end) in phases.items())
    epochs = epochs_of(leaf.per_epoch)
    naive_start = leaf.start or (epochs[0][0] if epochs else None)
    naive_end = leaf.end or (epochs[-1][1] if epochs else None)
    offset = clock_offset(result.start, result.end, naive_start, naive_end)
    result.offset = offset
    for start, end, label in epochs:
        result.epochs.append((_naive_seconds(start) + offset,
                              _naive_seconds(end) + offset if end else None, label))
    return result
