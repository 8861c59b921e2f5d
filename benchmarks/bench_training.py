"""Orchestration overhead per training run on localhost (target: at most 5 s per run).

Runs a tiny campaign with playbooks/run_training.yml (2 ranks, 16 x 1 MiB files, 2 epochs, 6 runs),
then reads its run leaves. Per run, the playbook's wall time is the time from one run leaf's start
to the next one's (start of the phase to start of the next phase); from it we subtract
  - mpirun's wall time (the launch including DLIO's ~10 s of Python/TensorFlow import), and
  - DLIO's own run time (summary.json end - start).
Prints the medians. Usage: .venv/bin/python benchmarks/bench_training.py [--runs N] [--venv PATH]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = "%Y%m%d_%H%M%S"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--venv", default="/opt/mlps/venv", help="client venv with DLIO (playbooks/setup.yml)")
    parser.add_argument("--poll", type=float, default=2.0, help="mlps_training_poll_interval")
    args = parser.parse_args()
    if not Path(args.venv, "bin", "dlio_benchmark").is_file():
        print(f"--venv {args.venv}: no bin/dlio_benchmark; run playbooks/setup.yml first", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mlps-bench-training-"))
    data = Path("/dev/shm") / work.name
    extra = {
        "mlps_results_dir": str(work / "results"), "mlps_data_dir": str(data), "mlps_venv": args.venv,
        "mlps_training_system": "bench", "mlps_training_runs": args.runs, "mlps_training_accelerators_per_host": 2,
        "mlps_training_num_files_train": 16, "mlps_training_accept_undersized": True,
        "mlps_training_datagen": "always", "mlps_training_poll_interval": args.poll,
        "mlps_training_overrides": {"reader.read_threads": 1},
        "mlps_training_extra_overrides": {"dataset.record_length": 1048576, "dataset.record_length_stdev": 0,
                                          "dataset.record_length_resize": 1048576, "reader.batch_size": 2,
                                          "train.epochs": 2, "train.computation_time": 0.01},
    }
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory" / "localhost.ini"),
            str(ROOT / "playbooks" / "run_training.yml"), "-e", json.dumps(extra)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    total = time.monotonic() - started
    try:
        if done.returncode != 0:
            print(done.stdout[-3000:], file=sys.stderr)
            return 1
        report(work / "results" / "closed" / "mlps" / "results" / "bench" / "training" / "unet3d", total)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    return 0


def run_costs(workload: Path) -> dict:
    """Per run leaf of a training workload: the playbook's wall time (this leaf's start to the next
    one's; the last one's metadata end), and that minus mpirun's wall time and minus DLIO's run."""
    runs = sorted(p for p in (workload / "run").iterdir() if p.is_dir())
    starts = [datetime.datetime.strptime(p.name, STAMP) for p in runs]
    # The last run's phase ends where the finish step begins: use its metadata end time.
    last_meta = json.loads((runs[-1] / f"training_{runs[-1].name}_metadata.json").read_text())
    last_end = datetime.datetime.fromisoformat(last_meta["ended_at"].replace("Z", "+00:00"))
    ends = [*starts[1:], last_end.astimezone().replace(tzinfo=None)]   # leaf names are local time
    over_mpirun, over_dlio, walls = [], [], []
    for leaf, start, end in zip(runs, starts, ends, strict=True):
        meta = json.loads((leaf / f"training_{leaf.name}_metadata.json").read_text())
        summary = json.loads((leaf / "summary.json").read_text())
        dlio = (datetime.datetime.fromisoformat(summary["end"]) - datetime.datetime.fromisoformat(summary["start"]))
        wall = (end - start).total_seconds()
        walls.append(wall)
        over_mpirun.append(wall - meta["timings"]["mpirun_seconds"])
        over_dlio.append(wall - dlio.total_seconds())
    # between one run's mpirun end and the next one's start (microsecond stamps; leaf names have seconds)
    launches = [json.loads((leaf / f"training_{leaf.name}_metadata.json").read_text())["timings"] for leaf in runs]
    gaps = [(datetime.datetime.fromisoformat(after["mpirun_start"])
             - datetime.datetime.fromisoformat(before["mpirun_end"])).total_seconds()
            for before, after in itertools.pairwise(launches)]
    mpirun = [t["mpirun_seconds"] for t in launches]
    return {"runs": len(runs), "walls": walls, "over_mpirun": over_mpirun, "over_dlio": over_dlio, "gaps": gaps,
            "mpirun": mpirun}


def report(workload: Path, total: float) -> None:
    costs = run_costs(workload)
    runs, walls, over_mpirun, over_dlio = (costs[k] for k in ("runs", "walls", "over_mpirun", "over_dlio"))
    print(f"campaign wall time        {total:7.1f} s ({runs} runs + datagen + facts + plan)")
    print(f"per-run playbook wall     {statistics.median(walls):7.2f} s median")
    print(f"overhead vs mpirun wall   {statistics.median(over_mpirun):7.2f} s median (target <= 5 s)")
    print(f"overhead vs DLIO's run    {statistics.median(over_dlio):7.2f} s median (includes DLIO's start-up)")


if __name__ == "__main__":
    sys.exit(main())
