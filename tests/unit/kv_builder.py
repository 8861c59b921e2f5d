"""Synthetic KV-cache run leaves for the tests: rank documents with the per-rank results fields,
our campaign's metadata, and summary.json written with mlps.results.kv_cache.aggregate."""

from __future__ import annotations

import json
from pathlib import Path

from mlps.results import kv_cache
from mlps.rulebook.workloads import KV_OPTIONS

STAMP = "20260101_010203"


def rank_doc(option: int, trial: int, rank: int, **summary_over) -> dict:
    """A rank's results: raw counters and samples at the top, the figures in `summary`."""
    read_bw = 1.25 * (rank + 1) + 0.1 * trial + option
    write_bw = 0.5 * (rank + 1) + 0.01 * trial
    tokens = 1000.0 + 10 * rank + trial + 100 * option
    cache = {
        "tier_storage_read_bandwidth_gbps": read_bw, "tier_storage_write_bandwidth_gbps": write_bw,
        "storage_read_device_p95_ms": 20.0 + rank + trial, "storage_write_device_p95_ms": 40.0 + rank,
        "storage_read_p95_ms": 25.0 + rank + trial, "cache_hit_rate": 0.4 + 0.1 * rank,
        "cache_hits": 40, "cache_misses": 60, "gpu_entries": 0, "cpu_entries": 3 if option == 2 else 0,
        "storage_entries": 12, "tier_gpu_kv_bytes_read_gb": 0.0,
        "tier_cpu_kv_bytes_read_gb": 1.0 if option == 2 else 0.0, "tier_storage_kv_bytes_read_gb": 3.0,
        "read_iops": 500, "write_iops": 90,
    }
    latency = {"mean": 5.0, "p50": 4.0, "p95": 10.0 + 1.5 * rank + trial, "p99": 30.0, "p999": 31.0,
               "p9999": 32.0}
    summary = {
        "elapsed_time": 300.0, "total_requests": 500, "total_tokens": tokens * 300,
        "requests_per_second": 500 / 300, "avg_throughput_tokens_per_sec": tokens,
        "total_storage_io_time": 120.0, "storage_throughput_tokens_per_sec": tokens * 300 / 120,
        "end_to_end_latency_ms": dict(latency), "storage_io_latency_ms": latency,
        "generation_latency_ms": dict(latency), "cache_stats": cache,
    }
    summary.update(summary_over)
    return {"requests_completed": 500, "total_tokens_generated": int(tokens * 300),
            "end_to_end_latencies": [0.01 * i for i in range(200)], "seed": 42 + rank, "rank": rank,
            "hostname": f"h{rank}", "summary": summary}


def metadata(hosts: int, npernode: int, trials: int, **over) -> dict:
    params = {str(o.option): {"model": o.model, "num_users": o.users, "duration": o.duration,
                              "gpu_mem_gb": o.gpu_mem_gb, "cpu_mem_gb": o.cpu_mem_gb,
                              "max_concurrent_allocs": o.max_concurrent_allocs,
                              "generation_mode": o.generation_mode, "seed": 42} for o in KV_OPTIONS.values()}
    meta = {
        "schema": kv_cache.METADATA_SCHEMA, "benchmark": "kv_cache", "benchmark_type": "kv_cache",
        "command": "run", "timestamp": STAMP, "run_datetime": STAMP, "status": "completed",
        "engine": "mlcommons", "engine_reason": "kv-cache.py found", "options": [1, 2, 3],
        "trials_per_option": trials, "seed": 42, "inter_option_delay": 90, "duration_scale": 1.0,
        "size_scale": 1.0, "parameters": params, "autoscaling": False, "config": None,
        "hosts": [f"h{i}" for i in range(hosts)], "host_count": hosts, "npernode": npernode,
        "num_processes": hosts * npernode, "cache_dir": "/cache", "fs_separation": {
            "cache_dir": "/cache", "results_dir": "/results", "same_filesystem": False},
        "trials": {f"option_{o}/trial_{t}": {"status": "completed", "started_at": "x", "ended_at": "y"}
                   for o in KV_OPTIONS for t in range(1, trials + 1)},
    }
    meta.update(over)
    return meta


def build_kv_leaf(root: Path, *, division: str = "closed", hosts: int = 2, npernode: int = 1, trials: int = 3,
                  meta_over: dict | None = None, doc=None, skip=(), write_metadata: bool = True) -> Path:
    """A run leaf under <root>/<division>/Org/results/sys1/kv_cache/llama3.1-8b/run/<STAMP>/.
    `doc(option, trial, rank)` makes a rank document (default rank_doc); locations in `skip` get no
    file; summary.json is what aggregate() gives for the files written."""
    leaf = root / division / "Org" / "results" / "sys1" / "kv_cache" / "llama3.1-8b" / "run" / STAMP
    leaf.mkdir(parents=True)
    meta = metadata(hosts, npernode, trials, **(meta_over or {}))
    results = []
    for option in KV_OPTIONS:
        for trial in range(1, trials + 1):
            for rank in range(hosts * npernode):
                if (option, trial, rank) in skip:
                    continue
                data = (doc or rank_doc)(option, trial, rank)
                rel = f"option_{option}/trial_{trial}/rank_{rank}/kvcache_results_{STAMP}.json"
                put(leaf / rel, data)
                results.append(kv_cache.RankResult(option, trial, rank, rel, kv_cache.compact(data)))
    summary = kv_cache.aggregate(results, npernode=npernode, host_count=hosts, total_ranks=hosts * npernode,
                                 trials_per_option=trials, run_datetime=STAMP,
                                 trial_failures=kv_cache.trial_failures_from_metadata(meta))
    put(leaf / "summary.json", summary)
    if write_metadata:
        put(leaf / f"kv_cache_{STAMP}_metadata.json", meta)
    return leaf


def put(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
