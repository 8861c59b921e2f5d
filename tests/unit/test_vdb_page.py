"""The report of a VectorDB workload: its results-table row (rule book §7.3) and the HTML section
with QPS, latency percentiles and the recall distribution per run."""

from __future__ import annotations

import json
import re

import pytest

from mlps.report import vdb_page
from mlps.report.build import build
from mlps.results.figures import recall_histogram
from mlps.rulebook.verify import verify
from tests.unit.vdb_builder import build_vdb_workload, edit_json, stamp


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("vdb")
    workload = build_vdb_workload(root, with_series=True)
    out = root.parent / f"{root.name}-report"
    build(root, out)
    return workload, out


def test_the_table_row_reads_the_first_run(report):
    workload, out = report
    (row,) = json.loads((out / "results.json").read_text())
    first = json.loads((workload / "run" / stamp(1) / "summary.json").read_text())
    assert row["Benchmark Type"] == "VDB" and row["Model"] == ""
    assert row["VDB - Queries per Sec"] == first["throughput_qps"]
    assert row["VDB - Query Latency (ms)"] == first["p99_latency_ms"]
    assert row["VDB - Recall Percentage"] == pytest.approx(first["recall"] * 100)
    assert (row["VDB - Vector Count"], row["VDB - Vector Dimension"], row["VDB - Index Type"]) == (
        1_000_000, 1536, "DISKANN")
    # two hosts each reading 1 MiB/s during the queries
    assert row["VDB - # Client Nodes"] == 2 and first["disk_io"]["host_count"] == 2
    assert row["VDB - Read B/W (GiB/s)"] == pytest.approx(first["disk_io"]["total_bytes_read_per_sec"] / 2**30)
    assert row["VDB - Read B/W (GiB/s)"] == pytest.approx(2 * 2**20 / 2**30, rel=0.05)
    assert row["VDB - Storage IOPs"] == ""


def test_the_page_draws_every_run(report):
    _workload, out = report
    page = (out / "report.html").read_text()
    section = page[page.index("<h3>VectorDB runs</h3>"):]
    for title in ("Queries per second per run", "Query latency percentiles per run",
                  f"Per-query recall, run {stamp(1)} (40 queries)"):
        assert f'aria-label="{title}"' in section, title
    assert all(stamp(n) in section for n in range(1, 6))
    latency = section[section.index('aria-label="Query latency percentiles per run"'):]
    latency = latency[:latency.index("</svg>")]
    assert len(re.findall(r"<rect x=", latency)) == 5 * 4 + 4       # p50, p95, p99, p99.9 of five runs + legend
    for name in ("p50", "p95", "p99", "p99.9"):
        assert f">{name}</text>" in latency
    recall = section[section.index('aria-label="Per-query recall'):]
    recall = recall[:recall.index("</svg>")]
    # recalls 0.8, 0.9, 1.0 for 7, 7 and 6 of the 20 queries, answered by both ranks
    for label, count in (("0.8", "14.0"), ("0.9", "14.0"), ("1.0", "12.0")):
        assert f"<title>{label}: {count}</title>" in recall


def test_without_per_query_recall_the_page_says_so(tmp_path):
    workload = build_vdb_workload(tmp_path, runs=5)
    for number in range(1, 6):
        edit_json(workload / "run" / stamp(number) / "statistics.json",
                  lambda s: s["recall"].pop("per_query_recall"))
    out = tmp_path.parent / f"{tmp_path.name}-report"
    build(tmp_path, out)
    page = (out / "report.html").read_text()
    assert "no recall distribution" in page and 'aria-label="Queries per second per run"' in page


def test_values_a_chart_cannot_draw_are_counted():
    dropped: list = []
    html = vdb_page.runs_view({"runs": [{"leaf": "a", "throughput_qps": "fast", "p99_latency_ms": 1e300},
                                        {"leaf": "b", "throughput_qps": 5.0}], "from_leaf": "a"}, dropped)
    assert sum(dropped) == 2 and "Queries per second per run" in html


def test_recall_histogram_puts_each_tenth_in_its_bar():
    counts = recall_histogram([0.0, 0.1, 0.3, 0.30000000000000004, 1.0])
    assert counts == [1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 1]


def test_a_first_run_rebuilt_from_statistics_takes_the_size_from_the_datagen(tmp_path):
    workload = build_vdb_workload(tmp_path)
    (workload / "run" / stamp(1) / "summary.json").unlink()
    edit_json(workload / "run" / stamp(1) / "statistics.json", lambda s: s.pop("disk_io"))
    figures = verify(tmp_path).workloads[0]["aggregate"]
    assert (figures["vector_count"], figures["dimension"], figures["index_type"]) == (1_000_000, 1536, "DISKANN")
    assert figures["from_leaf"] == stamp(1) and figures["queries_per_second"] is not None
