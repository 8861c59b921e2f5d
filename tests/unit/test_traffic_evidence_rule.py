"""MLPS-STORAGE-TRAFFIC: bytes read from the data device (sampler series) against DLIO's bytes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from mlps.cluster import build_cluster
from mlps.rulebook.findings import Outcome
from mlps.rulebook.rules.traffic_evidence import series_bytes
from mlps.rulebook.verify import verify
from tests.unit.test_report_builders import facts, write_timeseries
from tests.unit.test_rules_synthetic import build_training_workload, edit_json, write_json

RECORD = 146_600_628


def block_facts(host):
    doc = facts(host, data_path="/data/unet3d")
    doc["paths"] = {"/data/unet3d": {"path": "/data/unet3d", "exists": True, "mountpoint": "/data",
                                     "fstype": "xfs", "device": "/dev/vda", "total_bytes": 2**40}}
    return doc


def fuse_facts(host, interfaces=("eth0",)):
    """Data on a filesystem that is neither a block device nor NFS: only the interface can tell."""
    doc = facts(host, data_path="/data/unet3d")
    doc["paths"] = {"/data/unet3d": {"path": "/data/unet3d", "exists": True, "mountpoint": "/data",
                                     "fstype": "fuse.s3fs", "device": "s3fs", "total_bytes": 2**40}}
    doc["net_mtu"] = {"lo": 65536, **dict.fromkeys(interfaces, 9000)}
    return doc


def add_nfs_counters(path, mountpoint="/mnt"):
    """The NFS mount's counters in every sample: server_read advances with the device's reads."""
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        sectors = record["counters"]["diskstats"]["vda"]["sectors_read"]
        counted = {"normal_read": sectors * 1024, "server_read": sectors * 512}
        record["counters"]["nfs"] = {mountpoint: {"device": "server:/export", "fstype": "nfs4", "bytes": counted}}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")


SOURCES = {"block": ("disk", "vda"), "nfs": ("nfs", "/mnt"), "net": ("net", "eth0")}


def tree(tmp_path, *, storage="block", match=False):
    """storage: block (xfs on /dev/vda), nfs (nfs4 with mountstats in the series), net (a FUSE mount:
    interface rx), none (a FUSE mount and two interfaces, none named: nothing to judge by)."""
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    make = {"block": block_facts, "nfs": facts, "net": fuse_facts,
            "none": lambda h: fuse_facts(h, ("eth0", "eth1"))}[storage]
    cluster = build_cluster([make("h1"), make("h2")], data_path="/mnt/data" if storage == "nfs" else "/data/unet3d",
                            results_path="/results")
    for leaf in sorted((workload / "run").glob("2*")):
        summary = json.loads((leaf / "summary.json").read_text())
        paths = write_timeseries(leaf, datetime.fromisoformat(summary["start"]),
                                 datetime.fromisoformat(summary["end"]), hosts=("h1", "h2"))
        if storage == "nfs":
            for path in paths:
                add_nfs_counters(path)
        write_json(leaf / "cluster_info.json", cluster.to_dict())
        if match:                          # a dataset whose every byte came from the source
            files = round(sum(series_bytes(p, *SOURCES[storage]) for p in paths) / (5 * RECORD))
            edit_json(leaf / "summary.json", lambda d, n=files: d.update(num_files_train=n))
    return verify(tmp_path)


def found(result, outcome):
    return [f for f in result.findings if f.rule_id == "MLPS-STORAGE-TRAFFIC" and f.outcome == outcome]


def test_run_served_from_cache_warns(tmp_path):
    hits = found(tree(tmp_path), Outcome.WARNING)
    assert len(hits) == 5 and "served from the page cache" in hits[0].message and hits[0].actual < 0.5


def test_run_read_from_the_device_is_recorded_as_info(tmp_path):
    result = tree(tmp_path, match=True)
    assert found(result, Outcome.WARNING) == []
    infos = found(result, Outcome.INFO)
    assert len(infos) == 5 and all(0.95 < f.actual < 1.05 for f in infos)


@pytest.mark.parametrize("storage", ["nfs", "net"])
def test_nfs_and_interface_runs_served_from_cache_warn(tmp_path, storage):
    hits = found(tree(tmp_path, storage=storage), Outcome.WARNING)
    via = {"nfs": "(NFS mount)", "net": "(interface rx)"}[storage]
    assert len(hits) == 5 and via in hits[0].message and hits[0].actual < 0.5


@pytest.mark.parametrize("storage", ["nfs", "net"])
def test_nfs_and_interface_runs_read_from_storage_are_info(tmp_path, storage):
    result = tree(tmp_path, storage=storage, match=True)
    assert found(result, Outcome.WARNING) == []
    infos = found(result, Outcome.INFO)
    assert len(infos) == 5 and all(0.95 < f.actual < 1.05 for f in infos)


def test_nfs_counts_bytes_from_the_server_not_page_cache_hits(tmp_path):
    # normal_read runs at twice server_read in these series: the INFO ratio of 1 says server_read was used
    infos = found(tree(tmp_path, storage="nfs", match=True), Outcome.INFO)
    assert infos and all(f.actual < 1.05 for f in infos)


def test_no_device_no_nfs_and_no_single_interface_is_not_judged(tmp_path):
    result = tree(tmp_path, storage="none")
    assert found(result, Outcome.WARNING) == [] and found(result, Outcome.INFO) == []
    assert result.rules["MLPS-STORAGE-TRAFFIC"]["evaluated"] == 1


def reshape_reads(path, factor):
    """Scale a host's block-device reads over the series (0: nothing reached the device)."""
    lines, first = [], None
    for line in path.read_text().splitlines():
        record = json.loads(line)
        counters = record["counters"]["diskstats"]["vda"]
        first = counters["sectors_read"] if first is None else first
        counters["sectors_read"] = first + round(factor * (counters["sectors_read"] - first))
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")


def test_each_host_is_judged_so_extra_reads_cannot_hide_a_cache_served_host(tmp_path):
    assert found(tree(tmp_path, match=True), Outcome.WARNING) == []        # both hosts read their share
    for leaf in sorted((tmp_path / "closed" / "Org" / "results" / "sys1" / "training" / "unet3d" / "run").glob("2*")):
        folder = leaf / f"training_{leaf.name}_timeseries"
        reshape_reads(folder / "h1.jsonl", 0.0)                            # h1: served from the page cache
        reshape_reads(folder / "h2.jsonl", 2.0)                            # h2: read double, the sum is unchanged
    result = verify(tmp_path)
    hits = found(result, Outcome.WARNING)
    assert len(hits) == 5 and found(result, Outcome.INFO) == []
    assert {h.host for h in hits} == {"h1"} and all(h.actual < 0.05 for h in hits)
    assert "1 of 2 host(s)" in hits[0].message and "h1 0.00 GiB" in hits[0].message and "h2" not in hits[0].message
    assert 1.9 < hits[0].extra["ratios"]["h2"] < 2.1
