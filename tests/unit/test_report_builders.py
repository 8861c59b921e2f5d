"""Synthetic campaign trees for the report: the valid training tree of test_rules_synthetic plus
what the campaign adds to each run leaf (per-epoch times, `training_<ts>_timeseries/<host>.jsonl`
samples, metadata) and a cluster_info.json. benchmarks/bench_report.py builds its 1,000 leaves
with these too. The tests here check the builders give what the report reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlps.cluster import build_cluster, write_cluster_info
from mlps.results.reader import read_tree
from mlps_module_utils.mlps_timeseries import SCHEMA, rates, read_jsonl
from tests.unit.test_rules_synthetic import RUN_SECONDS, build_training_workload, write_json

TZ_OFFSET = 3600.0           # the synthetic DLIO clock is UTC+1: naive local = Unix time + 1 h
SECTOR = 512
MIB = 2**20


def unix(naive: datetime) -> float:
    """Unix time of a naive DLIO timestamp written in UTC+1."""
    return naive.replace(tzinfo=UTC).timestamp() - TZ_OFFSET


def sample(host: str, seq: int, wall: float, *, read_mib: float, write_mib: float, rx_mib: float, busy: float,
           cached_gib: float, totals: dict, dt: float) -> str:
    """One mlps-timeseries/1 line whose counters advanced by the given per-second rates over dt s."""
    totals["read"] += int(read_mib * MIB / SECTOR * dt)
    totals["write"] += int(write_mib * MIB / SECTOR * dt)
    totals["rx"] += int(rx_mib * MIB * dt)
    totals["busy"] += int(busy * dt)
    totals["idle"] += int((100 - busy) * dt)
    counters = {
        "diskstats": {"vda": {"sectors_read": totals["read"], "sectors_written": totals["write"],
                              "reads_completed": totals["read"] // 8, "writes_completed": totals["write"] // 8}},
        "net_dev": {"eth0": {"rx_bytes": totals["rx"], "tx_bytes": totals["rx"] // 20},
                    "lo": {"rx_bytes": 0, "tx_bytes": 0}},
        "stat_cpu": {"cpu": {"user": totals["busy"], "system": 0, "idle": totals["idle"], "iowait": 0}},
        "meminfo": {"Cached": int(cached_gib * 2**30), "MemTotal": 64 * 2**30},
        "vmstat": {}, "stat": {},
    }
    return json.dumps({"schema": SCHEMA, "host": host, "wall": round(wall, 3), "mono": round(wall - 1.7e9, 3),
                       "seq": seq, "counters": counters}, separators=(",", ":")) + "\n"


def write_timeseries(leaf: Path, start: datetime, end: datetime, hosts=("h1", "h2"), interval: float = 10.0,
                     epochs: int = 5, folder: str | None = None, slow=()) -> list[Path]:
    """Per-host JSONL over the run (sampler started 3 s before DLIO, stopped 2 s after), with reads
    during each epoch and little between; hosts in `slow` read and receive a tenth as much at 98 %
    CPU. Returns the files written."""
    folder = folder or f"training_{leaf.name}_timeseries"
    t0, t1 = unix(start) - 3, unix(end) + 2
    span = (t1 - t0) / epochs
    paths = []
    for index, host in enumerate(hosts):
        totals = dict.fromkeys(("read", "write", "rx", "busy", "idle"), 0)
        lines, seq, wall = [], 0, t0
        while wall <= t1:
            phase = ((wall - t0) % span) / span
            busy_epoch = phase < 0.85
            share = 0.1 if host in slow else 1.0
            lines.append(sample(host, seq, wall, read_mib=share * ((400 + 40 * index) if busy_epoch else 5),
                                write_mib=3 + index, rx_mib=share * ((380 if busy_epoch else 2) + 10 * index),
                                busy=98 if host in slow else 70 if busy_epoch else 15,
                                cached_gib=min(40, 2 + (wall - t0) / 20),
                                totals=totals, dt=interval))
            seq += 1
            wall += interval
        path = leaf / folder / f"{host}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines))
        paths.append(path)
    return paths


def write_epochs(leaf: Path, start: datetime, end: datetime, epochs: int = 5) -> None:
    """0_per_epoch_stats.json with epochs spread evenly over the run (DLIO's naive local times)."""
    span = (end - start) / epochs
    write_json(leaf / "0_per_epoch_stats.json", {
        str(e + 1): {"start": (start + span * e).isoformat(), "end": (start + span * (e + 1)).isoformat(),
                     "duration": str(span.total_seconds())} for e in range(epochs)})


def facts(host: str, data_path: str = "/mnt/data") -> dict:
    """A small mlps-host-facts/1 document (enough for the cluster model and the system file)."""
    return {"schema": "mlps-host-facts/1", "hostname": host, "machine_id": f"id-{host}",
            "collected_at": "2026-01-05T08:00:00Z", "collection_method": "ssh", "root": "/",
            "kernel": {"release": "6.1.0-18-amd64"}, "os_release": {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"},
            "meminfo": {"MemTotal": 64 * 2**30},
            "cpuinfo": {"summary": {"model": "AMD EPYC 7543 32-Core Processor", "architecture": "x86_64",
                                    "sockets": 2, "physical_cores": 64, "logical_cpus": 128}},
            "net_dev": {"lo": {}, "eth0": {}}, "net_mtu": {"lo": 65536, "eth0": 9000},
            "mounts": [{"device": "server:/export", "mountpoint": "/mnt", "fstype": "nfs4",
                        "options": ["rw", "vers=4.2"]}],
            "paths": {data_path: {"path": data_path, "exists": True, "mountpoint": "/mnt", "fstype": "nfs4",
                                  "device": "server:/export", "total_bytes": 100 * 2**40}},
            "errors": {}}


def build_campaign_tree(tmp: Path, *, runs: int = 6, hosts=("h1", "h2"), interval: float = 10.0,
                        cluster_info: bool = True, system: str = "sys1", slow=()) -> Path:
    """A valid training workload as the campaign leaves it, with time series and epochs per run.
    Returns the results root (the folder holding closed/)."""
    workload = build_training_workload(tmp, runs=runs, hosts=len(hosts))
    if system != "sys1":
        target = workload.parents[2] / system
        workload.parents[1].rename(target)
        workload = target / "training" / workload.name
    for leaf in sorted((workload / "run").iterdir()):
        if not leaf.is_dir():
            continue
        summary = json.loads((leaf / "summary.json").read_text())
        start, end = datetime.fromisoformat(summary["start"]), datetime.fromisoformat(summary["end"])
        write_epochs(leaf, start, end)
        write_timeseries(leaf, start, end, hosts=hosts, interval=interval, slow=slow)
    if cluster_info:
        cluster = build_cluster([facts(h) for h in hosts], data_path="/mnt/data", results_path="/results",
                                created_at="2026-01-05T08:00:00Z")
        write_cluster_info(workload / "cluster_info.json", cluster)
    return tmp


# --- the builders give what the report reads --------------------------------------------------------
def test_campaign_tree_has_series_epochs_and_cluster_info(tmp_path):
    root = build_campaign_tree(tmp_path)
    tree = read_tree(root)
    (workload,) = tree.workloads
    runs = workload.runs
    assert len(runs) == 6
    leaf = runs[0]
    files = sorted((leaf.path / f"training_{leaf.name}_timeseries").glob("*.jsonl"))
    assert [f.name for f in files] == ["h1.jsonl", "h2.jsonl"]
    samples, skipped = read_jsonl(str(files[0]))
    assert skipped == 0 and len(samples) == int((RUN_SECONDS + 5) / 10) + 1
    steps = rates(samples)
    assert max(s["disk_total"]["read_bytes_per_s"] for s in steps) == 400 * MIB
    assert len(leaf.per_epoch) == 5
    assert leaf.cluster_info["schema"] == "mlps-cluster-info/1"


def test_series_start_three_seconds_before_dlio_in_unix_time(tmp_path):
    root = build_campaign_tree(tmp_path, runs=2)
    leaf = read_tree(root).workloads[0].runs[0]
    samples, _ = read_jsonl(str(next((leaf.path / f"training_{leaf.name}_timeseries").glob("h1.jsonl"))))
    assert samples[0]["wall"] == unix(leaf.start) - 3
    assert leaf.start - timedelta(seconds=0) == datetime.fromisoformat(leaf.per_epoch["1"]["start"])
