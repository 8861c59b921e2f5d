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
              "judged; each host is judged on its own against its share of DLIO's bytes (ranks are equal per "
              f"host), so one host reading extra cannot hide a cache-served one: below {CACHED_BELOW:g}x on any "
              "host is a WARNING naming the hosts, otherwise the ratio of the hosts measured is recorded as INFO")

    def check(self, ctx):
        out = []
        for leaf in ctx.measured:
            cluster = cluster_of(leaf)
            expected = dlio_bytes(leaf)
            files = series_files(leaf.path) if cluster is not None and expected else []
            if not files:
                continue
            per_host, kinds = {}, set()
            by_host = {h.hostname: h for h in cluster.hosts}
            for path in files:
                host = by_host.get(path.stem)
                measured = host_bytes(path, data_sources(host, cluster)) if host is not None else None
                if measured is not None:
                    per_host[host.hostname] = measured[0]
                    kinds.add(measured[1])
            if not per_host:
                continue
            share = expected / (leaf.num_hosts or len(cluster.hosts) or 1)      # DLIO's bytes on one host
            ratios = {name: value / share for name, value in sorted(per_host.items())}
            via = ", ".join(SOURCE_NAMES[k] for k in sorted(kinds))
            evidence = ref(leaf)
            cached = {name: ratio for name, ratio in ratios.items() if ratio < CACHED_BELOW}
            if cached:
                names = ", ".join(f"{name} {per_host[name] / GIB:.2f} GiB ({ratio:.2f}x)"
                                  for name, ratio in cached.items())
                out.append(self.finding(
                    f"the data storage ({via}) of {len(cached)} of {len(ratios)} host(s) delivered less than "
                    f"{CACHED_BELOW:g}x of the {share / GIB:.2f} GiB DLIO read on each: {names}; those hosts were "
                    "served from the page cache", expected=f">= {CACHED_BELOW:g}x on every host",
                    actual=round(min(cached.values()), 3), host=", ".join(cached), evidence=evidence,
                    ratios={name: round(ratio, 3) for name, ratio in ratios.items()},
                    fix="drop the page cache on every client before each run and use a dataset of at least 5x "
                        "the clients' memory"))
                continue
            read, hosts = sum(per_host.values()), len(per_host)
            ratio = read / (share * hosts)
            out.append(self.finding(f"the data storage of {hosts} host(s) ({via}) delivered {read / GIB:.2f} GiB "
                                    f"while DLIO read {share * hosts / GIB:.2f} GiB there ({ratio:.2f}x)",
                                    outcome=Outcome.INFO, actual=round(ratio, 3), evidence=evidence,
                                    ratios={name: round(r, 3) for name, r in ratios.items()}))
        return out
