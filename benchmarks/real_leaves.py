"""Results trees for the verify and report benchmarks: real-shaped leaves copied from a campaign's
workload, and a child process that measures CPU, wall time and peak RSS of one mlps command.

The default source is benchmarks/fixtures/demo_unet3d (see its NOTE.md): one workload of a `make
demo` training campaign, trimmed to one run leaf plus its datasize and datagen leaves. Each copied
workload is laid out as the campaign does it - datasize, datagen, then warm-up and five runs, all
copies of the one run leaf under new timestamps - so the tree holds DLIO's own files, per-rank
outputs, logs, cluster facts and time series as a real one does. Files are hard links where the
filesystem allows (the contents are the same; 10,000 leaves then cost no disk), copies otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "benchmarks" / "fixtures" / "demo_unet3d"
RUNS_PER_WORKLOAD = 6                  # warm-up + 5 measured, as the campaign writes them
STAMP = "%Y%m%d_%H%M%S"


def source_leaves(workload: Path) -> dict:
    """{command: first leaf folder} of a workload folder (datasize, datagen, run)."""
    found = {}
    for command in ("datasize", "datagen", "run"):
        folder = workload / command
        leaves = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if leaves:
            found[command] = leaves[0]
    if "run" not in found:
        raise SystemExit(f"{workload}: no run/<leaf> folder; give a workload folder of a campaign")
    return found


def _place(source: Path, target: Path, old: str, new: str, own: dict) -> None:
    """`source` as `target`, with the leaf's timestamp in file and folder names replaced; files named
    in `own` link to that file instead (the workload's own copy)."""
    for folder, dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        here = target / str(rel).replace(old, new)
        here.mkdir(parents=True, exist_ok=True)
        dirs.sort()
        for name in files:
            origin = own.get(name, Path(folder) / name)
            dest = here / name.replace(old, new)
            try:
                os.link(origin, dest)
            except OSError:
                shutil.copy2(origin, dest)


def _own_cluster_info(source: Path, target: Path, system: int) -> Path:
    """The workload's cluster_info.json: the source's facts stamped for this copy. Every campaign
    collects its own (one file copied into each of its leaves), so copies never share one."""
    doc = json.loads((source / "cluster_info.json").read_text())
    doc["created_at"] = f"2026-01-01T00:00:00Z copy {system}"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"cluster_info_{system:04d}.json"       # outside the tree; the leaves link to it
    path.write_text(json.dumps(doc, indent=1))
    return path


def generate_real(root: Path, leaves: int, workload: Path = FIXTURE) -> int:
    """`leaves` real-shaped leaves under root/closed/Org/results/sysNNNN/training/unet3d; returns bytes."""
    sources = source_leaves(workload)
    stamp = sources["run"].name
    base = datetime.strptime(stamp, STAMP)
    results = workload / "run" / "results.json"
    template = json.loads(results.read_text()) if results.is_file() else None
    order = [c for c in ("datasize", "datagen") if c in sources] + ["run"] * RUNS_PER_WORKLOAD
    written, system = 0, 0
    while written < leaves:
        target = root / "closed" / "Org" / "results" / f"sys{system:04d}" / "training" / "unet3d"
        names, own = [], {}
        if (sources["run"] / "cluster_info.json").is_file():
            own["cluster_info.json"] = _own_cluster_info(sources["run"], root.parent / f"{root.name}-facts",
                                                         system)
        for step, command in enumerate(order):
            if written == leaves:
                break
            source = sources[command]
            name = (base + timedelta(seconds=40 * step)).strftime(STAMP)
            _place(source, target / command / name, source.name, name, own)
            if command == "run":
                names.append(name)
            written += 1
        if template is not None and names:
            doc = dict(template, warmup=names[0], runs=names[1:])
            (target / "run" / "results.json").write_text(json.dumps(doc, indent=1))
        system += 1
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def compiled_env() -> dict:
    """The environment of a measured child: byte-compiled modules, as a pip install has them. With
    PYTHONDONTWRITEBYTECODE set (as on our CI machines) every run would compile about 70 modules,
    0.2 s of CPU that no installed copy spends; the cache goes to a folder of its own, not the tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "mlps-bench-pycache"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", "mlps", "module_utils"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    return env


def measure(argv: list[str]) -> dict:
    """Run `mlps <argv>` in a child interpreter (modules byte-compiled, see compiled_env); its CPU
    seconds, wall seconds, peak RSS and exit code."""
    code = ("import contextlib, io, json, resource, sys, time\n"
            "from mlps import cli\n"
            "start = time.perf_counter()\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = cli.main(sys.argv[1:])\n"
            "wall = time.perf_counter() - start\n"
            "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(json.dumps({'rc': rc, 'wall': wall, 'cpu': usage.ru_utime + usage.ru_stime,\n"
            "                  'rss_mib': usage.ru_maxrss / 1024}))\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True, text=True,
                          check=False, env=compiled_env())
    if done.returncode not in (0, 1, 3, 5) or not done.stdout.strip():
        raise SystemExit(f"mlps {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_wall"] = time.perf_counter() - started
    return figures


def baseline_rss() -> float:
    """Peak RSS (MiB) of a child that only imports what `mlps verify` imports: the floor of any run."""
    code = ("import resource\nfrom mlps import cli\nfrom mlps.rulebook import verify\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          env=compiled_env())
    return float(done.stdout.strip())


def row(label: str, figures: dict) -> str:
    return (f"{label:<34} CPU {figures['cpu']:6.2f} s  wall {figures['wall']:6.2f} s  "
            f"peak RSS {figures['rss_mib']:6.1f} MiB")
