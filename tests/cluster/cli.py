"""CLI of the test cluster: `python -m tests.cluster.cluster up|down|status|gc` (see cluster.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests.cluster import cluster as cluster_module
from tests.cluster import netns, registry
from tests.cluster.cluster import DEFAULT_DIR, DEFAULT_PRIVATE_PATH, DEFAULT_PRIVATE_SIZE, Cluster, require_environment
from tests.cluster.netns import ClusterError


def _cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cluster = Cluster(
        args.dir, args.hosts, subnet=args.subnet, pool=args.pool,
        private_mounts=args.private_mounts, private_path=args.private_path, private_size=args.private_size,
        slurm=args.slurm,
    ).up()  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"cluster {cluster.id} up in {elapsed:.2f}s: {', '.join(cluster.names)} on {cluster.subnet}")
    print(f"  ssh -F {cluster.ssh_config} {cluster.launcher.name} hostname")
    print(f"  ansible -i {cluster.inventory} clients -m ansible.builtin.ping")
    if cluster.slurm:
        print(f"  export $(cat {cluster.slurm_paths.env}); srun -N {cluster.count} hostname")
    print(f"  python -m tests.cluster.cluster down --dir {cluster.dir}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    started = time.monotonic()
    path = Path(args.dir).absolute() / "cluster.json"
    if not path.exists():
        print(f"no cluster described in {args.dir}; nothing to tear down")
        return 0
    cluster = Cluster.load(args.dir)
    cluster.down()
    print(f"cluster {cluster.id} down in {time.monotonic() - started:.2f}s; nothing left behind")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    if args.dir:
        report = Cluster.load(args.dir).status()
        print(json.dumps(report, indent=2))
        return 0 if report["healthy"] else 1
    entries = registry.registered()
    for cid in sorted(netns.cluster_ids_present() | set(entries)):
        directory = entries.get(cid)
        state = "alive" if registry.is_alive(cid, directory) else "stale (the next up or gc removes it)"
        print(f"{cid}  {directory or '(no dir)'}  {state}")
    if not entries and not netns.cluster_ids_present():
        print("no test clusters on this machine")
    return 0


def _cmd_gc(args: argparse.Namespace) -> int:
    require_environment()
    cleaned, errors = registry.gc()
    print(f"removed {len(cleaned)} stale cluster(s){': ' + ', '.join(cleaned) if cleaned else ''}")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    summary = cluster_module.__doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.cluster", description=summary)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring up a cluster (tears down a stale one in the same dir first)")
    up.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    up.add_argument("--dir", default=DEFAULT_DIR, help=f"keys, configs, inventory (default {DEFAULT_DIR})")
    up.add_argument("--subnet", help="a /24 such as 10.213.7.0/24 (default: first free one in --pool)")
    up.add_argument("--pool", default=netns.DEFAULT_POOL, help=f"default {netns.DEFAULT_POOL}")
    up.add_argument("--private-mounts", action="store_true", help="a host-local tmpfs at --private-path")
    up.add_argument("--private-path", default=DEFAULT_PRIVATE_PATH, help=f"default {DEFAULT_PRIVATE_PATH}")
    up.add_argument("--private-size", default=DEFAULT_PRIVATE_SIZE, help=f"tmpfs size (default {DEFAULT_PRIVATE_SIZE})")
    up.add_argument("--slurm", action="store_true", help="munged, slurmctld and a slurmd per host (README: Slurm)")
    up.set_defaults(func=_cmd_up)
    down = sub.add_parser("down", help="tear down the cluster described by --dir")
    down.add_argument("--dir", default=DEFAULT_DIR)
    down.set_defaults(func=_cmd_down)
    status = sub.add_parser("status", help="health of one cluster (--dir) or list all on this machine")
    status.add_argument("--dir")
    status.set_defaults(func=_cmd_status)
    gc_cmd = sub.add_parser("gc", help="tear down clusters whose owner died or whose dir is gone")
    gc_cmd.set_defaults(func=_cmd_gc)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
