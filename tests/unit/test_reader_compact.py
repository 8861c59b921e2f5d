"""The reader keeps one parsed object per distinct cluster_info.json and drops the fact dumps and
metadata no rule reads; what the rules read is untouched."""

from __future__ import annotations

import json
import os

import pytest

from mlps.jsonio import ReadError, read_bytes
from mlps.results import compact
from mlps.results.reader import read_tree
from tests.unit.test_report_builders import build_campaign_tree, facts


def _with_dumps(host: str) -> dict:
    return {**facts(host), "mountinfo": [{"mount_id": 1}], "vmstat": {"pgfault": 1}, "diskstats": {"vda": {}},
            "cgroups": {"cpu": {}}}


def test_identical_cluster_info_files_are_one_object_without_the_dumps(tmp_path):
    root = build_campaign_tree(tmp_path, runs=3, cluster_info=False)
    doc = {"schema": "mlps-cluster-info/1", "data_path": "/mnt/data", "results_path": "/results",
           "hosts": [{"hostname": h, "facts": _with_dumps(h)} for h in ("h1", "h2")]}
    runs = sorted(p for p in root.rglob("run/*") if p.is_dir())
    for leaf in runs:
        (leaf / "cluster_info.json").write_text(json.dumps(doc, indent=1))
    other = dict(doc, data_path="/mnt/other")
    (runs[-1] / "cluster_info.json").write_text(json.dumps(other))
    leaves = {leaf.path: leaf for leaf in read_tree(root).leaves}
    first, second, last = (leaves[p].cluster_info for p in runs)
    assert first is second and first is not last
    assert last["data_path"] == "/mnt/other"
    kept = first["hosts"][0]["facts"]
    assert not compact.FACT_DUMPS & kept.keys()
    assert kept["meminfo"] == {"MemTotal": 64 * 2**30} and kept["mounts"] and kept["paths"]


def test_metadata_keeps_what_the_rules_read():
    doc = {"status": "completed", "args": {"a": 1}, "plan": {"x": 1}, "argv": ["dlio"], "progress": {}}
    assert compact.metadata(doc) == {"status": "completed", "args": {"a": 1}}
    assert compact.metadata(None) is None and compact.cluster_info([1]) == [1]


def test_shared_remembers_only_the_recent_documents():
    shared = compact.Shared()
    keys = [shared.key(str(i).encode()) for i in range(compact.REMEMBERED + 1)]
    for index, key in enumerate(keys):
        shared.put(key, {"n": index})
    assert shared.get(keys[0]) is None and shared.get(keys[-1]) == {"n": compact.REMEMBERED}


def test_read_bytes_from_a_folder_descriptor_never_follows_a_link(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "out.json").symlink_to("/etc/hostname")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_bytes(tmp_path / "a.json", dir_fd=fd) == b"{}"
        with pytest.raises(ReadError) as refused:
            read_bytes(tmp_path / "out.json", dir_fd=fd)
    finally:
        os.close(fd)
    assert refused.value.kind == "symlink"


def test_a_link_inside_the_tree_is_still_read_and_one_leaving_it_is_not(tmp_path):
    root = build_campaign_tree(tmp_path, runs=2, cluster_info=False)
    first, second = sorted(p for p in root.rglob("run/*") if p.is_dir())
    (first / "shared_fs.json").write_text('{"hosts": {}}')
    for name in ("shared_fs.json", "provenance.json"):
        (second / name).unlink(missing_ok=True)
    (second / "shared_fs.json").symlink_to(first / "shared_fs.json")
    (second / "provenance.json").symlink_to("/etc/hostname")
    leaves = {leaf.path: leaf for leaf in read_tree(root).leaves}
    assert leaves[second].shared_fs == {"hosts": {}}
    assert any(p.kind == "symlink" and p.path.endswith("provenance.json") for p in leaves[second].problems)


def test_identical_configs_are_parsed_once_and_a_broken_one_is_named_in_each_leaf(tmp_path):
    root = build_campaign_tree(tmp_path, runs=3, cluster_info=False)
    runs = sorted(p for p in root.rglob("run/*") if p.is_dir())
    leaves = {leaf.path: leaf for leaf in read_tree(root).leaves}
    first, second, _third = (leaves[p] for p in runs)
    assert first.config and first.config is second.config
    assert first.overrides != second.overrides           # each names its own output folder: never shared
    for leaf in runs[1:]:
        (next(leaf.glob("*/config.yaml"))).write_text("workload: [unclosed\n")
    leaves = {leaf.path: leaf for leaf in read_tree(root).leaves}
    for path in runs[1:]:
        assert leaves[path].config is None
        assert [p.kind for p in leaves[path].problems if p.path.endswith("config.yaml")] == ["unparsable"]
