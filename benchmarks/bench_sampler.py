"""Cost of the time-series sampler at its default 1 s interval: CPU time over wall time and peak
resident memory, read from outside each process (/proc/<pid>/stat utime+stime, /proc/<pid>/status
VmHWM), for three processes running side by side over the same window:

1. an idle Python interpreter (the baseline: what any Python process costs doing nothing);
2. the sampling loop alone (`python3 module_utils/mlps_timeseries.py`, as hosts without Ansible run it);
3. `mlps_sampler` started by Ansible with async and poll 0, as a campaign runs it.

CPU is counted in the steady state (from the second sample on), so start-up is left out; the
start-up cost is printed apart. Targets: at most 0.5% of one core and 40 MB resident.
Also, in this process: the cost of one sample with the files kept open against reading them
with mlps_procfs.read_counters() (open, read, close every time).

Usage: python benchmarks/bench_sampler.py [DURATION_S] [INTERVAL_S]   (defaults 30 and 1.0)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlps_module_utils import mlps_procfs, mlps_timeseries

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "module_utils" / "mlps_timeseries.py"
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")
TARGET_CPU_PCT = 0.5
TARGET_RSS_MB = 40.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and ')'
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def parent_of(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2:].split()[1])


def process_holding(path: Path, timeout: float = 60.0) -> int:
    """The pid with `path` open: the module process Ansible started in the background."""
    deadline = time.monotonic() + timeout
    target = str(path)
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                for fd in (entry / "fd").iterdir():
                    with contextlib.suppress(OSError):
                        if os.readlink(fd) == target:
                            return int(entry.name)
        time.sleep(0.1)
    sys.exit(f"bench_sampler: no process opened {path} within {timeout:.0f} s; did the module start?")


def wait_for_lines(path: Path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    sys.exit(f"bench_sampler: {path} has fewer than {count} samples after {timeout:.0f} s")


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


def in_process_ms(runs: int = 300) -> tuple[float, float]:
    """Median ms per sample: kept-open reader + JSON line, against read_counters() + JSON line."""
    reader = mlps_timeseries.CounterReader()

    def kept_open():
        counters, errors = reader()
        mlps_timeseries.sample_line("h", 0, 0.0, 0.0, counters, errors)

    def reopened():
        counters = mlps_procfs.read_counters()
        mlps_timeseries.sample_line("h", 0, 0.0, 0.0, counters, {})

    figures = []
    for func in (kept_open, reopened):
        times = []
        for _ in range(runs):
            start = time.process_time()
            func()
            times.append((time.process_time() - start) * 1000.0)
        figures.append(statistics.median(times))
    reader.close()
    return figures[0], figures[1]


def main() -> int:  # noqa: PLR0915 - one straight measurement script
    try:
        duration = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
        interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    except ValueError:
        duration = interval = -1.0
    if not (duration > 0 and interval > 0):
        sys.exit("bench_sampler: give DURATION_S and INTERVAL_S as numbers above 0, such as 30 1.0")

    kept, reopened = in_process_ms()
    print(f"one sample in process      {kept:6.3f} ms CPU with the files kept open; "
          f"{reopened:.3f} ms with read_counters() (open/read/close); ratio {kept / reopened:.2f}")

    tmp = Path(tempfile.mkdtemp(prefix="mlps-bench-sampler-"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ASYNC_DIR=str(tmp / "async"),
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    started: list[subprocess.Popen] = []
    try:
        # the idle baseline also stands for the phase the campaign's sampler follows (follow=marker):
        # the module scans /proc for it every 2 s, as in a real run
        marker = f"mlps-bench-phase-{tmp.name}"
        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(86400)", marker])
        started.append(idle)
        alone_out, alone_stop = tmp / "alone.jsonl", tmp / "alone.stop"
        alone = subprocess.Popen([sys.executable, str(SCRIPT), "--output", str(alone_out), "--interval", str(interval),
                                  "--stop-file", str(alone_stop), "--max-duration", str(duration + 300)],
                                 stdout=subprocess.PIPE, text=True)
        started.append(alone)
        module_out, module_stop = tmp / "module.jsonl", tmp / "module.stop"
        args = {"output": str(module_out), "stop_file": str(module_stop), "interval": interval,
                "max_duration": duration + 300, "follow": marker}
        launch = subprocess.run(
            [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory" / "localhost.ini"), "-m", "mlps_sampler",
             "-B", str(int(duration) + 400), "-P", "0", "-a", json.dumps(args)],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=300)
        if launch.returncode != 0:
            sys.exit(f"bench_sampler: starting mlps_sampler failed (rc {launch.returncode}): "
                     f"{(launch.stdout + launch.stderr).strip()[-300:]}")
        module_pid = process_holding(module_out)
        wrappers = []
        parent = parent_of(module_pid)
        while parent > 1 and "async_wrapper" in Path(f"/proc/{parent}/cmdline").read_text(errors="replace"):
            wrappers.append(parent)
            parent = parent_of(parent)

        for out in (alone_out, module_out):
            wait_for_lines(out, 2)  # start-up is over once the second sample is out
        pids = {"idle python (baseline)": idle.pid, "loop alone (script)": alone.pid,
                "mlps_sampler (ansible async)": module_pid}
        startup = {name: cpu_seconds(pid) for name, pid in pids.items()}
        begin = time.monotonic()
        time.sleep(duration)
        end_cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        wall = time.monotonic() - begin
        hwm = {name: status_kb(pid, "VmHWM") / 1024.0 for name, pid in pids.items()}
        wrapper_rss = [status_kb(pid, "VmRSS") / 1024.0 for pid in wrappers]

        alone_stop.touch()
        module_stop.touch()
        alone_result = json.loads(alone.communicate(timeout=60)[0])
        if not wait_gone(module_pid):
            print(f"bench_sampler: mlps_sampler pid {module_pid} still running 30 s after its stop file")
        module_samples = module_out.read_bytes().count(b"\n")
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nsampler at a {interval:g} s interval, {wall:.1f} s of steady state, all three side by side "
          f"(CPU from /proc/<pid>/stat, {1000 // TICK} ms ticks; peak RSS = VmHWM)")
    print(f"{'process':30} {'start-up CPU':>12} {'CPU s':>7} {'CPU %':>8} {'peak RSS':>9}")
    for name in pids:
        used = end_cpu[name] - startup[name]
        print(f"{name:30} {startup[name]:11.2f}s {used:7.3f} {100.0 * used / wall:7.3f}% {hwm[name]:7.1f} MB")
    print(f"samples written: loop alone {alone_result['samples']}, mlps_sampler {module_samples}")
    print(f"Ansible's async_wrapper processes above mlps_sampler: {len(wrappers)}, RSS "
          f"{', '.join(f'{r:.1f} MB' for r in wrapper_rss) or 'none'} (Ansible's, there for any async task)")

    name = "mlps_sampler (ansible async)"
    cpu_pct = 100.0 * (end_cpu[name] - startup[name]) / wall
    baseline_pct = 100.0 * (end_cpu["idle python (baseline)"] - startup["idle python (baseline)"]) / wall
    print(f"target CPU <= {TARGET_CPU_PCT}% of one core: {cpu_pct:.3f}% "
          f"({'met' if cpu_pct <= TARGET_CPU_PCT else 'NOT met'}); idle baseline {baseline_pct:.3f}%")
    idle_mb = hwm["idle python (baseline)"]
    print(f"target peak RSS <= {TARGET_RSS_MB:.0f} MB: {hwm[name]:.1f} MB "
          f"({'met' if hwm[name] <= TARGET_RSS_MB else 'NOT met'}); idle baseline {idle_mb:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
