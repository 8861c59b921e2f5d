#!/usr/bin/env python3
"""Stand-in for MLCommons' kv_cache_benchmark/kv-cache.py, which is on no package index, for tests only.

It honours the contract the campaign relies on when it hands a rank to MLCommons' script (mlps_kvcache.py
--delegate): kv-cache.py's option names, one results JSON at --output with the per-rank fields the rule
book's aggregation reads (summary{}, cache_stats{}), cache files under --cache-dir, and the seed it was
given. The I/O itself is the native engine's (module_utils/mlps_kvcache.py), run in-process; the
fields only the native engine writes (engine, size_scale, args) are left out, as the real script has none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "module_utils"))
import mlps_kvcache  # found through the path set just above

NATIVE_ONLY = ("engine", "engine_version", "size_scale", "args", "argv")


def main() -> int:
    parser = argparse.ArgumentParser(prog="kv-cache.py")
    for name in ("--model", "--generation-mode", "--cache-dir", "--output"):
        parser.add_argument(name, required=True)
    for name in ("--num-users", "--max-concurrent-allocs", "--seed"):
        parser.add_argument(name, type=int, required=True)
    for name in ("--duration", "--gpu-mem-gb", "--cpu-mem-gb"):
        parser.add_argument(name, type=float, required=True)
    parser.add_argument("--storage-capacity-gb", type=float)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="kvcache-standin-")
    try:
        argv = ["--model", args.model, "--num-users", str(args.num_users), "--duration", f"{args.duration:g}",
                "--gpu-mem-gb", f"{args.gpu_mem_gb:g}", "--cpu-mem-gb", f"{args.cpu_mem_gb:g}",
                "--max-concurrent-allocs", str(args.max_concurrent_allocs), "--generation-mode",
                args.generation_mode, "--seed", str(args.seed), "--cache-dir", args.cache_dir,
                "--results-dir", scratch, "--size-scale", os.environ.get("KV_STANDIN_SIZE_SCALE", "0.001")]
        native = mlps_kvcache.parse_args(argv)
        path = mlps_kvcache.execute(native, argv, 0, threading.Event(), [])
        document = mlps_kvcache.json.loads(Path(path).read_text())
        for key in NATIVE_ONLY:
            document.pop(key, None)
        mlps_kvcache.write_json(args.output, document)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
