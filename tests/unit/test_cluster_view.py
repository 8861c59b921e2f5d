"""Host order and the cluster view of the report's time series: 16 synthetic hosts (node1..node16),
every one inside the band or the total, the host that stands out drawn and named, natural order in
the tables; and the report built end to end on such a tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mlps import cli
from mlps.cluster import build_cluster, write_cluster_info
from mlps.natural_order import natural_items, natural_key, natural_sorted
from mlps.report import cluster_view, svg
from mlps.results.series import LeafSeries, series_files
from mlps.rulebook.verify import verify
from tests.unit.test_report_builders import build_campaign_tree, facts

NODES = [f"node{i}" for i in range(1, 17)]
T0 = 1_767_600_000.0
SAMPLES = 60


def test_natural_order_puts_node2_before_node10():
    shuffled = NODES[7:] + NODES[::-1][9:]                # node8..node16, then node7..node1
    assert natural_sorted(shuffled) == NODES
    assert sorted(shuffled) != NODES                     # what lexical order gives instead
    assert natural_sorted(["rack2-node10", "rack10-node1", "rack2-node9"]) == \
        ["rack2-node9", "rack2-node10", "rack10-node1"]
    assert natural_sorted(["Node3", "node2", "node10"]) == ["node2", "Node3", "node10"]
    assert [k for k, _v in natural_items({"node10": 1, "node9": 2})] == ["node9", "node10"]
    assert natural_key("10node") < natural_key("node")   # digits first, never a str/int comparison error
    assert natural_sorted(["n" + "9" * 5000, "n10", "n007"]) == ["n007", "n10", "n" + "9" * 5000]


def test_cluster_hosts_and_series_files_are_in_natural_order(tmp_path):
    cluster = build_cluster([facts(h) for h in reversed(NODES)], data_path="/mnt/data")
    assert [h.hostname for h in cluster.hosts] == NODES
    folder = tmp_path / "training_x_timeseries"
    folder.mkdir()
    for host in NODES:
        (folder / f"{host}.jsonl").write_text("")
    assert [p.stem for p in series_files(tmp_path)] == NODES


def _run(values_of, *, start=T0, samples=SAMPLES, step=5.0) -> LeafSeries:
    """One run: every host's cpu_busy and disk_read from values_of(host, i)."""
    data = LeafSeries(leaf="run", start=start, end=start + step * (samples - 1))
    for host in NODES:
        points = [(start + step * i, values_of(host, i)) for i in range(samples)]
        data.hosts[host] = {"cpu_busy": points, "disk_read": points}
    return data


def _jitter(host: str, i: int) -> float:
    """About 50 on every host but node7 (95), each a little different and varying in time."""
    return 95.0 if host == "node7" else 50.0 + (NODES.index(host) % 5) + (i % 3)


def _binned_per_host(key: str, runs: list, count: int) -> dict:
    return {host: [v for data in runs
                   for v in cluster_view.binned(data.hosts[host][key], data.start, data.end, count)]
            for host in NODES}


def test_band_covers_every_host_and_the_outlier_is_drawn_and_named():
    runs = [_run(_jitter), _run(_jitter, start=T0 + 3600)]
    view = cluster_view.cluster_lines("cpu_busy", runs, NODES, points_per_run=SAMPLES)
    assert view.hosts == 16 and view.outliers == ["node7"]
    (label, band), = view.bands
    assert label == "min-max of 16"
    assert [name for name, _points in view.lines] == ["median of 16 hosts", "node7"]
    per_host = _binned_per_host("cpu_busy", runs, SAMPLES)
    kept = [(low, high) for _t, low, high in band if low is not None]
    assert len(kept) == 2 * SAMPLES
    for host, values in per_host.items():
        assert len(values) == len(kept)
        assert all(low <= v <= high for v, (low, high) in zip(values, kept, strict=True)), host
    # the band is exactly the extremes over all 16 hosts: node7 is its top, the lowest host its bottom
    assert all(high == 95.0 for _low, high in kept)
    assert min(low for low, _high in kept) == min(min(v) for v in per_host.values())
    medians = [v for _t, v in view.lines[0][1] if v is not None]
    assert all(50.0 <= m < 57.0 for m in medians)


def test_summed_series_is_the_total_of_every_host():
    runs = [_run(_jitter)]
    view = cluster_view.cluster_lines("disk_read", runs, NODES, points_per_run=SAMPLES)
    assert view.bands == [] and view.lines[0][0] == "total of 16 hosts"
    totals = [v for _t, v in view.lines[0][1] if v is not None]
    per_host = _binned_per_host("disk_read", runs, SAMPLES)
    assert totals == pytest.approx([sum(values) for values in zip(*per_host.values(), strict=True)])
    assert "node7" in [name for name, _points in view.lines]


def test_identical_hosts_never_stand_out_and_a_silent_host_does():
    assert cluster_view.standing_out({h: 50.0 for h in NODES}) == []
    noisy = {h: 50.0 + (i % 4) * 0.5 for i, h in enumerate(NODES)}       # within 10 % of the median
    assert cluster_view.standing_out(noisy) == []
    assert cluster_view.standing_out({**noisy, "node12": 0.0}) == ["node12"]
    assert cluster_view.standing_out({**noisy, "node3": 80.0, "node12": 0.0}) == ["node12", "node3"]


def test_a_host_missing_from_a_bin_holds_its_last_value_within_its_samples():
    points = [(0.0, 1.0), (10.0, 3.0)]
    assert cluster_view.binned(points, 0.0, 10.0, 5) == [1.0, 1.0, 1.0, 1.0, 3.0]
    assert cluster_view.binned([(4.0, 2.0)], 0.0, 10.0, 5) == [None, None, 2.0, None, None]


def test_a_small_cluster_keeps_one_line_per_host():
    hosts = NODES[:cluster_view.MAX_HOST_LINES]
    data = _run(_jitter)
    lines = cluster_view.per_host_lines("cpu_busy", [data], hosts)
    assert [name for name, _points in lines] == hosts


def test_band_is_drawn_under_its_median_line():
    view = cluster_view.cluster_lines("cpu_busy", [_run(_jitter)], NODES, points_per_run=SAMPLES)
    chart = svg.time_chart("CPU", "%", view.lines, [(T0, T0 + 5.0 * (SAMPLES - 1), "run 1", False)], [],
                           view.bands)
    assert chart.count('<polygon class="band"') == 1
    assert chart.index("<polygon") < chart.index("<polyline")
    assert ">median of 16 hosts<" in chart and ">node7<" in chart and ">min-max of 16<" in chart


# --- through the real report -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    return build_campaign_tree(tmp_path_factory.mktemp("many"), runs=3, hosts=tuple(NODES), slow=("node7",))


def test_report_of_sixteen_hosts_draws_the_cluster_and_names_the_outlier(many, tmp_path, capsys):
    assert cli.main(["report", str(many), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    page = (tmp_path / "report.html").read_text()
    assert "more host(s) not drawn" not in page
    assert "16 hosts (node1 to node16), drawn as one cluster" in page
    charts = re.findall(r'<svg class="chart".*?</svg>', page)
    series = [c for c in charts if re.search(r"aria-label=\"(Disk|Network|CPU|Page)", c)]
    assert len(series) == 5
    assert all(">total of 16 hosts<" in c or ">median of 16 hosts<" in c for c in series)
    cpu = next(c for c in series if 'aria-label="CPU busy"' in c)
    assert ">node7<" in cpu and "<polygon" in cpu
    assert "CPU busy: node7" in page
    # natural order in the tables: the system file lists the clients node1, node2, ... node16
    doc = yaml.safe_load((tmp_path / "closed/Org/systems/sys1.yaml").read_text())
    assert [n["hostname"] for n in doc["clients"]["nodes"]] == NODES
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert any(f["rule"] == "SYS-ACCEL-EQUAL" for f in verdict["findings"])   # 8 accelerators, 16 hosts


def test_verifier_lists_hosts_in_natural_order(tmp_path):
    """Data and results on one mount of every host (cluster_info.json the only evidence): one
    SYS-FS-SEPARATION finding per host, node1 to node16 in that order."""
    root = build_campaign_tree(tmp_path, runs=2, hosts=tuple(reversed(NODES)), cluster_info=False)
    for evidence in root.rglob("fs_separation.json"):
        evidence.unlink()
    (workload,) = {p.parent for p in root.rglob("run") if p.is_dir()}
    cluster = build_cluster([facts(h) for h in reversed(NODES)], data_path="/mnt/data",
                            results_path="/mnt/results", created_at="2026-01-05T08:00:00Z")
    write_cluster_info(workload / "cluster_info.json", cluster)
    findings = [f for f in verify(root).findings if f.rule_id == "SYS-FS-SEPARATION" and f.host]
    hosts = [f.host for f in findings]
    assert len(hosts) >= 16 and hosts == NODES * (len(hosts) // 16)     # per run leaf, node1 to node16


def test_report_of_two_hosts_keeps_per_host_lines(tmp_path, capsys):
    root = build_campaign_tree(tmp_path / "tree", runs=2)
    assert cli.main(["report", str(root), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    page = (tmp_path / "out/report.html").read_text()
    assert "one line per host" in page and "drawn as one cluster" not in page
    assert ">h1<" in page and ">h2<" in page and "<polygon" not in page
