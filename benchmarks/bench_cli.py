"""Start-up time of the `mlps` command beside a bare interpreter of the same venv.

Each figure is the median wall time of N runs of a fresh process, so the interpreter's own
start (site, the venv's .pth hooks) is in the baseline as well:
1. `python -c pass` (the floor);
2. `mlps --version` (imports no command);
3. `mlps rules --json` and `mlps verify --help` (import one command each);
4. `mlps --help` (imports every command to list them).
Target: `mlps --version` within 50 ms of wall time, and under 1.5x the bare interpreter.

Usage: python benchmarks/bench_cli.py [N]   (default N=20)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGET_MS = 50.0


def median_ms(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mlps = str(BIN / "mlps")
    floor = median_ms([sys.executable, "-c", "pass"], runs)
    rows = [("python -c pass", floor)]
    for label, argv in (("mlps --version", [mlps, "--version"]),
                        ("mlps rules --json", [mlps, "rules", "--json"]),
                        ("mlps verify --help", [mlps, "verify", "--help"]),
                        ("mlps --help (every command)", [mlps, "--help"])):
        rows.append((label, median_ms(argv, runs)))
    print(f"median of {runs} runs each")
    for label, ms in rows:
        print(f"  {label:30s} {ms:8.1f} ms   {ms / floor:5.2f}x the bare interpreter")
    version = rows[1][1]
    met = version <= TARGET_MS or version <= 1.5 * floor
    print(f"mlps --version: {version:.1f} ms, {version - floor:+.1f} ms over the interpreter "
          f"(target {TARGET_MS:.0f} ms or 1.5x the interpreter): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
