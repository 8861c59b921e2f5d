"""cluster_info.json (mlps-cluster-info/1) and the per-host table printed after the facts."""

from __future__ import annotations

import errno
from pathlib import Path

from mlps.cluster.model import GIB, SCHEMA, ClusterInfo
from mlps.errors import UserError
from mlps.jsonio import ReadError, load_json, write_json_atomic


def write_cluster_info(path, cluster: ClusterInfo) -> Path:
    """Write atomically: a reader sees the old file or the whole new one, never a torn one."""
    return write_json_atomic(path, cluster.to_dict())


def read_cluster_info(path) -> ClusterInfo:
    path = Path(path)
    try:
        data = load_json(path)
    except ReadError as exc:
        if exc.errno == errno.ENOENT:
            raise UserError(f"{path}: no such cluster info file; build it with `mlps cluster-info`") from None
        raise UserError(f"{path}: cannot read cluster info ({exc.detail}); expected {SCHEMA} JSON") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise UserError(f"{path}: schema is {found!r}, expected {SCHEMA!r}; build it with `mlps cluster-info`")
    try:
        return ClusterInfo.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: malformed {SCHEMA} document ({exc!r}); rebuild it with `mlps cluster-info`") from None


def host_rows(cluster: ClusterInfo) -> list[dict]:
    rows = []
    for host in cluster.hosts:
        mount = host.path_mount(cluster.data_path)
        name = host.hostname + (f" (+{','.join(host.aliases)})" if host.aliases else "")
        rows.append({
            "host": name,
            "memory_gib": None if host.memory_total_bytes is None else round(host.memory_total_bytes / GIB, 1),
            "cores": host.physical_cores, "cpus": host.logical_cpus,
            "kernel": host.kernel_release,
            "data_fs": f"{mount['fstype']} ({mount['mountpoint']})" if mount else "-",
        })
    return rows


def format_host_table(cluster: ClusterInfo) -> str:
    """Per-host table (host, memory GiB, cores, cpus, kernel, data filesystem) with a total line."""
    header = {"host": "host", "memory_gib": "memory GiB", "cores": "cores", "cpus": "cpus",
              "kernel": "kernel", "data_fs": "data filesystem"}
    rows = [{k: "-" if v is None else str(v) for k, v in row.items()} for row in host_rows(cluster)]
    plural = "" if cluster.num_hosts == 1 else "s"
    rows.append({"host": f"total ({cluster.num_hosts} host{plural})",
                 "memory_gib": f"{cluster.total_memory_bytes / GIB:.1f}",
                 "cores": str(cluster.total_physical_cores), "cpus": str(cluster.total_logical_cpus),
                 "kernel": "", "data_fs": ""})
    widths = {k: max(len(header[k]), *(len(r[k]) for r in rows)) for k in header}
    numeric = {"memory_gib", "cores", "cpus"}
    return "\n".join(
        "  ".join(row[k].rjust(widths[k]) if k in numeric else row[k].ljust(widths[k]) for k in header).rstrip()
        for row in [header, *rows])
