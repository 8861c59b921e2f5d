"""`mlps report` over 1,000 synthetic run leaves with time series; print wall time and peak memory.

Each leaf is a valid DLIO training leaf (test_rules_synthetic) plus per-epoch times and one
mlps-timeseries/1 JSONL file per host (2 hosts, a sample every 10 s over the 10-minute run), as
the campaign leaves them. Only run leaves are written (no datagen leaf, no run/results.json, as in
bench_verify), so the verdict is INVALID; the report does the same work whatever the verdict.
Target: at most 20 s end to end (verify, read the series, tables, systems, HTML). Baseline in the
same process: `mlps verify` alone on the same tree, so the ratio shows what the report adds.

Run: .venv/bin/python benchmarks/bench_report.py [--leaves N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlps import cli  # noqa: E402
from mlps.rulebook.verify import verify  # noqa: E402
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


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024       # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlps-bench-report-") as tmp:
        root = Path(tmp) / "results"
        started = time.perf_counter()
        series_bytes = generate(root, args.leaves)
        print(f"generated {args.leaves} leaves ({series_bytes / 2**20:.1f} MiB of time series) "
              f"in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        result = verify(root)
        baseline = time.perf_counter() - started
        rss_after_verify = rss_mib()

        out = Path(tmp) / "report"
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as captured:
            code = cli.main(["report", str(root), "--out", str(out), "--quiet"])
        elapsed = time.perf_counter() - started
        assert code == 0, captured.getvalue()
        rows = json.loads((out / "results.json").read_text())
        assert len(rows) == -(-args.leaves // RUNS_PER_WORKLOAD) == len(result.workloads)
        page = (out / "report.html").stat().st_size
        print(f"baseline mlps verify:    {baseline:6.2f} s ({result.verdict}, {len(result.workloads)} workloads)")
        print(f"mlps report end to end:  {elapsed:6.2f} s (target <= 20 s; {elapsed / baseline:.1f}x verify)")
        print(f"report.html {page / 2**20:.1f} MiB, results.json {len(rows)} rows")
        print(f"peak RSS: {rss_mib():.0f} MiB (after verify alone: {rss_after_verify:.0f} MiB)")
    return 0 if elapsed <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
