"""Setup, facts, preflight and a tiny training campaign on namespace clusters of 3, 8 and 16 hosts.

Per cluster size (tests/cluster: network namespaces with sshd on this one machine, so every host
shares its 2 cores; needs root) this times, after one untimed setup.yml that builds or checks the
clients' venv:
  - setup.yml again (a re-run: nothing to install, everything checked),
  - facts.yml by SSH and by MPI (mlps_facts_method ssh / mpi),
  - preflight.yml (every check, the mpirun launch over all hosts included),
each the median of --repeat runs, and then one tiny training campaign (1 rank per host, 4 files per
host, 2 epochs, --runs runs) whose per-run cost outside mpirun is read from its leaves: the time
from one run's mpirun end to the next one's start (the module's microsecond stamps), and the
leaf-to-leaf wall time minus mpirun's (what bench_training.py prints for localhost).

Prints a table per step and size, the growth factor of each step from the smallest size, and the
targets: facts and preflight grow at most 2x from 3 to 16 hosts; the campaign's cost outside
mpirun at most 1 s per run on 3 hosts and 2 s on 16.

The clients' venv is the integration tests' (tests/venvs.py: $MLPS_TEST_DIR/venv-cluster and its
wheelhouse; the first size's setup builds it when missing, about a minute).

Usage: .venv/bin/python benchmarks/bench_scale.py [--sizes 3,8,16] [--repeat N] [--runs N]
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT))  # tests.cluster is not an installed package
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_facts import BIN, ansible_env, timed  # noqa: E402
from bench_training import run_costs  # noqa: E402

from tests.cluster.cluster import Cluster, ClusterError  # noqa: E402
from tests.cluster.procs import Owner  # noqa: E402
from tests.venvs import cluster_vars  # noqa: E402

STEPS = ("setup re-run", "facts ssh", "facts mpi", "preflight")
GROWTH_TARGET = 2.0                       # facts and preflight, 3 -> 16 hosts
OUTSIDE_TARGETS = {3: 1.0, 16: 2.0}       # seconds per run outside mpirun


def playbook(name: str, inventory: Path, extra: dict) -> list[str]:
    return [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / name), "-e",
            json.dumps(extra)]


def campaign_vars(size: int, runs: int) -> dict:
    """A tiny campaign: 1 rank per host; DLIO 2.0.0 needs the file count to be a multiple of ranks
    x batch size (else a rank fails in get_global_map_index)."""
    return {"mlps_training_system": "bench", "mlps_training_runs": runs, "mlps_training_accelerators_per_host": 1,
            "mlps_training_num_files_train": 4 * size, "mlps_training_accept_undersized": True,
            "mlps_training_datagen": "always", "mlps_training_poll_interval": 1,
            "mlps_training_run_timeout": 900, "mlps_training_datagen_timeout": 900,
            "mlps_training_overrides": {"reader.read_threads": 1},
            "mlps_training_extra_overrides": {"dataset.record_length": 1048576, "dataset.record_length_stdev": 0,
                                              "dataset.record_length_resize": 1048576, "reader.batch_size": 2,
                                              "train.epochs": 2, "train.computation_time": 0.01}}


def measure(cluster: Cluster, size: int, work: Path, args) -> dict:
    data = Path("/dev/shm") / f"mlps-bench-scale-{os.getpid()}-{size}"
    base = cluster_vars(mlps_results_dir=str(work / f"results-{size}"), mlps_data_dir=str(data))
    try:
        timed(playbook("setup.yml", cluster.inventory, base))                  # builds or checks the venv
        steps = {"setup re-run": playbook("setup.yml", cluster.inventory, base),
                 "facts ssh": playbook("facts.yml", cluster.inventory, {**base, "mlps_facts_method": "ssh"}),
                 "facts mpi": playbook("facts.yml", cluster.inventory, {**base, "mlps_facts_method": "mpi"}),
                 "preflight": playbook("preflight.yml", cluster.inventory,
                                       {**base, "mlps_preflight_num_files_train": 2})}
        walls: dict = {name: [] for name in steps}
        for _ in range(args.repeat):                                           # interleaved: same load
            for name, argv in steps.items():
                walls[name].append(timed(argv))
        figures = {name: statistics.median(values) for name, values in walls.items()}
        print(f"{size} hosts: " + ", ".join(f"{k} {v:.2f} s" for k, v in figures.items()), flush=True)
        started = time.perf_counter()
        argv = playbook("run_training.yml", cluster.inventory, {**base, **campaign_vars(size, args.runs)})
        done = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), cwd=ROOT, check=False)
        figures["campaign"] = time.perf_counter() - started
        workload = work / f"results-{size}" / "closed" / "mlps" / "results" / "bench" / "training" / "unet3d"
        if done.returncode != 0:
            said = [line.strip() for line in done.stdout.splitlines() if '"msg"' in line or "msg:" in line]
            print(f"{size} hosts: the campaign failed (rc {done.returncode}) after {figures['campaign']:.0f} s: "
                  + (" | ".join(said[-3:]) or done.stdout[-1500:]), flush=True)
            return {**figures, **dict.fromkeys(("mpirun", "between launches", "outside mpirun"), float("nan"))}
        costs = run_costs(workload)
        figures["mpirun"] = statistics.median(costs["mpirun"])
        figures["between launches"] = statistics.median(costs["gaps"])
        figures["outside mpirun"] = statistics.median(costs["over_mpirun"])
        return figures
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,8,16", help="cluster sizes, comma-separated (default 3,8,16)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each step per size (median)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the training campaign (>= 2)")
    args = parser.parse_args()
    try:
        sizes = sorted({int(n) for n in args.sizes.split(",")})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] < 2 or args.repeat < 1 or args.runs < 2:
        print(f"bench_scale: --sizes {args.sizes} --repeat {args.repeat} --runs {args.runs}: expected sizes of "
              "2 or more hosts, --repeat >= 1 and --runs >= 2", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mlps-bench-scale-"))
    rows = {}
    try:
        for size in sizes:
            try:
                cluster = Cluster(f"/tmp/mlps-bsc-{os.getpid()}-{size}", hosts=size, owner=Owner.current()).up()
            except ClusterError as exc:
                print(f"bench_scale: cannot bring up a {size}-host cluster: {exc}", file=sys.stderr)
                return 1
            try:
                rows[size] = measure(cluster, size, work, args)
            finally:
                cluster.down()
                shutil.rmtree(cluster.dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(rows, args)


def report(rows: dict, args) -> int:
    sizes = list(rows)
    columns = [*STEPS, "campaign", "mpirun", "between launches", "outside mpirun"]
    print(f"\nwall seconds, median of {args.repeat} interleaved runs per step; campaign of {args.runs} runs "
          "(per-run figures: medians over its runs)")
    print(f"{'step':<18}" + "".join(f"{size:>9} h" for size in sizes) + f"   growth {sizes[0]}->{sizes[-1]}")
    for name in columns:
        first, last = rows[sizes[0]][name], rows[sizes[-1]][name]
        growth = last / first if first > 0 else float("nan")
        print(f"{name:<18}" + "".join(f"{rows[s][name]:11.2f}" for s in sizes) + f"   {growth:6.2f}x")
    met = True
    if 3 in rows and 16 in rows:
        for name in ("facts ssh", "facts mpi", "preflight"):
            growth = rows[16][name] / rows[3][name]
            met &= growth <= GROWTH_TARGET
            print(f"target {name} 3->16 hosts <= {GROWTH_TARGET:.0f}x: {growth:.2f}x")
    for size, limit in OUTSIDE_TARGETS.items():
        if size in rows:
            seconds = rows[size]["between launches"]
            met &= seconds <= limit
            print(f"target outside mpirun on {size} hosts <= {limit:.0f} s per run: {seconds:.2f} s")
    print("targets: " + ("met" if met else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
