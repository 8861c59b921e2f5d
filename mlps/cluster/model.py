"""The cluster model: one HostInfo per machine from its host facts, and the ClusterInfo over them."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

from mlps.cluster.findings import finding_from_dict, finding_to_dict
from mlps.rulebook.findings import Finding
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
