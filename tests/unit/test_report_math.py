"""Report math: the published v1.0 reports reproduced from the run summaries to 1e-9, and the
v3.0 per-workload figures."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from mlps.results import figures
from mlps.results.reader import read_tree

V1 = Path(__file__).resolve().parent.parent / "fixtures" / "mlperf_results" / "storage_results_v1.0"


def test_mean_and_population_std():
    values = [293.25591771705274, 292.88320278310675, 293.21020813250146, 292.9256034277988, 293.19720930847035]
    assert figures.mean(values) == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert figures.pstdev(values) == pytest.approx(statistics.pstdev(values), rel=1e-12)
    assert figures.pstdev([5.0]) == 0.0
    assert figures.mean([]) is None and figures.pstdev([]) is None


def test_coefficient_of_variation():
    assert figures.coefficient_of_variation([10.0, 10.0]) == 0.0
    assert figures.coefficient_of_variation([9.0, 11.0]) == pytest.approx(0.1)
    assert figures.coefficient_of_variation([1.0]) is None
    assert figures.coefficient_of_variation([0.0, 0.0]) is None


@pytest.mark.parametrize("workload_index", [0, 1, 2])
def test_published_v1_reports_are_reproduced(workload_index):
    tree = read_tree(V1)
    workload = tree.workloads[workload_index]
    published = json.loads((workload.path / "mlperf_storage_report.json").read_text())
    computed = figures.v1_report(workload.runs, workload.model, workload.accelerator)
    assert figures.compare(published, computed, rel_tol=1e-9) == []
    # and the comparison does catch a change beyond the tolerance
    published["overall"]["train_throughput_mean_samples_per_second"] *= 1 + 1e-8
    assert [d[0] for d in figures.compare(published, computed)] == [
        "overall.train_throughput_mean_samples_per_second"]


def test_compare_reports_missing_keys_and_text():
    assert figures.compare({"a": {"b": 1}}, {"a": {}}) == [("a.b", 1, None)]
    assert figures.compare({"m": "unet3d"}, {"m": "resnet50"}) == [("m", "unet3d", "resnet50")]
    assert figures.compare({"n": "15"}, {"n": "15"}) == []


class _Leaf:
    def __init__(self, name, metric, hosts=2, accels=8):
        self.name, self.metric, self.num_hosts, self.num_accelerators = name, metric, hosts, accels


def test_training_results_means_of_epoch_means():
    leaves = [_Leaf("a", {"train_au_percentage": [90.0, 92.0], "train_throughput_samples_per_second": [10.0, 20.0],
                          "train_throughput_mean_samples_per_second": 15.0, "train_io_mean_MB_per_second": 2048.0}),
              _Leaf("b", {"train_au_percentage": [94.0], "train_throughput_samples_per_second": [30.0],
                          "train_throughput_mean_samples_per_second": 30.0, "train_io_mean_MB_per_second": 1024.0})]
    out = figures.training_results(leaves)
    assert out["train_mean_of_au_percentage"] == pytest.approx((91.0 + 94.0) / 2)
    assert out["train_mean_of_throughput_samples_per_second"] == pytest.approx((15.0 + 30.0) / 2)
    assert out["read_bw_GiB_per_second"] == pytest.approx(1.5)
    assert (out["client_nodes"], out["simulated_accelerators"]) == (2, 8)


def test_training_results_empty_list_gives_no_figure():
    leaves = [_Leaf("a", {"train_au_percentage": []}), _Leaf("b", {"train_au_percentage": [90.0]})]
    out = figures.training_results(leaves)
    assert out["train_mean_of_au_percentage"] is None
    assert out["empty_metric_lists"] == ["a"]
    assert out["read_bw_GiB_per_second"] is None


def test_checkpoint_results_split_phases():
    write = _Leaf("w", {"save_checkpoint_io_mean_GB_per_second": 8.0, "save_checkpoint_duration_mean_seconds": 12.0,
                        "checkpoint_size_GB": 104.7}, hosts=1)
    read = _Leaf("r", {"load_checkpoint_io_mean_GB_per_second": 13.0, "load_checkpoint_duration_mean_seconds": 8.0,
                       "checkpoint_size_GB": 104.7}, hosts=1)
    out = figures.checkpoint_results([write, read])
    assert (out["write_bw_GiB_per_second"], out["read_bw_GiB_per_second"]) == (8.0, 13.0)
    assert (out["write_duration_seconds"], out["read_duration_seconds"]) == (12.0, 8.0)
    assert out["checkpoint_size_GiB"] == 104.7
