"""Consistency across hosts: the values that differ and the spreads too wide for one system."""

from __future__ import annotations

import json
import statistics
from collections import Counter

from mlps.cluster.findings import _finding
from mlps.cluster.model import GIB, RULE_CONSISTENCY, RULE_MEMORY, SPREAD_LIMIT, ClusterInfo
from mlps.rulebook.findings import Finding, Outcome


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.1f}"


def _majority(values: dict[str, object]) -> object:
    """Most common value; a tie goes to the value of the first host (hosts are sorted by name)."""
    counts = Counter(json.dumps(v, sort_keys=True) for v in values.values())
    best = max(counts.values())
    for value in values.values():
        if counts[json.dumps(value, sort_keys=True)] == best:
            return value
    return None


def _differing(check: str, label: str, values: dict[str, object], outcome: Outcome = Outcome.WARNING,
               rule_id: str = RULE_CONSISTENCY) -> list[Finding]:
    """One finding when hosts disagree, naming the hosts that differ from the majority."""
    if len({json.dumps(v, sort_keys=True) for v in values.values()}) <= 1:
        return []
    expected = _majority(values)
    outliers = {h: v for h, v in values.items() if v != expected}
    shown = "; ".join(f"{h}: {v}" for h, v in outliers.items())
    return [_finding(rule_id, outcome, check,
                     f"{label} differs across hosts: most have {expected}, but {shown}",
                     list(outliers), expected=expected, actual=outliers)]


def _spread(check: str, label: str, values: dict[str, int], unit) -> list[Finding]:
    """SYS-NODE-CONSISTENCY: warn when max/min > 1.5; name the hosts far from the median."""
    if len(values) < 2:
        return []
    low, high = min(values.values()), max(values.values())
    ratio = high / low
    if ratio <= SPREAD_LIMIT:
        return []
    median = statistics.median(values.values())
    outliers = [h for h, v in values.items() if max(v, median) / min(v, median) > SPREAD_LIMIT]
    if not outliers:  # e.g. two hosts, neither far from the middle: name both extremes
        outliers = [h for h, v in values.items() if v in (low, high)]
    shown = ", ".join(f"{h} {unit(values[h])}" for h in outliers)
    return [_finding(RULE_CONSISTENCY, Outcome.WARNING, check,
                     f"per-host {label} max/min is {ratio:.2f} (> {SPREAD_LIMIT}): {shown}", outliers,
                     expected=f"max/min <= {SPREAD_LIMIT}", actual=round(ratio, 4),
                     fix="use clients of the same size, or expect uneven page caching")]


def _mtu_values(cluster: ClusterInfo) -> list[tuple[str, dict[str, object]]]:
    """(interface, {host: mtu}) pairs to compare. Facts do not say which interface carries the
    route, so unless one is named, every non-lo interface present on all hosts is compared."""
    if cluster.interface:
        return [(cluster.interface, {h.hostname: h.net_mtu.get(cluster.interface) for h in cluster.hosts})]
    common = None
    for host in cluster.hosts:
        names = {n for n in host.net_mtu if n != "lo"}
        common = names if common is None else common & names
    return [(name, {h.hostname: h.net_mtu[name] for h in cluster.hosts}) for name in sorted(common or ())]


def consistency_findings(cluster: ClusterInfo) -> list[Finding]:
    findings: list[Finding] = []
    hosts = cluster.hosts
    unknown = [h.hostname for h in hosts if h.memory_total_bytes is None]
    if unknown:
        findings.append(_finding(RULE_MEMORY, Outcome.WARNING, "memory_unknown",
                                 f"MemTotal is unknown on {', '.join(unknown)}: the total client memory is "
                                 f"incomplete and cannot size the dataset", unknown,
                                 expected="MemTotal from /proc/meminfo", actual=None,
                                 fix="fix the facts collection on these hosts (see their errors)"))
    if len(hosts) < 2:
        return findings
    memory = {h.hostname: h.memory_total_bytes for h in hosts if h.memory_total_bytes is not None}
    findings += _spread("memory", "memory", memory, lambda v: f"{_gib(v)} GiB")
    cores = {h.hostname: h.physical_cores for h in hosts if h.physical_cores is not None}
    spread = _spread("cores", "physical cores", cores, lambda v: f"{v} cores")
    findings += spread or _differing("cores", "physical core count", cores, Outcome.INFO)
    for check, label, attr in (("cpu_model", "CPU model", "cpu_model"),
                               ("kernel", "kernel release", "kernel_release"),
                               ("os", "OS release", "os_name")):
        values = {h.hostname: getattr(h, attr) for h in hosts if getattr(h, attr) is not None}
        findings += _differing(check, label, values)
    if cluster.data_path:
        mounts = {h.hostname: h.path_mount(cluster.data_path) for h in hosts}
        known = {h: m for h, m in mounts.items() if m}
        findings += _differing("data_mount_fstype", f"filesystem type of the data path {cluster.data_path}",
                               {h: m["fstype"] for h, m in known.items()})
        findings += _differing("data_mount_options", f"mount options of the data path {cluster.data_path}",
                               {h: ",".join(sorted(m["options"])) for h, m in known.items()})
    for name, values in _mtu_values(cluster):
        missing = [h for h, v in values.items() if v is None]
        if missing:
            findings.append(_finding(RULE_CONSISTENCY, Outcome.WARNING, "mtu",
                                     f"interface {name} is absent on {', '.join(missing)}", missing,
                                     expected=f"interface {name} on every host", actual=None))
        findings += _differing("mtu", f"MTU of {name}", {h: v for h, v in values.items() if v is not None})
    return findings
