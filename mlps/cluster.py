"""One view of the client cluster, built from `mlps-host-facts/1` documents (docs/schemas.md).

Totals are per host, never per rank: facts with the same machine_id (several ranks of one MPI
collection, or several network namespaces of one machine, which share /proc/meminfo) are one
host; facts without a machine_id are matched by hostname. Consistency findings compare the hosts
with each other; drift findings compare a start and an end snapshot of the same cluster.
`cluster_info.json` (`mlps-cluster-info/1`) holds the facts themselves, so reading it back gives
the same object and every derived figure can be recomputed.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mlps.errors import UserError
from mlps.jsonio import ReadError, load_json, write_json_atomic
from mlps.rulebook.findings import Finding, Outcome
from mlps_module_utils.mlps_procfs import mount_for

SCHEMA = "mlps-cluster-info/1"
FACTS_SCHEMA = "mlps-host-facts/1"
GIB = 2**30
SPREAD_LIMIT = 1.5                      # SYS-NODE-CONSISTENCY: warn when max/min exceeds this
RULE_CONSISTENCY = "SYS-NODE-CONSISTENCY"
RULE_MEMORY = "SYS-MEM-MEASURED"
RULE_DRIFT = "SYS-DRIFT"


# ---------------------------------------------------------------------------------------------
# Hosts


@dataclass
class HostInfo:
    """One physical host: the facts of its first document, plus what was folded into it."""

    facts: dict
    aliases: list[str] = field(default_factory=list)   # other hostnames seen with this machine_id
    ranks: int = 1                                       # facts documents folded into this host

    @property
    def hostname(self) -> str:
        return str(self.facts.get("hostname") or self.machine_id or "unknown")

    @property
    def machine_id(self) -> str | None:
        return self.facts.get("machine_id") or None

    @property
    def key(self) -> str:
        return f"machine-id:{self.machine_id}" if self.machine_id else f"hostname:{self.hostname}"

    @property
    def memory_total_bytes(self) -> int | None:
        value = (self.facts.get("meminfo") or {}).get("MemTotal")
        return value if isinstance(value, int) and value > 0 else None

    def _cpu(self, name: str):
        return ((self.facts.get("cpuinfo") or {}).get("summary") or {}).get(name)

    @property
    def physical_cores(self) -> int | None:
        return self._cpu("physical_cores") or None

    @property
    def logical_cpus(self) -> int | None:
        return self._cpu("logical_cpus") or None

    @property
    def cpu_model(self) -> str | None:
        return self._cpu("model")

    @property
    def architecture(self) -> str | None:
        return self._cpu("architecture")

    @property
    def kernel_release(self) -> str | None:
        return (self.facts.get("kernel") or {}).get("release")

    @property
    def os_name(self) -> str | None:
        release = self.facts.get("os_release") or {}
        if release.get("PRETTY_NAME"):
            return release["PRETTY_NAME"]
        named = " ".join(str(release[k]) for k in ("ID", "VERSION_ID") if release.get(k))
        return named or None

    @property
    def net_mtu(self) -> dict[str, int]:
        return dict(self.facts.get("net_mtu") or {})

    def path_mount(self, path: str | None) -> dict | None:
        """Mount holding `path`: the probe of that path if the facts have one, else the longest
        mountpoint prefix in the host's mount table (the path itself may not exist there)."""
        if not path:
            return None
        probe = (self.facts.get("paths") or {}).get(path)
        if probe and probe.get("fstype"):
            return {"mountpoint": probe.get("mountpoint"), "fstype": probe.get("fstype"),
                    "device": probe.get("device"), "options": list(probe.get("mount_options") or [])}
        if not path.startswith("/"):
            return None
        mount = mount_for(os.path.normpath(path), self.facts.get("mounts") or [])
        if not mount:
            return None
        return {"mountpoint": mount.get("mountpoint"), "fstype": mount.get("fstype"),
                "device": mount.get("device"), "options": list(mount.get("options") or [])}

    def to_dict(self, data_path: str | None = None) -> dict:
        mount = self.path_mount(data_path)
        return {
            "key": self.key, "hostname": self.hostname, "aliases": list(self.aliases), "ranks": self.ranks,
            # derived, for readers that do not recompute; ignored when read back
            "summary": {
                "memory_total_bytes": self.memory_total_bytes, "physical_cores": self.physical_cores,
                "logical_cpus": self.logical_cpus, "cpu_model": self.cpu_model,
                "kernel_release": self.kernel_release, "os": self.os_name,
                "data_mount": mount,
            },
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, data: dict) -> HostInfo:
        return cls(facts=data["facts"], aliases=list(data.get("aliases") or []), ranks=int(data.get("ranks", 1)))


# ---------------------------------------------------------------------------------------------
# The cluster


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ClusterInfo:
    hosts: list[HostInfo]
    findings: list[Finding] = field(default_factory=list)
    data_path: str | None = None
    results_path: str | None = None
    interface: str | None = None
    created_at: str = field(default_factory=_utc_now)

    @property
    def num_hosts(self) -> int:
        return len(self.hosts)

    def _known(self, attr: str) -> list:
        return [v for v in (getattr(h, attr) for h in self.hosts) if v is not None]

    @property
    def memory_complete(self) -> bool:
        """True when every host's MemTotal is known, so the total may size a dataset."""
        return bool(self.hosts) and len(self._known("memory_total_bytes")) == len(self.hosts)

    @property
    def total_memory_bytes(self) -> int:
        return sum(self._known("memory_total_bytes"))

    @property
    def min_memory_bytes(self) -> int | None:
        return min(self._known("memory_total_bytes"), default=None)

    @property
    def max_memory_bytes(self) -> int | None:
        return max(self._known("memory_total_bytes"), default=None)

    @property
    def total_physical_cores(self) -> int:
        return sum(self._known("physical_cores"))

    @property
    def min_physical_cores(self) -> int | None:
        return min(self._known("physical_cores"), default=None)

    @property
    def max_physical_cores(self) -> int | None:
        return max(self._known("physical_cores"), default=None)

    @property
    def total_logical_cpus(self) -> int:
        return sum(self._known("logical_cpus"))

    def host(self, name: str) -> HostInfo | None:
        for host in self.hosts:
            if name in (host.hostname, host.key, host.machine_id, *host.aliases):
                return host
        return None

    def totals(self) -> dict:
        return {
            "num_hosts": self.num_hosts,
            "ranks": sum(h.ranks for h in self.hosts),
            "memory_complete": self.memory_complete,
            "total_memory_bytes": self.total_memory_bytes,
            "min_memory_bytes": self.min_memory_bytes,
            "max_memory_bytes": self.max_memory_bytes,
            "total_physical_cores": self.total_physical_cores,
            "min_physical_cores": self.min_physical_cores,
            "max_physical_cores": self.max_physical_cores,
            "total_logical_cpus": self.total_logical_cpus,
        }

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "created_at": self.created_at,
            "data_path": self.data_path,
            "results_path": self.results_path,
            "interface": self.interface,
            "totals": self.totals(),                      # derived; recomputed when read back
            "findings": [finding_to_dict(f) for f in self.findings],
            "hosts": [h.to_dict(self.data_path) for h in self.hosts],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ClusterInfo:
        return cls(
            hosts=[HostInfo.from_dict(h) for h in data.get("hosts") or []],
            findings=[finding_from_dict(f) for f in data.get("findings") or []],
            data_path=data.get("data_path"), results_path=data.get("results_path"),
            interface=data.get("interface"), created_at=data.get("created_at") or "",
        )


# ---------------------------------------------------------------------------------------------
# Findings (the rule engine's Finding; hosts are also kept as a list in `extra`)


def _finding(rule_id: str, outcome: Outcome, check: str, message: str, hosts: list[str],
             expected=None, actual=None, fix: str | None = None) -> Finding:
    return Finding(rule_id=rule_id, outcome=outcome, message=message, expected=expected, actual=actual,
                   host=",".join(hosts) or None, fix=fix, extra={"check": check, "hosts": list(hosts)})


def finding_to_dict(finding: Finding) -> dict:
    out = finding.as_dict()
    out["extra"] = dict(finding.extra)   # always present, so reading back is exact
    return out


def finding_from_dict(data: dict) -> Finding:
    return Finding(rule_id=data["rule"], outcome=Outcome(data["outcome"]), message=data.get("message", ""),
                   expected=data.get("expected"), actual=data.get("actual"), evidence=data.get("evidence"),
                   host=data.get("host"), fix=data.get("fix"), section=data.get("section"),
                   workload=data.get("workload"), missing=data.get("missing"),
                   extra=dict(data.get("extra") or {}))


def finding_hosts(finding: Finding) -> list[str]:
    return list(finding.extra.get("hosts") or ([] if not finding.host else finding.host.split(",")))


# ---------------------------------------------------------------------------------------------
# Building


def _check_facts(doc, where: str) -> dict:
    if not isinstance(doc, dict):
        raise UserError(f"{where}: expected a JSON object with schema {FACTS_SCHEMA!r}, got "
                        f"{type(doc).__name__}; pass files written by mlps_procfs.py or mlps_host_facts")
    if doc.get("schema") != FACTS_SCHEMA:
        raise UserError(f"{where}: schema is {doc.get('schema')!r}, expected {FACTS_SCHEMA!r}; pass files "
                        f"written by mlps_procfs.py or mlps_host_facts")
    if not doc.get("hostname") and not doc.get("machine_id"):
        raise UserError(f"{where}: facts name neither a hostname nor a machine_id, so the host cannot be "
                        f"told apart; collect them again")
    return doc


def load_facts_files(paths) -> list[dict]:
    """Facts documents from JSON files; each file holds one document or a list of them (MPI gather)."""
    docs: list[dict] = []
    for name in paths:
        path = Path(name)
        try:
            data = load_json(path)
        except ReadError as exc:
            if exc.errno == errno.ENOENT:
                raise UserError(f"{path}: no such facts file; pass host-facts JSON files") from None
            raise UserError(f"{path}: cannot read host facts ({exc.detail}); expected {FACTS_SCHEMA} JSON") from None
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if isinstance(data, list) else str(path)
            docs.append(_check_facts(item, where))
    return docs


def dedupe_hosts(docs: list[dict]) -> tuple[list[HostInfo], list[Finding]]:
    """Fold facts into hosts: same machine_id = one host; no machine_id = match by hostname."""
    by_key: dict[str, HostInfo] = {}
    by_name: dict[str, HostInfo] = {}
    for i, raw in enumerate(docs):
        doc = _check_facts(raw, f"facts[{i}]")
        machine_id = doc.get("machine_id") or None
        name = doc.get("hostname") or None
        host = by_key.get(f"machine-id:{machine_id}") if machine_id else by_name.get(name)
        if host is None:
            host = HostInfo(facts=doc, aliases=[], ranks=0)
            by_key[host.key] = host
            if name:
                by_name.setdefault(name, host)
        elif name and name != host.hostname and name not in host.aliases:
            host.aliases.append(name)
        host.ranks += 1
    hosts = sorted(by_key.values(), key=lambda h: (h.hostname, h.key))
    findings = [
        _finding(RULE_MEMORY, Outcome.WARNING, "shared_machine_id",
                 f"hosts {', '.join([h.hostname, *h.aliases])} report one machine_id and are counted once "
                 f"({_gib(h.memory_total_bytes)} GiB); if they are distinct machines (a cloned image), give "
                 f"each its own /etc/machine-id", [h.hostname, *h.aliases],
                 expected="one machine_id per host", actual=h.machine_id)
        for h in hosts if h.aliases
    ]
    return hosts, findings


def build_cluster(docs: list[dict], data_path: str | None = None, results_path: str | None = None,
                  interface: str | None = None, created_at: str | None = None) -> ClusterInfo:
    if not docs:
        raise UserError("no host facts given; collect facts on every client first")
    hosts, findings = dedupe_hosts(docs)
    cluster = ClusterInfo(hosts=hosts, data_path=data_path, results_path=results_path, interface=interface,
                          created_at=created_at or _utc_now())
    cluster.findings = findings + consistency_findings(cluster)
    return cluster


# ---------------------------------------------------------------------------------------------
# Consistency across hosts


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


# ---------------------------------------------------------------------------------------------
# Drift between a start and an end snapshot


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


# ---------------------------------------------------------------------------------------------
# cluster_info.json and the per-host table


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
