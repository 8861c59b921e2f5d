"""The native checkpoint engine's write and read GiB/s beside a plain sequential write/read of the same
bytes, on the same filesystem, in the same process run (target: native >= 0.8 x plain).

Workload: a llama3-8b plan for N ranks scaled to SIZE MiB per checkpoint (the same files, names and
byte counts for every method). Per checkpoint j = 1..C, for each of ROUNDS rounds (methods interleaved,
medians printed, since the machine is shared):
- native: `mpirun -np N python module_utils/mlps_ckpt_native.py` with --fsync and the transfer size,
  once for the writes and once for the reads (split form); figures are summary.json's
  save/load_checkpoint_io_mean_GB_per_second (checkpoint size over the slowest rank's time).
- dd: `dd bs=TRANSFER conv=fsync` from /dev/zero per file, one file after another; reads
  `dd of=/dev/null`. Figure = bytes / wall time per checkpoint, mean over C.
- python: this process writes the same files one after another with the engine's own Io class (one
  stream, fsync per file), then reads them back.
The ratio is native over the faster of the two plain baselines.

Page cache: as root, `sync` then `3 > /proc/sys/vm/drop_caches` before every read phase (all methods),
so reads come from the device; without root, each file's pages are dropped with
posix_fadvise(DONTNEED) after its fsync (what the engine does anyway; dd cannot) and the output says so.

Usage: python benchmarks/bench_ckpt_native.py [FOLDER] [SIZE_MIB] [CHECKPOINTS] [RANKS] [TRANSFER] [ROUNDS]
       (defaults /tmp/mlps-bench-ckpt, 1024, 4, 4, 4MiB, 3; FOLDER must be on the filesystem to measure)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mlps.plan.checkpoint import GIB, plan_checkpoint
from mlps_module_utils.mlps_ckpt_native import Io, checkpoint_dir, parse_size

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "module_utils" / "mlps_ckpt_native.py"
CLIENT_VENVS = (Path("/tmp/mlps-test/venv-localhost"), Path("/tmp/dliovenv"))
TARGET = 0.8


def client_bin() -> Path:
    for venv in CLIENT_VENVS:
        if (venv / "bin" / "mpirun").is_file():
            return venv / "bin"
    sys.exit(f"no client venv with mpirun in {', '.join(map(str, CLIENT_VENVS))}; run playbooks/setup.yml first")


def drop_caches() -> bool:
    """sync + drop the page cache when root; False when not allowed."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def native(bin_dir: Path, plan_path: Path, folder: Path, out: Path, ranks: int, *args: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    argv = [str(bin_dir / "mpirun"), *root, "--oversubscribe", "-np", str(ranks), str(bin_dir / "python"),
            str(ENGINE), "--plan", str(plan_path), "--folder", str(folder), "--output-folder", str(out),
            "--time-between-checkpoints", "0", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    if done.returncode:
        sys.exit(f"native engine failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads((out / "summary.json").read_text())["metric"]


def dd_pass(plan: dict, folder: Path, checkpoints: int, transfer: int, read: bool) -> float:
    """Mean GiB/s over the checkpoints of one dd pass, file after file (write: conv=fsync)."""
    files = [f for rank in plan["ranks"] for f in rank["files"]]
    rates = []
    for index in range(1, checkpoints + 1):
        step = checkpoint_dir(str(folder), index)
        os.makedirs(step, exist_ok=True)
        start = time.perf_counter()
        for entry in files:
            path = os.path.join(step, entry["name"])
            if read:
                argv = ["dd", f"if={path}", "of=/dev/null", f"bs={transfer}", "status=none"]
            else:
                argv = ["dd", "if=/dev/zero", f"of={path}", f"bs={transfer}", f"count={entry['bytes']}",
                        "iflag=count_bytes", "conv=fsync", "status=none"]
            subprocess.run(argv, check=True)
        rates.append(plan["total_bytes"] / GIB / (time.perf_counter() - start))
    return statistics.fmean(rates)


def python_pass(plan: dict, folder: Path, checkpoints: int, transfer: int, read: bool) -> float:
    """Mean GiB/s over the checkpoints of one sequential pass (write with fsync, or read)."""
    io = Io(transfer, odirect=False, fsync=True, drop_file_cache=True)
    files = [f for rank in plan["ranks"] for f in rank["files"]]
    rates = []
    try:
        for index in range(1, checkpoints + 1):
            step = checkpoint_dir(str(folder), index)
            os.makedirs(step, exist_ok=True)
            start = time.perf_counter()
            for entry in files:
                path = os.path.join(step, entry["name"])
                if read:
                    io.read_file(path, entry["bytes"])
                else:
                    io.write_file(path, entry["bytes"])
            rates.append(plan["total_bytes"] / GIB / (time.perf_counter() - start))
    finally:
        io.close()
    return statistics.fmean(rates)


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/mlps-bench-ckpt")
    size_mib = float(sys.argv[2]) if len(sys.argv) > 2 else 1024
    checkpoints = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    ranks = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    transfer_text = sys.argv[5] if len(sys.argv) > 5 else "4MiB"
    rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    transfer = parse_size(transfer_text)
    full = plan_checkpoint("llama3-8b", ranks).total_bytes
    scale = float(f"{size_mib * 2**20 / full:.6g}")
    plan = plan_checkpoint("llama3-8b", ranks, scale=scale, engine="native").to_dict()
    bin_dir = client_bin()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps(plan))
    figures: dict = {}
    dropped = True
    try:
        for _ in range(rounds):
            written = native(bin_dir, plan_path, folder / "native", folder / "out-write", ranks, "--writes",
                             str(checkpoints), "--reads", "0", "--fsync", "--transfer-size", transfer_text)
            dropped = drop_caches() and dropped
            loaded = native(bin_dir, plan_path, folder / "native", folder / "out-read", ranks,
                            "--writes", "0", "--reads", str(checkpoints), "--transfer-size", transfer_text)
            figures.setdefault(("native", "write"), []).append(written["save_checkpoint_io_mean_GB_per_second"])
            figures.setdefault(("native", "read"), []).append(loaded["load_checkpoint_io_mean_GB_per_second"])
            for name, run in (("dd", dd_pass), ("python", python_pass)):
                figures.setdefault((name, "write"), []).append(run(plan, folder / name, checkpoints, transfer, False))
                drop_caches()
                figures.setdefault((name, "read"), []).append(run(plan, folder / name, checkpoints, transfer, True))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cache = ("sync + drop_caches (3) before each read phase" if dropped else
             "not root: no drop_caches; each file's pages dropped with posix_fadvise(DONTNEED) after fsync/read")
    print(f"workload      llama3-8b plan, {ranks} ranks, scale {scale:g}: {plan['total_bytes'] / 2**20:.1f} MiB "
          f"per checkpoint in {plan['files_per_checkpoint']} files, {checkpoints} checkpoints, "
          f"transfer {transfer_text}, median of {rounds} interleaved rounds")
    print(f"filesystem    {folder} (every method in a sibling folder); load average {os.getloadavg()[0]:.1f}")
    print(f"page cache    {cache}")
    for phase in ("write", "read"):
        median = {name: statistics.median(figures[name, phase]) for name in ("native", "dd", "python")}
        base = max(median["dd"], median["python"])
        ratio = median["native"] / base
        label = "write+fsync" if phase == "write" else "read"
        print(f"{label:<13} native {median['native']:6.3f} GiB/s   dd {median['dd']:6.3f}   python sequential "
              f"{median['python']:6.3f}   ratio {ratio:.2f} ({'meets' if ratio >= TARGET else 'BELOW'} the "
              f"{TARGET} target)")


if __name__ == "__main__":
    main()
