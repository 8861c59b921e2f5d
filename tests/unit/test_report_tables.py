"""Golden tests of the results table (MLCommons' "Results Table Structure v3.0") against the published
trees in tests/fixtures.

The v1.0 trees carry the submitters' own mlperf_storage_report.json: our Read B/W must equal their
published mean MB/s / 1024, and the row must agree with report_math on the same leaves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mlps import cli
from mlps.report.tables import COLUMNS, to_csv
from mlps.results import figures
from mlps.results.reader import read_tree

ROOT = Path(__file__).resolve().parents[2]
V1 = ROOT / "tests/fixtures/mlperf_results/storage_results_v1.0"
V3 = ROOT / "tests/fixtures/mlperf_results/storage_results_v3.0"
RULES_73 = (
    "Public ID, Organization, Division, Benchmark Type, Model, Name, Description, Type, Access Protocol, "
    "Availability, RU's, Integrated Client Storage (TiB), Usable Capacity (TiB)")


def expected_columns() -> list[str]:
    """The 54 names of "Results Table Structure v3.0" spelled out, independently of report_tables' own generation."""
    names = [c.strip() for c in RULES_73.split(",")]
    names += [f"Training - {c}" for c in ("Accelerator Type", "# Client Nodes", "Code", "Logs",
                                          "# Simulated Accelerators", "Read B/W (GiB/s)")]
    names += [f"Checkpointing - {c}" for c in ("Checkpoint Mode", "# Client Nodes", "DP Instances", "Code", "Logs",
                                               "Write B/W (GiB/s)", "Write Duration (secs)", "Read B/W (GiB/s)",
                                               "Read Duration (secs)")]
    names += [f"VDB - {c}" for c in ("# Client Nodes", "Code", "Logs", "Vector Count", "Vector Dimension",
                                     "Index Type", "Queries per Sec", "Query Latency (ms)", "Recall Percentage",
                                     "Storage IOPs", "Read B/W (GiB/s)")]
    names += [f"KVCache - {c}" for c in ("# Client Nodes", "Code", "Logs")]
    for group in ("llama3.1-8b Storage Only", "llama3.1-8b Storage + Mem", "llama3.1-70b Storage Only"):
        names += [f"KVCache {group} - {c}" for c in ("Throughput (tok/s)", "Read B/W (GiB/s)", "Write B/W (GiB/s)",
                                                     "P95 Read Latency (ms)")]
    return names


@pytest.fixture(scope="module")
def v1_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v1")
    assert cli.main(["report", str(V1), "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def v3_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v3")
    assert cli.main(["report", str(V3), "--out", str(out), "-q"]) == 0
    return out


def test_columns_are_the_54_of_rules_7_3_in_order():
    assert list(COLUMNS) == expected_columns()
    assert len(COLUMNS) == 54


def test_csv_and_json_have_the_columns_in_order(v1_report):
    with open(v1_report / "results.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == expected_columns()
    rows = json.loads((v1_report / "results.json").read_text())
    assert [list(row) for row in rows] == [expected_columns()] * len(rows)


def test_v1_training_rows_match_the_published_reports(v1_report):
    rows = {row["Name"]: row for row in json.loads((v1_report / "results.json").read_text())}
    assert set(rows) == {"Cray_C500_4xHDR200_1host", "Cray_ClusterStor_E1000_6xSlingShot200_5hosts",
                         "Micron_6500_Gen4_High_Capacity_NVMe"}
    tree = read_tree(V1)
    for workload in tree.workloads:
        row = rows[workload.system]
        published = json.loads((V1 / workload.report_file).read_text())["overall"]
        assert row["Training - Read B/W (GiB/s)"] == pytest.approx(
            published["train_throughput_mean_MB_per_second"] / 1024, rel=1e-12)
        assert row["Training - Read B/W (GiB/s)"] == figures.training_results(workload.runs)[
            "read_bw_GiB_per_second"]
        assert row["Training - # Simulated Accelerators"] == int(published["train_num_accelerators"])
        assert row["Organization"] == workload.org
        assert row["Division"] == "CLOSED"
        assert row["Benchmark Type"] == "Training"
        assert row["Training - Accelerator Type"] == workload.accelerator.upper()
        assert row["Training - Logs"] == {"text": "Logs", "href": workload.rel}
        assert all(row[c] == "" for c in COLUMNS if c.startswith(("Checkpointing", "VDB", "KVCache")))
    assert rows["Cray_ClusterStor_E1000_6xSlingShot200_5hosts"]["Model"] == "Unet3D"
    assert rows["Cray_ClusterStor_E1000_6xSlingShot200_5hosts"]["Training - # Client Nodes"] == 5
    assert rows["Cray_C500_4xHDR200_1host"]["Training - Read B/W (GiB/s)"] == pytest.approx(3.4837518983, rel=1e-9)


def test_v1_org_rollups_hold_only_that_orgs_rows(v1_report):
    hpe = json.loads((v1_report / "Closed/HPE/results/results.json").read_text())
    micron = json.loads((v1_report / "Closed/Micron/results/results.json").read_text())
    assert {r["Organization"] for r in hpe} == {"HPE"} and len(hpe) == 2
    assert [r["Model"] for r in micron] == ["CosmoFlow"]


def test_csv_links_are_anchors_and_numbers_round_trip(v1_report):
    with open(v1_report / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {r["Name"]: r for r in rows}
    row = by_name["Cray_C500_4xHDR200_1host"]
    assert row["Training - Logs"] == ('<a href="Closed/HPE/results/Cray_C500_4xHDR200_1host/resnet50_h100">'
                                      "Logs</a>")
    assert float(row["Training - Read B/W (GiB/s)"]) == json.loads((v1_report / "results.json").read_text())[0][
        "Training - Read B/W (GiB/s)"]


def test_v3_rows_for_every_benchmark(v3_report):
    rows = {row["Benchmark Type"]: row for row in json.loads((v3_report / "results.json").read_text())}
    assert set(rows) == {"Training", "Checkpointing", "KVCache", "VDB"}
    ckpt = rows["Checkpointing"]
    assert ckpt["Model"] == "8B" and ckpt["Checkpointing - Checkpoint Mode"] == "Full"
    assert ckpt["Checkpointing - DP Instances"] == 8          # 8 processes / (TP 1 x PP 1)
    assert ckpt["Checkpointing - Write B/W (GiB/s)"] == pytest.approx(8.637, abs=1e-3)
    assert ckpt["Checkpointing - Read B/W (GiB/s)"] == pytest.approx(13.0, abs=1e-3)
    kv = rows["KVCache"]
    assert kv["Model"] == "" and kv["KVCache - # Client Nodes"] == 16
    assert kv["KVCache llama3.1-8b Storage + Mem - Throughput (tok/s)"] == pytest.approx(15586.2118, rel=1e-8)
    assert kv["KVCache llama3.1-70b Storage Only - Read B/W (GiB/s)"] == pytest.approx(121.1596, rel=1e-6)
    vdb = rows["VDB"]
    assert (vdb["VDB - Index Type"], vdb["VDB - Vector Count"], vdb["VDB - Vector Dimension"]) == (
        "DISKANN", 1_000_000, 1536)
    assert vdb["VDB - Query Latency (ms)"] == pytest.approx(112.8666, rel=1e-6)   # p99, as published
    assert vdb["VDB - Recall Percentage"] == pytest.approx(20.9675)
    train = rows["Training"]
    assert (train["Model"], train["Training - # Client Nodes"]) == ("Unet3D", 8)


def test_empty_rows_give_only_the_header():
    assert to_csv([]).splitlines() == [",".join(f'"{c}"' if "," in c else c for c in COLUMNS)]
