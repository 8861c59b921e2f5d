"""The figures a workload publishes, recomputed from its run summaries (rule book §3.3.8
and §4.3.6, computed as the published v3.0 results table does).

- v1.0 `mlperf_storage_report.json`: per run the summary's epoch means; overall the mean of those
  run means and their population standard deviation (ddof 0).
- v3.0 `run/results.json` (training): `train_mean_of_<x>` = mean over the measured leaves of the
  mean over epochs of `metric.train_<x>[]`; Read B/W (GiB/s) = mean of `train_io_mean_MB_per_second` / 1024.
- checkpointing: mean of the write-phase (read-phase) leaves' save_* (load_*) figures.
- KV-cache: the run summary recomputed from the rank files (mlps.results.kv_cache).
Means are exact-sum arithmetic means (math.fsum), as `statistics.fmean`.
"""

from __future__ import annotations

import math

from mlps.results import kv_cache


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


def vdb_results(leaves) -> dict:
    leaf = leaves[0] if leaves else None
    summary = (leaf.summary or {}) if leaf else {}
    recall = summary.get("recall")
    if isinstance(recall, dict):
        recall = recall.get("mean_recall")
    return {
        "queries_per_second": _number(summary.get("throughput_qps")),
        "query_latency_p99_ms": _number(summary.get("p99_latency_ms")),
        "recall_percent": _number(recall) * 100 if _number(recall) is not None else None,
        "from_leaf": leaf.name if leaf else None,
    }
