"""Cold and warm wall time of playbooks/setup.yml on 1 host (localhost) and 3 hosts (namespace
cluster, needs root). Target: a warm re-run with nothing to change takes at most 10 s
for 3 hosts.

    .venv/bin/python benchmarks/bench_setup.py [--warm-runs 3] [--skip-cold]

Cold runs install into fresh venv paths (the wheelhouse and pip's cache stay warm, so "cold"
means a full venv build from already downloaded wheels).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.cluster import Cluster
from tests.integration.playbook import ROOT, TEST_DIR, run_playbook

BENCH_DIR = TEST_DIR / "bench-setup"


def timed(playbook: str, inventory: Path, extra: dict) -> tuple[float, int]:
    start = time.perf_counter()
    run = run_playbook(playbook, inventory, extra)
    elapsed = time.perf_counter() - start
    if run.rc != 0:
        raise SystemExit(f"bench_setup: {playbook} failed on {inventory}: {run.messages()[:3]}")
    return elapsed, run.changed()


def measure(label: str, inventory: Path, extra: dict, warm_runs: int, cold: bool) -> dict:
    row = {"label": label}
    if cold:
        shutil.rmtree(extra["mlps_venv"], ignore_errors=True)
        row["cold_s"], row["cold_changed"] = timed("setup.yml", inventory, extra)
    else:
        timed("setup.yml", inventory, extra)  # make sure it is installed
    warm = [timed("setup.yml", inventory, extra) for _ in range(warm_runs)]
    row["warm_median_s"] = statistics.median(t for t, _ in warm)
    row["warm_changed"] = max(c for _, c in warm)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true", help="measure warm runs only")
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    rows = [measure("1 host (localhost)", ROOT / "inventory" / "localhost.ini",
                    {"mlps_venv": str(BENCH_DIR / "venv-1")}, args.warm_runs, not args.skip_cold)]
    with Cluster(Path("/tmp/mlps-bench"), 3) as cluster:
        extra = {"mlps_venv": str(BENCH_DIR / "venv-3"), "mlps_env_wheelhouse": str(TEST_DIR / "wheelhouse"),
                 "mlps_env_wheelhouse_shared": True}
        rows.append(measure("3 hosts (namespace cluster)", cluster.inventory, extra, args.warm_runs,
                            not args.skip_cold))
    print(f"{'setup.yml':30} {'cold s':>8} {'warm s (median)':>16} {'warm changes':>13}")
    for row in rows:
        cold = f"{row['cold_s']:.1f}" if "cold_s" in row else "-"
        print(f"{row['label']:30} {cold:>8} {row['warm_median_s']:>16.2f} {row['warm_changed']:>13}")
    three = rows[-1]["warm_median_s"]
    print(f"target: warm 3-host run <= 10 s: {'met' if three <= 10 else 'NOT met'} ({three:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
