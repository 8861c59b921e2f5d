"""Print how long the test cluster takes: up/down for N hosts, and `ansible -m ping` on 3 hosts.

    sudo .venv/bin/python -m tests.cluster.measure [--rounds 3] [--hosts 3 8]

Figures, not assertions: the machine is shared, so compare medians of a few rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.cluster.cluster import Cluster, ClusterError

REPO = Path(__file__).resolve().parents[2]


def _timed(func) -> float:
    started = time.monotonic()
    func()
    return time.monotonic() - started


def _ansible_ping(cluster: Cluster) -> None:
    ansible = Path(sys.executable).parent / "ansible"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    argv = [str(ansible), "-i", str(cluster.inventory), "clients", "-m", "ansible.builtin.ping"]
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hosts", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--dir", default="/tmp/mlps-measure")
    args = parser.parse_args()
    try:
        for count in args.hosts:
            ups, downs = [], []
            for _ in range(args.rounds):
                cluster = Cluster(args.dir, count)
                ups.append(_timed(cluster.up))
                downs.append(_timed(cluster.down))
            print(
                f"{count} hosts: up median {statistics.median(ups):.2f}s (min {min(ups):.2f}), "
                f"down median {statistics.median(downs):.2f}s (min {min(downs):.2f})"
            )
        with Cluster(args.dir, 3) as cluster:
            pings = [_timed(lambda: _ansible_ping(cluster)) for _ in range(args.rounds + 1)]
        # The first ping opens Ansible's control masters; the rest reuse them.
        warm = statistics.median(pings[1:])
        print(f"ansible -m ping, 3 hosts: first {pings[0]:.2f}s, then median {warm:.2f}s")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
