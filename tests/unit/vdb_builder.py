"""Synthetic VectorDB workloads for the tests: a datagen leaf (load.json, ground_truth.json,
summary.json) and run leaves with rank_<N>/queries.csv, rank.json and result_ids.json, summarised
with mlps.results.vector_database as our campaign does."""

from __future__ import annotations

import json
from pathlib import Path

from mlps.results import vector_database as vdb

BASE_TIME = 1_767_225_600.0
QUERIES = 20
K = 10


def stamp(index: int) -> str:
    return f"20260101_01{index:02d}00"


def load_doc(**over) -> dict:
    doc = {"schema": vdb.LOAD_SCHEMA, "engine": "milvus", "server_version": "2.3.5", "collection": "mlps_vdb",
           "num_vectors": 1_000_000, "dimension": 1536, "inserted_vectors": 1_000_000, "index_type": "DISKANN",
           "index_params": {"max_degree": 64, "search_list_size": 200}, "metric_type": "COSINE",
           "compacted": True, "timings": {"generate_s": 1.0, "insert_s": 2.0, "flush_s": 0.5, "index_s": 3.0,
                                          "compact_s": 0.2, "load_s": 0.3, "ground_truth_s": 0.4},
           "ground_truth": {"method": "flat_copy", "k": K, "num_queries": QUERIES, "coverage": 1.0,
                            "total_vectors": 1_000_000, "copied_vectors": 1_000_000},
           "seed": 1, "query_seed": 42}
    doc.update(over)
    return doc


def ground_truth() -> dict:
    return {"k": K, "ids": [[q * 100 + j for j in range(K)] for q in range(QUERIES)]}


def metadata(command: str, name: str, **over) -> dict:
    meta = {"benchmark_type": "vector_database", "command": command, "status": "completed", "run_datetime": name,
            "parameters": {"database": {"database": "milvus"},
                           "index": {"index_type": "DISKANN", "metric_type": "COSINE"},
                           "run": {"mode": "timed", "runtime": 60},
                           "storage": {"storage_root": "/data/vdb", "storage_type": "file"},
                           "workflow": {"compact": True}},
            "override_parameters": {"run.num_query_processes": 2},
            "args": {"results_dir": "/results"},
            "fs_separation": {"data_path": "/data/vdb", "results_path": "/results", "data_fs": "/dev/sdb",
                              "results_fs": "/dev/sda", "same_filesystem": False}}
    meta.update(over)
    return meta


def put(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def queries_csv(rank: int, rows: int = 62) -> str:
    """A batch every second for a minute; batch sizes 1-2 and times that vary with rank and row."""
    lines = [vdb.QUERIES_HEADER]
    for i in range(rows):
        lines.append(f"{BASE_TIME + i + 0.25 * rank},{1 + (i % 2)},{0.002 * (1 + (i + rank) % 7)}")
    return "\n".join(lines) + "\n"


def result_ids(rank: int, hits: int) -> dict:
    """Answers for every query: the first `hits` (plus the query's number mod 3) ids are right."""
    ids = {}
    for q in range(QUERIES):
        right = min(K, hits + q % 3)
        ids[str(q)] = [q * 100 + j for j in range(right)] + [10**6 + j for j in range(K - right)]
    return {"k": K, "ids": ids}


def series(leaf: Path, hosts: int = 2) -> None:
    """One sample a second per host around the queries: each host's disk reads 1 MiB/s and writes 0.5 MiB/s."""
    for host in range(hosts):
        lines = []
        for second in range(-1, 64):
            done = second + 1
            counters = {"diskstats": {"sda": {"sectors_read": 2048 * done, "sectors_written": 1024 * done,
                                              "reads_completed": done, "writes_completed": done}}}
            lines.append(json.dumps({"schema": "mlps-timeseries/1", "host": f"h{host}", "wall": BASE_TIME + second,
                                     "mono": 100.0 + second, "seq": second + 1, "counters": counters}))
        put(leaf / "vector_database_timeseries" / f"h{host}.jsonl", "\n".join(lines) + "\n")


def write_run(leaf: Path, load: dict, *, ranks: int = 2, hits: int = 8, verdict_inputs=None,
              with_series: bool = False) -> dict:
    if with_series:
        series(leaf)
    for rank in range(ranks):
        put(leaf / f"rank_{rank}" / vdb.QUERIES_NAME, queries_csv(rank))
        put(leaf / f"rank_{rank}" / vdb.RANK_NAME, {"rank": rank, "hostname": f"h{rank}"})
        put(leaf / f"rank_{rank}" / vdb.RESULT_IDS_NAME, result_ids(rank, hits))
    stats = vdb.pool_ranks(leaf)
    block = vdb.recall(leaf, ground_truth(), K)
    return vdb.write_run_summary(leaf, stats, block, load, verdict_inputs)


def build_vdb_workload(root: Path, *, division: str = "closed", runs: int = 5, load_over: dict | None = None,
                       meta_over: dict | None = None, hits: int = 8, engine: str = "milvus",
                       index: str = "DISKANN", with_series: bool = False) -> Path:
    """<root>/<division>/Org/results/sys1/vector_database/<engine>/<index>/{datagen,run}/<ts>/; returns the
    workload folder."""
    workload = root / division / "Org" / "results" / "sys1" / "vector_database" / engine / index
    load = load_doc(**(load_over or {}))
    datagen = workload / "datagen" / stamp(0)
    datagen.mkdir(parents=True)
    put(datagen / vdb.LOAD_NAME, load)
    put(datagen / vdb.GROUND_TRUTH_NAME, ground_truth())
    vdb.write_datagen_summary(datagen, load)
    put(datagen / f"vector_database_{stamp(0)}_metadata.json", metadata("datagen", stamp(0), **(meta_over or {})))
    for number in range(1, runs + 1):
        leaf = workload / "run" / stamp(number)
        leaf.mkdir(parents=True)
        write_run(leaf, load, hits=hits, with_series=with_series)
        put(leaf / f"vector_database_{stamp(number)}_metadata.json",
            metadata("run", stamp(number), **(meta_over or {})))
    return workload
