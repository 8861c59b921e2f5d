"""`mlps report` on minimal synthetic leaves and on real-shaped leaves; CPU, wall time and peak RSS
of each, measured in a child process, beside `mlps verify` on the same tree.

Minimal leaves: a valid DLIO training leaf (test_rules_synthetic) plus per-epoch times and one
mlps-timeseries/1 JSONL file per host (2 hosts, a sample every 10 s over the 10-minute run); only
run leaves, so the verdict is INVALID (the report does the same work whatever the verdict).
Real-shaped leaves (benchmarks/real_leaves.py): copies of a `make demo` workload with its cluster
facts, metadata, logs and the sampler's series. Targets at 1,000 real leaves: at most 10 s and
300 MB end to end (verify, read the series, tables, systems, HTML).

Run: .venv/bin/python benchmarks/bench_report.py [--leaves N] [--workload DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import real_leaves  # noqa: E402
from tests.unit.test_report_builders import write_epochs, write_timeseries  # noqa: E402
from tests.unit.test_rules_synthetic import START, stamp, write_training_leaf  # noqa: E402

RUNS_PER_WORKLOAD = 6
HOSTS = ("h1", "h2")


def generate(root: Path, leaves: int) -> int:
    """Leaves in workloads of 6 runs (warm-up + 5), each with its time series; returns bytes of series."""
    series_bytes = 0
    for index in range(leaves):
        system, run = divmod(index, RUNS_PER_WORKLOAD)
        when = START + timedelta(seconds=610 * run)
        leaf = root / "closed" / "Org" / "results" / f"sys{system:04d}" / "training" / "unet3d" / "run" / stamp(when)
        summary = write_training_leaf(leaf, start=when, hosts=len(HOSTS), scale=1.0 + 0.001 * run)
        start, end = datetime.fromisoformat(summary["start"]), datetime.fromisoformat(summary["end"])
        write_epochs(leaf, start, end)
        for path in write_timeseries(leaf, start, end, hosts=HOSTS, interval=10.0):
            series_bytes += path.stat().st_size
    return series_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1000)
    parser.add_argument("--workload", type=Path, default=real_leaves.FIXTURE)
    args = parser.parse_args()
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="mlps-bench-report-") as tmp:
        for kind in ("minimal", "real"):
            root = Path(tmp) / kind / "results"
            if kind == "minimal":
                generate(root, args.leaves)
                size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            else:
                size = real_leaves.generate_real(root, args.leaves, args.workload)
            verified = real_leaves.measure(["verify", str(root)])
            out = Path(tmp) / kind / "report"
            report = real_leaves.measure(["report", str(root), "--out", str(out), "--quiet"])
            if report["rc"] != 0:
                raise SystemExit(f"mlps report exited {report['rc']} on the {kind} tree")
            page = (out / "report.html").stat().st_size
            label = f"{args.leaves} {kind} leaves ({size / 2**20:.0f} MiB)"
            rows.append((f"{label}: verify", verified))
            rows.append((f"{label}: report", report))
            rows.append((f"  report.html {page / 2**20:.1f} MiB", None))
            if kind == "real":
                ok = report["cpu"] <= 10 and report["rss_mib"] <= 300
            shutil.rmtree(Path(tmp) / kind)
    for label, figures in rows:
        print(real_leaves.row(label, figures) if figures else label)
    print("targets (1,000 real leaves: report in 10 s CPU, at most 300 MB): " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
