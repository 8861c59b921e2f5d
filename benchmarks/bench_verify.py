"""`mlps verify` on minimal synthetic leaves and on real-shaped leaves; CPU, wall time and peak RSS
of each, measured in a child process.

Minimal leaves (test_rules_synthetic): summary.json, per-epoch stats, per-rank output, logs,
fs_separation.json and the three config YAMLs (hydra.yaml a real 5 KB Hydra dump). Real-shaped
leaves (benchmarks/real_leaves.py): copies of a `make demo` workload - DLIO's files, per-rank
outputs, logs, cluster facts, metadata and time series, about 220 KB a leaf. Targets: 1,000 real
leaves in at most 1 s and 150 MB; 10,000 in at most 5 s with memory that does not grow with the
leaves. Baseline in the same run: loading the minimal leaves' files the way MLCommons' reportgen
does (pure-Python YAML for the three configs, json for the rest).

Run: .venv/bin/python benchmarks/bench_verify.py [--leaves N] [--large N] [--workload DIR]
(--workload: a campaign's workload folder holding run/<leaf>, to copy instead of the fixture)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks import real_leaves  # noqa: E402
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
    parser.add_argument("--large", type=int, default=10_000, help="real-shaped leaves of the large run (0: skip)")
    parser.add_argument("--workload", type=Path, default=real_leaves.FIXTURE)
    args = parser.parse_args()
    floor = real_leaves.baseline_rss()
    print(f"python + mlps imports alone: peak RSS {floor:.1f} MiB")
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="mlps-bench-verify-") as tmp:
        minimal = Path(tmp) / "minimal"
        generate(minimal, args.leaves)
        rows.append((f"{args.leaves} minimal leaves", real_leaves.measure(["verify", str(minimal)])))
        base = baseline(minimal)
        shutil.rmtree(minimal)
        for count in (args.leaves, args.large):
            if not count:
                continue
            root = Path(tmp) / f"real{count}"
            size = real_leaves.generate_real(root, count, args.workload)
            figures = real_leaves.measure(["verify", str(root)])
            rows.append((f"{count} real leaves ({size / 2**20:.0f} MiB)", figures))
            limit_s = 1.0 if count <= 1000 else 5.0
            ok &= figures["cpu"] <= limit_s and figures["rss_mib"] <= 150
            shutil.rmtree(root)
            shutil.rmtree(Path(tmp) / f"real{count}-facts", ignore_errors=True)
    for label, figures in rows:
        print(real_leaves.row(label, figures))
    print(f"baseline, reportgen-style loading of the {args.leaves} minimal leaves' files: {base:.3f} s; "
          f"ratio baseline/verify CPU: {base / rows[0][1]['cpu']:.1f}x")
    print("targets (real leaves: 1,000 in 1 s CPU, 10,000 in 5 s, at most 150 MB each): "
          + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
