"""What a host time-series chart draws for many hosts: the cluster as a whole, plus the hosts that
stand out.

Up to MAX_HOST_LINES hosts every host is its own line. Beyond that, lines for each host would be
unreadable (and colours run out), so each run is cut into time bins and, per bin:
- rates that add up across the cluster (disk read/write, network receive) draw their total;
- per-host figures (CPU busy, page cache) draw the median host with a min-max band over all hosts.
A host stands out when its mean over the workload is further from the median of the host means
than OUTLIER_K scaled MADs (median absolute deviation x 1.4826, a standard deviation's robust
stand-in) and than MIN_RELATIVE of that median; those are drawn as their own lines (the furthest
MAX_OUTLIER_LINES of them) and all are named in the caption.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from mlps.natural_order import natural_sorted

MAX_HOST_LINES = 8          # hosts drawn one line each; more make the cluster view
OUTLIER_K = 3.0             # scaled MADs from the median of host means
SCALED_MAD = 1.4826         # MAD x this estimates the standard deviation of normal data
MIN_RELATIVE = 0.10         # and at least this share of the median: identical hosts never stand out on noise
MAX_OUTLIER_LINES = 3       # drawn individually; the caption names every outlier
SUMMED = frozenset({"disk_read", "disk_write", "net_rx"})


@dataclass
class ClusterLines:
    """One chart's content: lines (label, [(t, v)]), bands (label, [(t, low, high)]), outliers by name."""

    lines: list = field(default_factory=list)
    bands: list = field(default_factory=list)
    outliers: list = field(default_factory=list)
    hosts: int = 0


def host_order(runs: list) -> list[str]:
    """Every host of the runs (LeafSeries), in natural order."""
    return natural_sorted({host for data in runs for host in data.hosts})


def per_host_lines(key: str, runs: list, hosts: list[str]) -> list[tuple]:
    """Today's small-cluster chart: one line per host, broken between runs."""
    lines = []
    for host in hosts:
        points = []
        for data in runs:
            points.extend(data.hosts.get(host, {}).get(key, []))
            points.append((float("nan"), None))          # break the line between runs
        lines.append((host, points))
    return lines


def binned(points: list, start: float, end: float, count: int) -> list:
    """`count` equal bins over [start, end]: the mean of the points in each; an empty bin between two
    of the host's samples holds the last value (samples come every few seconds, bins can be
    narrower); before the first and after the last sample it is None."""
    width = (end - start) / count if end > start else 1.0
    sums, counts = [0.0] * count, [0] * count
    times = [t for t, v in points if v is not None]
    for t, value in points:
        if value is None or not start <= t <= end:
            continue
        index = min(count - 1, int((t - start) / width))
        sums[index] += value
        counts[index] += 1
    first, last = (min(times), max(times)) if times else (None, None)
    out, held = [], None
    for index in range(count):
        middle = start + (index + 0.5) * width
        if counts[index]:
            held = sums[index] / counts[index]
            out.append(held)
        elif held is not None and first is not None and middle <= last:
            out.append(held)
        else:
            out.append(None)
    return out


def _bins(key: str, data, points_per_run: int) -> int:
    """Bins for one run: about as many as a typical host has points there (so bins are rarely
    empty), no more than the chart can show."""
    counts = [len(metrics.get(key) or ()) for metrics in data.hosts.values()]
    return max(1, min(points_per_run, int(statistics.median(counts)) if counts else 1))


def standing_out(means: dict) -> list[str]:
    """Hosts whose mean is beyond OUTLIER_K scaled MADs and MIN_RELATIVE of the median of the means,
    furthest first."""
    if len(means) < 3:
        return []
    middle = statistics.median(means.values())
    mad = statistics.median(abs(v - middle) for v in means.values())
    limit = max(OUTLIER_K * SCALED_MAD * mad, MIN_RELATIVE * abs(middle))
    far = [host for host, v in means.items() if abs(v - middle) > limit]
    return sorted(far, key=lambda host: -abs(means[host] - middle))


def cluster_lines(key: str, runs: list, hosts: list[str], points_per_run: int) -> ClusterLines:
    """The cluster view of metric `key` over the runs (LeafSeries, in time order) for `hosts`."""
    result = ClusterLines(hosts=len(hosts))
    per_host: dict = {host: [] for host in hosts}           # host -> [(t, binned value)] over every run
    centre, band = [], []
    for data in runs:
        if data.start is None or data.end is None:
            continue
        count = _bins(key, data, points_per_run)
        width = (data.end - data.start) / count
        columns = {host: binned(data.hosts.get(host, {}).get(key, []), data.start, data.end, count)
                   for host in hosts}
        for index in range(count):
            t = data.start + (index + 0.5) * width
            present = [columns[host][index] for host in hosts if columns[host][index] is not None]
            for host in hosts:
                per_host[host].append((t, columns[host][index]))
            if not present:
                centre.append((t, None))
                band.append((t, None, None))
            elif key in SUMMED:
                centre.append((t, sum(present)))
            else:
                centre.append((t, statistics.median(present)))
                band.append((t, min(present), max(present)))
        for host in hosts:
            per_host[host].append((float("nan"), None))
        centre.append((float("nan"), None))
        band.append((float("nan"), None, None))
    means = {}
    for host, points in per_host.items():
        values = [v for _t, v in points if v is not None]
        if values:
            means[host] = sum(values) / len(values)
    result.outliers = standing_out(means)
    if key in SUMMED:
        result.lines.append((f"total of {len(hosts)} hosts", centre))
    else:
        result.lines.append((f"median of {len(hosts)} hosts", centre))
        result.bands.append((f"min-max of {len(hosts)}", band))
    result.lines.extend((host, per_host[host]) for host in result.outliers[:MAX_OUTLIER_LINES])
    return result
