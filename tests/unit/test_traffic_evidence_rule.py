"""MLPS-STORAGE-TRAFFIC: bytes read from the data device (sampler series) against DLIO's bytes."""

from __future__ import annotations

import json
from datetime import datetime

from mlps.cluster import build_cluster
from mlps.rulebook.findings import Outcome
from mlps.rulebook.rules.traffic_evidence import device_bytes_read
from mlps.rulebook.verify import verify
from tests.unit.test_report_builders import facts, write_timeseries
from tests.unit.test_rules_synthetic import build_training_workload, edit_json, write_json

RECORD = 146_600_628


def block_facts(host):
    doc = facts(host, data_path="/data/unet3d")
    doc["paths"] = {"/data/unet3d": {"path": "/data/unet3d", "exists": True, "mountpoint": "/data",
                                     "fstype": "xfs", "device": "/dev/vda", "total_bytes": 2**40}}
    return doc


def tree(tmp_path, *, nfs=False, match=False):
    workload = build_training_workload(tmp_path, accels=16, hosts=2, files=56_000)
    cluster = build_cluster([facts("h1") if nfs else block_facts("h1"), facts("h2") if nfs else block_facts("h2")],
                            data_path="/mnt/data" if nfs else "/data/unet3d", results_path="/results")
    for leaf in sorted((workload / "run").glob("2*")):
        summary = json.loads((leaf / "summary.json").read_text())
        paths = write_timeseries(leaf, datetime.fromisoformat(summary["start"]),
                                 datetime.fromisoformat(summary["end"]), hosts=("h1", "h2"))
        write_json(leaf / "cluster_info.json", cluster.to_dict())
        if match:                          # a dataset whose every byte came from the device
            files = round(sum(device_bytes_read(p, "vda") for p in paths) / (5 * RECORD))
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


def test_network_filesystem_is_not_judged(tmp_path):
    result = tree(tmp_path, nfs=True)
    assert found(result, Outcome.WARNING) == [] and found(result, Outcome.INFO) == []
    assert result.rules["MLPS-STORAGE-TRAFFIC"]["evaluated"] == 1
