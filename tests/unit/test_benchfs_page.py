"""The BenchFS + IOR figures (mlps.results.benchfs) recomputed from IOR's JSON in the leaves, and their view
in the HTML report (mlps.report.benchfs_page): a row per sweep point and a bandwidth plot."""

from __future__ import annotations

import json

from mlps.report import benchfs_page
from mlps.rulebook.verify import verify
from tests.unit.test_rules_benchfs import STAMP, leaf_of


def test_the_aggregate_reads_iors_summary_of_every_run(tmp_path):
    leaf = leaf_of(tmp_path)
    meta = leaf / f"benchfs_{STAMP}_metadata.json"
    record = json.loads(meta.read_text()) | {"parameters": {"transfer_size": "1m", "block_size": "4m", "np": 2}}
    meta.write_text(json.dumps(record))
    (leaf / "ior.json").write_text(json.dumps({"summary": [
        {"operation": "write", "bwMeanMIB": 512.0, "bwMaxMIB": 600.0, "OPsMean": 512.0},
        {"operation": "read", "bwMeanMIB": 2048.0, "OPsMean": 2048.0}]}))
    (workload,) = verify(tmp_path).workloads
    figures = workload["aggregate"]
    (run,) = figures["runs"]
    assert run["leaf"] == STAMP and run["transfer_size"] == "1m" and run["np"] == 2
    assert run["write_bw_MiBps"] == 512.0 and run["write_bw_max_MiBps"] == 600.0 and run["read_iops"] == 2048.0
    assert figures["read_bw_GiB_per_second"] == 2.0 and figures["write_bw_GiB_per_second"] == 0.5


def test_the_view_has_a_row_per_run_and_a_bandwidth_plot():
    runs = [{"leaf": "20260105_100000", "status": "completed", "transfer_size": "64k", "block_size": "1m", "np": 2,
             "write_bw_MiBps": 100.0, "read_bw_MiBps": 200.0, "write_iops": 1600.0, "read_iops": 3200.0},
            {"leaf": "20260105_100001<b>", "status": "completed", "transfer_size": "1m", "block_size": "1m", "np": 2,
             "write_bw_MiBps": 300.0, "read_bw_MiBps": None}]
    html = benchfs_page.runs_view({"runs": runs}, [])
    assert html.count("<tr>") == 3 and "<svg" in html and "IOR mean bandwidth" in html
    assert "3,200.0" in html and "&lt;b&gt;" in html and "<b>" not in html
    assert "Not an MLPerf Storage benchmark" in html
    assert benchfs_page.runs_view({"runs": []}, []) == ""
