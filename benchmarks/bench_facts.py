"""playbooks/facts.yml on a 3-host cluster against `ansible -m ansible.builtin.setup` on the same hosts.

Brings up the namespace test cluster (tests/cluster; needs root), then runs, interleaved so both
see the same machine load, N times each:
  1. ansible-playbook playbooks/facts.yml (ssh method: mlps_host_facts on every host, then
     cluster_info.json built on the controller and the per-host table printed),
  2. ansible clients -m ansible.builtin.setup (Ansible's own facts, nothing written),
  3. ansible clients -m ansible.builtin.ping (the floor: one module round trip per host).
One warm-up run of each first opens the ssh control masters, so every measured run starts alike.
Prints the medians, the ratio facts.yml / setup (target <= 1.0), and the collector's own time per
host as it reported it in cluster_info.json (collector.duration_ms; target <= 50 ms).

Usage: python benchmarks/bench_facts.py [N]   (default N=7)
"""

from __future__ import annotations

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

from tests.cluster.cluster import Cluster, ClusterError  # noqa: E402
from tests.cluster.procs import Owner  # noqa: E402

BIN = Path(sys.executable).parent
TARGET_RATIO = 1.0
TARGET_MODULE_MS = 50.0


def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def timed(argv: list[str]) -> float:
    """Wall seconds of one run; exits with the command's tail when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), cwd=ROOT, timeout=600,
                          check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_facts: `{' '.join(argv)}` failed (rc {proc.returncode}): "
                 f"{(proc.stdout + proc.stderr).strip()[-600:]}")
    return wall


def collector_ms(cluster_info: Path) -> dict[str, float]:
    doc = json.loads(cluster_info.read_text())
    return {h["hostname"]: h["facts"]["collector"]["duration_ms"] for h in doc["hosts"]}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 7
    if runs < 1 or len(sys.argv) > 2 or (len(sys.argv) == 2 and not sys.argv[1].isdigit()):
        sys.exit("bench_facts: usage: bench_facts.py [N], N a positive number of runs such as 7")
    with tempfile.TemporaryDirectory(prefix="mlps-bf-") as work:
        results = Path(work) / "results"
        try:
            cluster = Cluster(f"/tmp/mlps-bf-{os.getpid()}", hosts=3, owner=Owner.current()).up()
        except ClusterError as exc:
            sys.exit(f"bench_facts: cannot bring up the test cluster: {exc}")
        try:
            inventory = str(cluster.inventory)
            facts = [str(BIN / "ansible-playbook"), "-i", inventory, str(ROOT / "playbooks" / "facts.yml"),
                     "-e", f"mlps_results_dir={results}", "-e", f"mlps_data_dir={work}/data"]
            setup = [str(BIN / "ansible"), "-i", inventory, "clients", "-m", "ansible.builtin.setup"]
            ping = [str(BIN / "ansible"), "-i", inventory, "clients", "-m", "ansible.builtin.ping"]
            for argv in (facts, setup, ping):  # warm-up: open the control masters
                timed(argv)
            walls: dict[str, list[float]] = {"facts": [], "setup": [], "ping": []}
            module: dict[str, list[float]] = {}
            for _ in range(runs):
                walls["facts"].append(timed(facts))
                for host, ms in collector_ms(results / "cluster_info.json").items():
                    module.setdefault(host, []).append(ms)
                walls["setup"].append(timed(setup))
                walls["ping"].append(timed(ping))
        finally:
            cluster.down()
            shutil.rmtree(cluster.dir, ignore_errors=True)
    med = {name: statistics.median(values) for name, values in walls.items()}
    print(f"3 hosts ({', '.join(sorted(module))}), median of {runs} runs each, interleaved")
    shown = {name: ", ".join(f"{w:.2f}" for w in values) for name, values in walls.items()}
    print(f"facts.yml (ssh)                  {med['facts']:4.2f} s   (runs {shown['facts']})")
    print(f"ansible -m ansible.builtin.setup {med['setup']:4.2f} s   (runs {shown['setup']})")
    print(f"ansible -m ansible.builtin.ping  {med['ping']:4.2f} s   (floor: one module round trip per host)")
    ratio = med["facts"] / med["setup"]
    print(f"ratio facts.yml / setup {ratio:.2f}; target <= {TARGET_RATIO:.1f}: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    per_host = {host: statistics.median(values) for host, values in sorted(module.items())}
    worst = max(per_host.values())
    shown = ", ".join(f"{host} {ms:.1f}" for host, ms in per_host.items())
    print(f"collector inside the module, median per host (ms): {shown}; target <= {TARGET_MODULE_MS:.0f} ms: "
          f"{'met' if worst <= TARGET_MODULE_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
