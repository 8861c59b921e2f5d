"""Drift between a start and an end snapshot of the same cluster: hardware or configuration that changed."""

from __future__ import annotations

from mlps.cluster.findings import _finding
from mlps.cluster.model import RULE_DRIFT, ClusterInfo, HostInfo
from mlps.rulebook.findings import Finding, Outcome


def _fixed_facts(host: HostInfo) -> dict[str, object]:
    # Only what must not move during a run; counters (MemFree, diskstats, uptime, ...) never count.
    return {"memory_total_bytes": host.memory_total_bytes, "physical_cores": host.physical_cores,
            "logical_cpus": host.logical_cpus, "cpu_model": host.cpu_model,
            "kernel_release": host.kernel_release, "os": host.os_name}


def drift_findings(start: ClusterInfo, end: ClusterInfo) -> list[Finding]:
    """Hardware or configuration that changed between two snapshots of the same cluster."""
    findings: list[Finding] = []
    start_hosts = {h.key: h for h in start.hosts}
    end_hosts = {h.key: h for h in end.hosts}
    for key in sorted(start_hosts.keys() ^ end_hosts.keys()):
        host, where, other = ((start_hosts[key], "start", "end") if key in start_hosts
                              else (end_hosts[key], "end", "start"))
        findings.append(_finding(RULE_DRIFT, Outcome.WARNING, "host_set",
                                 f"host {host.hostname} is in the {where} snapshot but not in the {other} one; "
                                 f"drift on it cannot be ruled out", [host.hostname],
                                 expected=f"{host.hostname} in both snapshots", actual=f"only in {where}"))
    paths = [p for p in dict.fromkeys([start.data_path, start.results_path, end.data_path, end.results_path]) if p]
    interfaces = {start.interface, end.interface} - {None}
    for key in sorted(start_hosts.keys() & end_hosts.keys()):
        before, after = start_hosts[key], end_hosts[key]
        name = before.hostname
        old, new = _fixed_facts(before), _fixed_facts(after)
        for item, value in old.items():
            if value != new[item]:
                # hardware or OS changing under a run means the result is not from one configuration
                findings.append(_finding(RULE_DRIFT, Outcome.INVALID, item,
                                         f"{item} on {name} changed during the run: {value} -> {new[item]}",
                                         [name], expected=value, actual=new[item]))
        for path in paths:
            was, now = before.path_mount(path), after.path_mount(path)
            if was != now:
                findings.append(_finding(RULE_DRIFT, Outcome.WARNING, "path_mount",
                                         f"mount of {path} on {name} changed during the run: {was} -> {now}",
                                         [name], expected=was, actual=now))
        old_mtu, new_mtu = before.net_mtu, after.net_mtu
        for iface in sorted((old_mtu.keys() & new_mtu.keys()) | interfaces):
            if iface != "lo" and old_mtu.get(iface) != new_mtu.get(iface):
                findings.append(_finding(RULE_DRIFT, Outcome.WARNING, "mtu",
                                         f"MTU of {iface} on {name} changed during the run: "
                                         f"{old_mtu.get(iface)} -> {new_mtu.get(iface)}", [name],
                                         expected=old_mtu.get(iface), actual=new_mtu.get(iface)))
    return findings
