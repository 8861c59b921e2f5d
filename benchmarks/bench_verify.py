"""Verify 1,000 synthetic training run leaves with every rule; print wall time and peak memory.

Each leaf holds what DLIO and the tool write: summary.json, per-epoch stats, per-rank output,
logs, fs_separation.json and the three config YAMLs (hydra.yaml a real 5 KB Hydra dump). Targets:
at most 1 s and 150 MB resident. Baseline in the same process: loading the same files the way
MLCommons' reportgen does (pure-Python YAML for the three configs, json for the rest), which took
5.6 s / 132 MB on this machine for its whole run.

Run: .venv/bin/python benchmarks/bench_verify.py [--leaves N]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from mlps.rulebook.registry import all_rules  # noqa: E402
from mlps.rulebook.verify import verify  # noqa: E402
from tests.unit.test_rules_synthetic import START, stamp, write_training_leaf  # noqa: E402

HYDRA = REPO / "tests/fixtures/mlperf_results/storage_results_v1.0/Closed/HPE/results/Cray_C500_4xHDR200_1host" \
               "/resnet50_h100/run-1/configs/hydra.yaml"
RUNS_PER_WORKLOAD = 6


def generate(root: Path, leaves: int) -> None:
    hydra = HYDRA.read_text()
    for index in range(leaves):
        system, run = divmod(index, RUNS_PER_WORKLOAD)
        when = START + timedelta(seconds=610 * run)
        leaf = root / "closed" / "Org" / "results" / f"sys{system:04d}" / "training" / "unet3d" / "run" / stamp(when)
        write_training_leaf(leaf, start=when, scale=1.0 + 0.001 * run)
        (leaf / "dlio_config" / "hydra.yaml").write_text(hydra)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024       # Linux reports KiB


def baseline(root: Path) -> float:
    """Load every leaf's files as reportgen does: pure-Python YAML for the configs, json for the rest."""
    start = time.perf_counter()
    for leaf in root.rglob("20*_*"):
        for name in ("summary.json", "0_per_epoch_stats.json"):
            json.loads((leaf / name).read_text())
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            yaml.load((leaf / "dlio_config" / name).read_text(), Loader=yaml.SafeLoader)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlps-bench-verify-") as tmp:
        root = Path(tmp)
        generate(root, args.leaves)
        rss_before = rss_mib()
        start = time.perf_counter()
        result = verify(root)
        wall = time.perf_counter() - start
        rss_peak = rss_mib()
        evaluated = sum(1 for stats in result.rules.values() if stats["evaluated"])
        leaves = result.as_dict()["reader"]["leaves"]

        tracemalloc.start()
        verify(root)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        base = baseline(root)
    print(f"leaves verified: {leaves} in {len(result.workloads)} workloads; rules evaluated: {evaluated} of "
          f"{len(all_rules())} (the rest are for other benchmarks or editions); findings: {len(result.findings)}")
    print(f"verify wall time: {wall:.3f} s (target <= 1 s)")
    print(f"peak RSS: {rss_peak:.1f} MiB (before verifying: {rss_before:.1f} MiB; target <= 150 MB)")
    print(f"peak traced Python allocations while verifying: {traced_peak / 2**20:.1f} MiB")
    print(f"baseline, reportgen-style loading of the same files: {base:.3f} s; ratio baseline/verify: "
          f"{base / wall:.1f}x")
    ok = wall <= 1.0 and rss_peak <= 150
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
