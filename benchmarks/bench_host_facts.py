"""Time of host-facts collection on this machine, each figure beside a baseline measured the same way.

1. collect() in process (median of N) against only reading the same files (the I/O floor).
2. The standalone script (`python3 -I -S mlps_procfs.py`, as the MPI collection runs it) against
   an interpreter that does nothing.
3. `ansible localhost -m mlps_host_facts` against `ansible localhost -m setup`, and the time the
   collector reported inside the module (collector.duration_ms) against the 50 ms per-host target.

Usage: python benchmarks/bench_host_facts.py [N]   (default N=50; ansible runs use N//10, min 3)
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mlps_module_utils import mlps_procfs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "module_utils" / "mlps_procfs.py"
BIN = Path(sys.executable).parent
TARGET_MODULE_MS = 50.0
SOURCES = ("proc/meminfo", "proc/cpuinfo", "proc/diskstats", "proc/net/dev", "proc/version",
           "proc/loadavg", "proc/uptime", "proc/vmstat", "proc/stat", "proc/mounts",
           "proc/self/mountinfo", "proc/cgroups", "etc/os-release", "etc/machine-id",
           "proc/sys/kernel/hostname", "proc/sys/kernel/random/boot_id")


def median_ms(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def read_only() -> None:
    for relative in SOURCES:
        with contextlib.suppress(OSError):
            mlps_procfs.read_text("/", relative)


def run(argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=300)


def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def ansible_adhoc(module: str, args: str, runs: int) -> tuple[float, list]:
    argv = [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"), "-m", module]
    if args:
        argv += ["-a", args]
    env = ansible_env()
    walls, results = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = run(argv, env)
        walls.append((time.perf_counter() - start) * 1000.0)
        if proc.returncode != 0:
            sys.exit(f"bench_host_facts: `{' '.join(argv)}` failed (rc {proc.returncode}): "
                     f"{(proc.stdout + proc.stderr).strip()[-300:]}")
        results.append(json.loads(proc.stdout.partition(" => ")[2]))
    return statistics.median(walls), results


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    if runs < 1:
        sys.exit("bench_host_facts: N must be a positive number of runs, such as 50")
    ansible_runs = max(3, runs // 10)
    collect_once = mlps_procfs.collect("/", gather_cpus=True)
    print(f"host: {collect_once['hostname']}, {collect_once['cpuinfo']['summary']['logical_cpus']} CPUs, "
          f"{len(collect_once['mounts'])} mounts, {len(collect_once['diskstats'])} block devices, "
          f"python {collect_once['collector']['python']}")

    floor = median_ms(read_only, runs)
    full = median_ms(lambda: mlps_procfs.collect("/", paths=["/tmp"], gather_cpus=True), runs)
    print(f"collect() in process      {full:8.2f} ms  (median of {runs}); reading the files alone "
          f"{floor:.2f} ms; ratio {full / floor:.1f}x")

    script = median_ms(lambda: run([sys.executable, "-I", "-S", str(SCRIPT), "--compact"]), max(5, runs // 5))
    bare = median_ms(lambda: run([sys.executable, "-I", "-S", "-c", "pass"]), max(5, runs // 5))
    print(f"standalone script         {script:8.2f} ms  (median of {max(5, runs // 5)}); bare interpreter "
          f"{bare:.2f} ms; script's own share {script - bare:.2f} ms")

    ours, results = ansible_adhoc("mlps_host_facts", '{"paths": ["/tmp"]}', ansible_runs)
    setup, _ = ansible_adhoc("setup", "", ansible_runs)
    inside = statistics.median(r["ansible_facts"]["mlps_host"]["collector"]["duration_ms"] for r in results)
    print(f"ansible -m mlps_host_facts {ours:7.0f} ms  (median of {ansible_runs}); ansible -m setup "
          f"{setup:.0f} ms; ratio {ours / setup:.2f}")
    verdict = "met" if inside <= TARGET_MODULE_MS else "NOT met"
    print(f"module itself (collector inside the module) {inside:.2f} ms per host; "
          f"target <= {TARGET_MODULE_MS:.0f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
