"""The figures a workload publishes, recomputed from its run summaries (rule book §3.3.8
and §4.3.6, computed as the published v3.0 results table does).

- v1.0 `mlperf_storage_report.json`: per run the summary's epoch means; overall the mean of those
  run means and their population standard deviation (ddof 0).
- v3.0 `run/results.json` (training): `train_mean_of_<x>` = mean over the measured leaves of the
  mean over epochs of `metric.train_<x>[]`; Read B/W (GiB/s) = mean of `train_io_mean_MB_per_second` / 1024.
- checkpointing: mean of the write-phase (read-phase) leaves' save_* (load_*) figures.
- KV-cache: the run summary recomputed from the rank files (mlps.results.kv_cache).
- VectorDB: the first run leaf's figures, as the v3.0 table takes them, and every run's for the report.
Means are exact-sum arithmetic means (math.fsum), as `statistics.fmean`.
"""

from __future__ import annotations

import math

from mlps.results import kv_cache, vector_database


def mean(values) -> float | None:
    values = list(values)
    return math.fsum(values) / len(values) if values else None


def pstdev(values) -> float | None:
    """Population standard deviation (numpy's default, ddof 0)."""
    values = list(values)
    if not values:
        return None
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / len(values))


def coefficient_of_variation(values) -> float | None:
    """Population std / mean, or None for fewer than two values or a zero mean."""
    values = list(values)
    if len(values) < 2:
        return None
    centre = mean(values)
    return None if not centre else pstdev(values) / centre


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- v1.0 workload report ----------------------------------------------------------------------
def v1_report(leaves, model: str | None, accelerator: str | None) -> dict:
    """The `mlperf_storage_report.json` a set of measured run leaves gives."""
    runs = {}
    for leaf in leaves:
        metric = leaf.metric
        runs[leaf.name] = {
            "train_throughput_samples_per_second": _number(metric.get("train_throughput_mean_samples_per_second")),
            "train_throughput_MB_per_second": _number(metric.get("train_io_mean_MB_per_second")),
            "train_num_accelerators": str(leaf.num_accelerators),
            "model": leaf.model or model,
            "accelerator": leaf.accelerator or accelerator,
            "num_files_train": leaf.num_files_train,
            "num_samples_per_file": leaf.samples_per_file,
        }
    samples = [r["train_throughput_samples_per_second"] for r in runs.values()]
    mbs = [r["train_throughput_MB_per_second"] for r in runs.values()]
    first = next(iter(runs.values()), {})
    complete_samples = bool(samples) and None not in samples
    complete_mbs = bool(mbs) and None not in mbs
    overall = {
        "model": first.get("model", model),
        "accelerator": first.get("accelerator", accelerator),
        "num_benchmark_runs": len(runs),
        "train_num_accelerators": first.get("train_num_accelerators"),
        "num_files_train": first.get("num_files_train"),
        "num_samples_per_file": first.get("num_samples_per_file"),
        "train_throughput_mean_samples_per_second": mean(samples) if complete_samples else None,
        "train_throughput_stdev_samples_per_second": pstdev(samples) if complete_samples else None,
        "train_throughput_mean_MB_per_second": mean(mbs) if complete_mbs else None,
        "train_throughput_stdev_MB_per_second": pstdev(mbs) if complete_mbs else None,
    }
    return {"overall": overall, "runs": runs}


def compare(published, computed, rel_tol: float = 1e-9, path: str = "") -> list:
    """Differences between a published figures document and ours: [(field, published, computed)].
    Numbers compare to a relative tolerance; other values exactly; only the published keys count."""
    diffs = []
    if isinstance(published, dict):
        if not isinstance(computed, dict):
            return [(path or ".", "an object", computed)]
        for key, value in published.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in computed:
                diffs.append((sub, value, None))
            else:
                diffs.extend(compare(value, computed[key], rel_tol, sub))
        return diffs
    pub_num, cmp_num = _number(published), _number(computed)
    if pub_num is not None and cmp_num is not None:
        if not math.isclose(pub_num, cmp_num, rel_tol=rel_tol, abs_tol=0.0):
            diffs.append((path, published, computed))
    elif str(published) != str(computed):
        diffs.append((path, published, computed))
    return diffs


# --- v3.0 training results ---------------------------------------------------------------------
def training_results(leaves) -> dict:
    """`train_mean_of_<x>` per metric list, Read B/W (GiB/s), client nodes and accelerators."""
    out: dict = {"measured_runs": len(leaves)}
    keys = []
    for leaf in leaves:
        for key, value in leaf.metric.items():
            if isinstance(value, list) and key.startswith("train_") and key not in keys:
                keys.append(key)
    empty = []
    for key in keys:
        per_leaf = []
        for leaf in leaves:
            values = [v for v in leaf.metric.get(key) or () if _number(v) is not None]
            if not values:
                empty.append(leaf.name)
                per_leaf = None
                break
            per_leaf.append(mean(values))
        out["train_mean_of_" + key[len("train_"):]] = mean(per_leaf) if per_leaf else None
    io = [_number(leaf.metric.get("train_io_mean_MB_per_second")) for leaf in leaves]
    out["read_bw_GiB_per_second"] = mean(io) / 1024 if io and None not in io else None
    throughput = [_number(leaf.metric.get("train_throughput_mean_samples_per_second")) for leaf in leaves]
    out["throughput_cv"] = coefficient_of_variation(throughput) if None not in throughput else None
    first = leaves[0] if leaves else None
    out["client_nodes"] = first.num_hosts if first else None
    out["simulated_accelerators"] = first.num_accelerators if first else None
    if empty:
        out["empty_metric_lists"] = sorted(set(empty))
    return out


# --- checkpointing -------------------------------------------------------------------------------
def checkpoint_results(leaves) -> dict:
    writes = [leaf for leaf in leaves if "save_checkpoint_io_mean_GB_per_second" in leaf.metric]
    reads = [leaf for leaf in leaves if "load_checkpoint_io_mean_GB_per_second" in leaf.metric]

    def avg(group, key):
        values = [_number(leaf.metric.get(key)) for leaf in group]
        return mean(values) if values and None not in values else None

    first = leaves[0] if leaves else None
    return {
        "write_bw_GiB_per_second": avg(writes, "save_checkpoint_io_mean_GB_per_second"),
        "write_duration_seconds": avg(writes, "save_checkpoint_duration_mean_seconds"),
        "read_bw_GiB_per_second": avg(reads, "load_checkpoint_io_mean_GB_per_second"),
        "read_duration_seconds": avg(reads, "load_checkpoint_duration_mean_seconds"),
        "checkpoint_size_GiB": _number(first.metric.get("checkpoint_size_GB")) if first else None,
        "client_nodes": first.num_hosts if first else None,
        "processes": first.num_accelerators if first else None,
    }


# --- KV cache (recomputed from the rank files, mlps.results.kv_cache) ------------------------------
KV_FIELDS = ("aggregated_avg_throughput_tokens_per_sec", "aggregated_read_bandwidth_gbps",
             "aggregated_write_bandwidth_gbps", "aggregated_p95_latency_ms",
             "aggregated_storage_throughput_tokens_per_sec", "aggregated_device_read_p95_ms",
             "aggregated_device_write_p95_ms", "aggregated_storage_read_p95_ms")
KV_VIEWS = ("per_trial", "per_rank_p95", "cache_hit_rate_mean", "tier_read_share", "rank_count", "trial_count",
            "partial_failure", "missing_files", "cpu_tier_ranks")


KV_NOT_RESULTS = ("running", "failed", "timed_out", "interrupted", "skipped")


def _kv_error_free(leaf) -> bool:
    summary = leaf.summary if isinstance(leaf.summary, dict) else {}
    return not summary.get("partial_failure") and not summary.get("trial_failures")


def kv_results(leaves) -> dict:
    """Per-Option figures of a KV-cache workload: from its latest error-free run leaf (else its latest),
    recomputed from the rank files when the leaf has them, else copied from its summary.json
    (`source` says which). `option_<O>` holds the table's figures, the labelled P95s and the views
    the report draws (bandwidth per trial, P95 per rank, tier shares of the bytes read)."""
    leaves = [leaf for leaf in leaves if not isinstance(leaf.metadata, dict)
              or leaf.metadata.get("status") not in KV_NOT_RESULTS]
    if not leaves:
        return {}
    clean = [leaf for leaf in leaves if _kv_error_free(leaf)]
    leaf = (clean or leaves)[-1]
    summary = kv_cache.recompute(leaf)
    source = "rank files"
    if summary is None:
        summary, source = (leaf.summary if isinstance(leaf.summary, dict) else {}), "summary.json"
    options = summary.get("options")
    if not isinstance(options, dict):
        return {}
    out: dict = {"from_leaf": leaf.name, "source": source, "client_nodes": summary.get("host_count"),
                 "total_ranks": summary.get("total_ranks"), "npernode": summary.get("npernode"),
                 "partial_failure": summary.get("partial_failure")}
    for key, opt in sorted(options.items(), key=lambda item: str(item[0])):
        if isinstance(opt, dict):
            figures = {f: _number(opt.get(f)) for f in KV_FIELDS}
            figures.update({v: opt[v] for v in KV_VIEWS if v in opt})
            out[f"option_{key}"] = figures
    return out


# --- VectorDB (the v3.0 table reads ONE run leaf: the first found, not a mean over the five) ---------------
RECALL_BINS = 10                      # recall@10 takes 11 values (0, 0.1, ... 1): one bar each, 1.0 in the last


def _whole(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None and math.isfinite(number) and number.is_integer() else None


def _vdb_disk_io(leaf) -> dict:
    """disk_io of the leaf's summary, else of its first statistics file that has one."""
    summary = leaf.summary if isinstance(leaf.summary, dict) else {}
    if isinstance(summary.get("disk_io"), dict):
        return summary["disk_io"]
    found = getattr(leaf, "vdb", None)
    for _sub, stats in (found.statistics if found is not None else ()):
        if isinstance(stats.get("disk_io"), dict):
            return stats["disk_io"]
    return {}


def _per_query_recall(leaf) -> list:
    found = getattr(leaf, "vdb", None)
    for _sub, stats in (found.statistics if found is not None else ()):
        block = stats.get("recall")
        values = block.get("per_query_recall") if isinstance(block, dict) else None
        if isinstance(values, list):
            return [v for v in values if _number(v) is not None and 0 <= v <= 1]
    return []


def recall_histogram(values: list, bins: int = RECALL_BINS) -> list[int]:
    """Counts of per-query recalls in `bins + 1` bars: [0, 1/bins), ... and exactly 1 in the last."""
    counts = [0] * (bins + 1)
    for value in values:
        counts[min(bins, int(round(value * bins, 9)))] += 1
    return counts


def _vdb_run(leaf) -> dict:
    summary = leaf.summary if isinstance(leaf.summary, dict) else {}
    recall = vector_database.reduced_recall(summary.get("recall"))
    out = {"leaf": leaf.name, "recall": _number(recall)}
    for key in ("throughput_qps", "query_count", "total_time_seconds", "mean_latency_ms", "median_latency_ms",
                "p95_latency_ms", "p99_latency_ms", "p999_latency_ms", "p9999_latency_ms"):
        out[key] = _number(summary.get(key))
    return out


def vdb_results(leaves, datagen=()) -> dict:
    """The VDB columns of the results table from the first run leaf (QPS, p99 latency, recall %, read B/W
    and client nodes from its disk_io, vector count, dimension, index), plus every run's figures and the
    recall histogram of the first run whose statistics keep per-query recalls (for the report). A run
    summary rebuilt from a statistics file lacks the collection's size: the last datagen's is used."""
    leaves = [leaf for leaf in leaves if not isinstance(leaf.metadata, dict)
              or leaf.metadata.get("status") not in KV_NOT_RESULTS]
    leaf = leaves[0] if leaves else None
    summary = (leaf.summary if isinstance(leaf.summary, dict) else {}) if leaf else {}
    loaded = [d.summary for d in datagen if isinstance(d.summary, dict)]
    if loaded:
        summary = {key: loaded[-1][key] for key in ("num_vectors", "dimension", "index_type")
                   if key in loaded[-1]} | summary
    recall = _number(vector_database.reduced_recall(summary.get("recall")))
    disk = _vdb_disk_io(leaf) if leaf else {}
    read_bps = _number(disk.get("total_bytes_read_per_sec"))
    hosts = disk.get("host_count")
    out = {
        "queries_per_second": _number(summary.get("throughput_qps")),
        "query_latency_p99_ms": _number(summary.get("p99_latency_ms")),
        "recall_percent": recall * 100 if recall is not None else None,
        "read_bw_GiB_per_second": read_bps / 2**30 if read_bps is not None else None,
        "client_nodes": hosts if isinstance(hosts, int) and not isinstance(hosts, bool) else None,
        "vector_count": _whole(summary.get("num_vectors")), "dimension": _whole(summary.get("dimension")),
        "index_type": summary.get("index_type") if isinstance(summary.get("index_type"), str) else None,
        "from_leaf": leaf.name if leaf else None,
        "runs": [_vdb_run(run) for run in leaves],
    }
    for run in leaves:
        values = _per_query_recall(run)
        if values:
            out["recall_histogram"] = {"leaf": run.name, "queries": len(values), "counts": recall_histogram(values)}
            break
    return out
