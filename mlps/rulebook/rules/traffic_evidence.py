"""Evidence of our own: did a run read its data from storage? Bytes that reached each host from its
data storage (the sampler's series) against the bytes DLIO says it read. A run far below DLIO's
figure was served from the page cache, whatever its throughput says.

Per host, the first source the series has: the data filesystem's block device (diskstats), the NFS
mount's bytes from the server (mountstats `server_read`), else the data interface's rx bytes (an
upper bound: other traffic counts too, so a low figure still means the cache served the run)."""

from __future__ import annotations

import os

from mlps.results.series import series_files
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import PROFILES, Rule
from mlps.rulebook.rules._evidence import GIB, cluster_of, number, ref
from mlps_module_utils.mlps_timeseries import rates, read_jsonl

CACHED_BELOW = 0.5      # storage delivered less than half of what DLIO read


def dlio_bytes(leaf) -> float | None:
    """epochs x files x samples per file x record length: what DLIO read over the run."""
    summary = leaf.summary or {}
    epochs = number(summary.get("epochs")) or number(leaf.param("train.epochs"))
    record = number(leaf.param("dataset.record_length_bytes")) or number(leaf.param("dataset.record_length"))
    files, per_file = leaf.num_files_train, leaf.samples_per_file or 1
    if not (epochs and record and files):
        return None
    return epochs * files * per_file * record


# (series section, value) per kind of source
FIGURES = {"disk": "read_bytes_per_s", "nfs": "server_read_bytes_per_s", "net": "rx_bytes_per_s"}
SOURCE_NAMES = {"disk": "block device", "nfs": "NFS mount", "net": "interface rx"}


def series_bytes(path, kind: str, name: str) -> float | None:
    """Bytes over a host's series from one source (`disk` device, `nfs` mountpoint, `net` interface);
    None when the series lacks it."""
    try:
        samples, _skipped = read_jsonl(str(path))
    except OSError:
        return None
    total, seen = 0.0, False
    for entry in rates(samples):
        value = ((entry.get(kind) or {}).get(name) or {}).get(FIGURES[kind])
        if value is not None:
            total += value * entry["dt"]
            seen = True
    return total if seen else None


def device_bytes_read(path, device: str) -> float | None:
    """Bytes read from one block device over a host's series; None when the series lacks it."""
    return series_bytes(path, "disk", device)


def data_sources(host, cluster) -> list[tuple[str, str]]:
    """Where the data reaches this host, best first: its block device; else its NFS mount, then
    the data interface (the cluster's, or the host's only one besides lo)."""
    mount = host.path_mount(cluster.data_path) or {}
    device = str(mount.get("device") or "")
    if device.startswith("/dev/"):
        return [("disk", os.path.basename(device))]
    found = []
    if str(mount.get("fstype") or "").startswith("nfs") and mount.get("mountpoint"):
        found.append(("nfs", str(mount["mountpoint"])))
    interfaces = [name for name in host.net_mtu if name != "lo"]
    interface = cluster.interface or (interfaces[0] if len(interfaces) == 1 else None)
    if interface:
        found.append(("net", interface))
    return found


def host_bytes(path, sources) -> tuple[float, str] | None:
    for kind, name in sources:
        value = series_bytes(path, kind, name)
        if value is not None:
            return value, kind
    return None


class StorageTraffic(Rule):
    id = "MLPS-STORAGE-TRAFFIC"
    section = "3.3.2"
    description = ("mlps evidence (not a rule-book requirement): "
                   "bytes read from the data storage (block device, NFS mount or data interface; time series) "
                   "against the bytes DLIO read: "
                   "far less means the run was served from the page cache (WARNING)")
    severity = Outcome.WARNING
    profiles = PROFILES
    choice = ("per host the first source its series has: the data directory's block device (/dev/...), "
              "its NFS mount's bytes from the server (mountstats server_read), else the data interface's rx "
              "bytes (the cluster's interface, or the host's only one besides lo); a host with none is not "
              f"counted; below {CACHED_BELOW:g}x of DLIO's bytes for the "
              "hosts measured is a WARNING, otherwise the ratio is recorded as INFO")

    def check(self, ctx):
        out = []
        for leaf in ctx.measured:
            cluster = cluster_of(leaf)
            expected = dlio_bytes(leaf)
            files = series_files(leaf.path) if cluster is not None and expected else []
            if not files:
                continue
            read, hosts, kinds = 0.0, 0, set()
            by_host = {h.hostname: h for h in cluster.hosts}
            for path in files:
                host = by_host.get(path.stem)
                measured = host_bytes(path, data_sources(host, cluster)) if host is not None else None
                if measured is not None:
                    read, hosts = read + measured[0], hosts + 1
                    kinds.add(measured[1])
            total_hosts = leaf.num_hosts or len(cluster.hosts) or 1
            if not hosts:
                continue
            share = expected * hosts / total_hosts
            ratio = read / share
            via = ", ".join(SOURCE_NAMES[k] for k in sorted(kinds))
            message = (f"the data storage of {hosts} host(s) ({via}) delivered {read / GIB:.2f} GiB while DLIO read "
                       f"{share / GIB:.2f} GiB there ({ratio:.2f}x)")
            evidence = ref(leaf)
            if ratio < CACHED_BELOW:
                out.append(self.finding(message + ": the run was served from the page cache",
                                        expected=f">= {CACHED_BELOW:g}x", actual=round(ratio, 3), evidence=evidence,
                                        fix="drop the page cache before each run and use a dataset of at least "
                                            "5x the clients' memory"))
            else:
                out.append(self.finding(message, outcome=Outcome.INFO, actual=round(ratio, 3), evidence=evidence))
        return out
