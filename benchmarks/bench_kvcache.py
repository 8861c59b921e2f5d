"""The native KV-cache engine's storage read bandwidth beside a plain sequential read of the same files, in the
same process run (target: engine >= 0.8 x plain), and the engine's CPU seconds per GiB moved.

Workload: one rank (the engine's Engine class, run in this process) on llama3.1-8b with USERS users,
generation mode none, max-concurrent-allocs 16 (Option 1's values but the users and duration), entries scaled
by SCALE and a storage tier of CAPACITY GiB, so the LRU deletes files while it runs. Its object-size mix is
what its users draw (one .npy file per entry). Figures:
- engine read GiB/s = the results' cache_stats.tier_storage_read_bandwidth_gbps (storage-tier bytes read
  over the run's wall time; reads and prefill writes share the device meanwhile), and the read+write
  figure beside it;
- plain read GiB/s = the files the storage tier holds at the end (the engine's size mix), each one's pages
  dropped with posix_fadvise(DONTNEED) first, then read one after another with readinto() into a 4 MiB
  buffer (no numpy, no threads);
- CPU seconds per GiB = getrusage(RUSAGE_SELF) user + system time over GiB moved, for both.

Needs numpy (run it with a client venv's Python): <venv>/bin/python benchmarks/bench_kvcache.py
    [FOLDER] [SECONDS] [USERS] [SCALE] [CAPACITY_GIB]   (defaults /tmp/mlps-bench-kv, 25, 50, 0.05, 2)
FOLDER must be on the filesystem to measure.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "module_utils"))  # the engine is a standalone script: import it by path

import mlps_kvcache as kv  # noqa: E402

TARGET = 0.8
CHUNK = 4 * 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plain_read(paths: list) -> tuple[int, float, float]:
    """(bytes, seconds, cpu seconds) of reading paths one after another, their pages dropped first."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    total, cpu, start = 0, cpu_seconds(), time.perf_counter()
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            while True:
                count = handle.readinto(view)
                if not count:
                    break
                total += count
    return total, time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    if kv.np is None:
        sys.exit(f"numpy is missing in {sys.executable}; run this with a client venv's Python")
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/mlps-bench-kv")
    seconds = sys.argv[2] if len(sys.argv) > 2 else "25"
    users = sys.argv[3] if len(sys.argv) > 3 else "50"
    scale = sys.argv[4] if len(sys.argv) > 4 else "0.05"
    capacity = sys.argv[5] if len(sys.argv) > 5 else "2"
    shutil.rmtree(folder, ignore_errors=True)
    args = kv.parse_args(["--model", "llama3.1-8b", "--num-users", users, "--duration", seconds,
                          "--gpu-mem-gb", "0", "--cpu-mem-gb", "0", "--max-concurrent-allocs", "16",
                          "--generation-mode", "none", "--cache-dir", str(folder / "cache"),
                          "--results-dir", str(folder / "results"), "--size-scale", scale,
                          "--storage-capacity-gb", capacity])
    cache, _ = kv.prepare_dir(args.cache_dir, 0, "--cache-dir")
    engine = kv.Engine(args, 0, cache, kv.storage_capacity(args, cache))
    try:
        cpu = cpu_seconds()
        engine.run(lambda *_args, **_kw: None)
        engine_cpu = cpu_seconds() - cpu
        result = engine.results(socket.gethostname(), [])
        with engine.files_lock:
            paths = sorted(engine.files)
        plain_bytes, plain_time, plain_cpu = plain_read(paths)
    finally:
        engine.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    summary, stats = result["summary"], result["summary"]["cache_stats"]
    moved = (result["storage_bytes_read"] + result["storage_bytes_written"]) / kv.GIB
    engine_read = stats["tier_storage_read_bandwidth_gbps"]
    engine_both = engine_read + stats["tier_storage_write_bandwidth_gbps"]
    plain = plain_bytes / kv.GIB / plain_time if plain_time > 0 else 0.0
    entry = [kv.entry_bytes(u.context, engine.bytes_per_token, args.size_scale) / 2**20 for u in engine.users]
    print(f"workload      llama3.1-8b, {users} users, {seconds} s, size scale {scale}: user entries "
          f"{min(entry):.1f}-{max(entry):.1f} MiB at full context, storage tier {capacity} GiB, "
          f"max-concurrent-allocs 16")
    print(f"filesystem    {folder}; load average {os.getloadavg()[0]:.1f}")
    print(f"engine        {summary['total_requests']} requests, {stats['storage_read_ops']} reads "
          f"({stats['tier_storage_kv_bytes_read_gb']:.2f} GiB), {stats['storage_write_ops']} writes "
          f"({stats['tier_storage_kv_bytes_written_gb']:.2f} GiB), {stats['storage_evictions']} files deleted by "
          f"the LRU; device read p95 {stats['storage_read_device_p95_ms']:.1f} ms, write p95 "
          f"{stats['storage_write_device_p95_ms']:.1f} ms")
    print(f"plain read    {len(paths)} files the tier held at the end, {plain_bytes / kv.GIB:.2f} GiB in "
          f"{plain_time:.2f} s")
    ratio = engine_read / plain if plain > 0 else 0.0
    print(f"read          engine {engine_read:6.3f} GiB/s (read+write {engine_both:.3f})   plain sequential "
          f"{plain:6.3f} GiB/s   ratio {ratio:.2f} ({'meets' if ratio >= TARGET else 'BELOW'} the {TARGET} target)")
    plain_gib = plain_bytes / kv.GIB
    print(f"cpu           engine {engine_cpu / moved if moved else 0.0:.3f} s per GiB moved ({engine_cpu:.1f} s for "
          f"{moved:.2f} GiB)   plain read {plain_cpu / plain_gib if plain_gib else 0.0:.3f} s per GiB")


if __name__ == "__main__":
    main()
