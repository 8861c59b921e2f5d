"""Evidence of our own: did a run read its data from storage? Bytes read from the data filesystem's
block device on each host (the sampler's diskstats series) against the bytes DLIO says it read. A
run far below DLIO's figure was served from the page cache, whatever its throughput says."""

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


def device_bytes_read(path, device: str) -> float | None:
    """Bytes read from one block device over a host's series; None when the series lacks it."""
    try:
        samples, _skipped = read_jsonl(str(path))
    except OSError:
        return None
    total, seen = 0.0, False
    for entry in rates(samples):
        value = (entry.get("disk") or {}).get(device, {}).get("read_bytes_per_s")
        if value is not None:
            total += value * entry["dt"]
            seen = True
    return total if seen else None


class StorageTraffic(Rule):
    id = "MLPS-STORAGE-TRAFFIC"
    section = "3.3.2"
    description = ("mlps evidence (not a rule-book requirement): "
                   "bytes read from the data filesystem's block devices (time series) against the bytes DLIO read: "
                   "far less means the run was served from the page cache (WARNING)")
    severity = Outcome.WARNING
    profiles = PROFILES
    choice = ("only hosts whose data directory is on a block device (/dev/...) named in the series are counted; "
              f"network and memory filesystems are not judged; below {CACHED_BELOW:g}x of DLIO's bytes for the "
              "hosts measured is a WARNING, otherwise the ratio is recorded as INFO")

    def check(self, ctx):
        out = []
        for leaf in ctx.measured:
            cluster = cluster_of(leaf)
            expected = dlio_bytes(leaf)
            files = series_files(leaf.path) if cluster is not None and expected else []
            if not files:
                continue
            read, hosts = 0.0, 0
            by_host = {h.hostname: h for h in cluster.hosts}
            for path in files:
                host = by_host.get(path.stem)
                mount = host.path_mount(cluster.data_path) if host is not None else None
                device = str((mount or {}).get("device") or "")
                if not device.startswith("/dev/"):
                    continue
                value = device_bytes_read(path, os.path.basename(device))
                if value is not None:
                    read, hosts = read + value, hosts + 1
            total_hosts = leaf.num_hosts or len(cluster.hosts) or 1
            if not hosts:
                continue
            share = expected * hosts / total_hosts
            ratio = read / share
            message = (f"the data devices of {hosts} host(s) delivered {read / GIB:.2f} GiB while DLIO read "
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
