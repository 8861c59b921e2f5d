"""Evidence the rules share: measured memory, per-host figures, parameters, file presence.

Where several sources can answer, the most direct wins: the run's own metadata `system_info`,
then a `cluster_info.json` collected with the run, then DLIO's summary arrays (whose sum is right
but whose slots are not per host: DLIO fills them assuming ranks in contiguous blocks per node).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from mlps import cluster as cluster_model

GIB = 2**30


def ref(leaf, name: str | None = None) -> str:
    """Path of a leaf (or of a file in it, possibly above it) relative to the verified root."""
    return posixpath.normpath(f"{leaf.rel}/{name}") if name else leaf.rel


def config_ref(leaf, name: str) -> str:
    return ref(leaf, f"{leaf.config_dir or 'dlio_config'}/{name}")


def number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def truthy(value) -> bool | None:
    """YAML/Hydra booleans as they appear in configs and override strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off", ""):
            return False
    return None


# --- memory and cores -------------------------------------------------------------------------
@dataclass
class HostFigures:
    total_memory_bytes: float | None          # summed once per host
    memory_per_host: dict | None              # host -> bytes, when known per host
    cores_per_host: dict | None               # host -> logical CPUs, when known per host
    source: str | None                        # evidence path
    software_per_host: dict | None = None     # host -> {"kernel": release, "os": name}, from host facts


def _facts_software(facts: dict) -> dict:
    """Kernel release and OS name of one host's facts (the cluster model's reading), the known ones."""
    host = cluster_model.HostInfo(facts)
    return {k: v for k, v in (("kernel", host.kernel_release), ("os", host.os_name)) if v}


def _hosts_from_facts(hosts) -> dict:
    """host -> facts dict, from a list of facts or a mapping host -> facts."""
    if isinstance(hosts, dict):
        return {str(k): v for k, v in hosts.items() if isinstance(v, dict)}
    out = {}
    if isinstance(hosts, list):
        for index, item in enumerate(hosts):
            if isinstance(item, dict):
                key = item.get("machine_id") or item.get("hostname") or f"host{index}"
                out[str(key)] = item
    return out


def _facts_memory(facts: dict) -> float | None:
    meminfo = facts.get("meminfo")
    if isinstance(meminfo, dict):
        value = number(meminfo.get("MemTotal"))
        if value:
            return value
    memory = facts.get("memory")
    if isinstance(memory, dict):
        return number(memory.get("total")) or number(memory.get("total_bytes"))
    return number(facts.get("mem_total_bytes")) or number(facts.get("memory_total_bytes"))


def _facts_cores(facts: dict) -> float | None:
    cpuinfo = facts.get("cpuinfo")
    if isinstance(cpuinfo, dict) and isinstance(cpuinfo.get("summary"), dict):
        return number(cpuinfo["summary"].get("logical_cpus"))
    cpu = facts.get("cpu")
    if isinstance(cpu, dict):
        return number(cpu.get("logical_cpus")) or number(cpu.get("count"))
    return number(facts.get("cpu_count"))


def _from_hosts(hosts: dict, source: str) -> HostFigures | None:
    memory = {h: m for h, f in hosts.items() if (m := _facts_memory(f))}
    cores = {h: c for h, f in hosts.items() if (c := _facts_cores(f))}
    software = {h: w for h, f in hosts.items() if (w := _facts_software(f))}
    if not memory:
        return None
    return HostFigures(sum(memory.values()), memory, cores or None, source, software or None)


def cluster_of(leaf):
    """The leaf's cluster_info.json (`mlps-cluster-info/1`) as a cluster.ClusterInfo, or None."""
    info = leaf.cluster_info
    if not isinstance(info, dict) or info.get("schema") != cluster_model.SCHEMA:
        return None
    try:
        return cluster_model.ClusterInfo.from_dict(info)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def host_figures(leaf) -> HostFigures:
    meta = leaf.metadata or {}
    system = meta.get("system_info")
    if isinstance(system, dict):
        found = _from_hosts(_hosts_from_facts(system.get("hosts")), ref(leaf, leaf.metadata_file))
        if found:
            return found
        total = number(system.get("total_memory_bytes"))
        if total:
            return HostFigures(total, None, None, ref(leaf, leaf.metadata_file))
    cluster = cluster_of(leaf)
    if cluster is not None and cluster.memory_complete:
        return HostFigures(cluster.total_memory_bytes,
                           {h.hostname: h.memory_total_bytes for h in cluster.hosts},
                           {h.hostname: h.physical_cores for h in cluster.hosts if h.physical_cores} or None,
                           ref(leaf, leaf.cluster_info_file),
                           {h.hostname: w for h in cluster.hosts if (w := _facts_software(h.facts))} or None)
    summary = leaf.summary or {}
    memory = summary.get("host_memory_GB")
    if isinstance(memory, list) and memory and all(number(v) is not None for v in memory):
        values = [number(v) for v in memory]
        total = sum(values) * GIB
        cores = summary.get("host_cpu_count")
        per_host = per_cores = None
        # Per-slot values are per host only when no slot is zero (DLIO zero-pads the slots of round-robin placement).
        if all(values) and len(values) == leaf.num_hosts:
            per_host = {f"slot{i}": v * GIB for i, v in enumerate(values)}
            if isinstance(cores, list) and len(cores) == len(values) and all(number(c) for c in cores):
                per_cores = {f"slot{i}": number(c) for i, c in enumerate(cores)}
        return HostFigures(total or None, per_host, per_cores, ref(leaf, leaf.summary_file))
    return HostFigures(None, None, None, None)


def ranks_per_host(leaf) -> dict | None:
    """host -> ranks, when the run recorded its placement (our metadata `placement`/`ranks_per_host`)."""
    meta = leaf.metadata or {}
    for key in ("ranks_per_host", "placement"):
        value = meta.get(key)
        if isinstance(value, dict) and value and all(isinstance(v, int) for v in value.values()):
            return dict(value)
    return None


# --- required files ---------------------------------------------------------------------------
def has_dlio_log(leaf) -> bool:
    """dlio.log, or the v1.0-era names dlp.log / dft.log."""
    return bool({"dlio.log", "dlp.log", "dft.log"} & leaf.files)


def missing_leaf_files(leaf, command_prefix: str | None, edition) -> list:
    """[(relative path, outcome_is_warning, why)] for the files a DLIO leaf must carry (rule book §2.1.14-§2.1.20)."""
    out = []
    # DLIO 2.0.0 (the public release) writes no summary, per-epoch stats or outputs when it only
    # generates data; for datagen leaves their absence is a warning.
    datagen = leaf.command == "datagen"
    if leaf.summary_file is None:
        out.append((ref(leaf, "summary.json"), datagen, "DLIO's summary (rank 0)"))
    if not leaf.per_epoch_files:
        out.append((ref(leaf, "0_per_epoch_stats.json" if edition.warmup else "per_epoch_stats.json"),
                    datagen, "DLIO's per-epoch statistics"))
    if edition.dlio_log_required and not has_dlio_log(leaf):
        out.append((ref(leaf, "dlio.log"), False, "DLIO's log"))
    if command_prefix and edition.stdout_logs_required:
        for stream in ("stdout", "stderr"):
            name = f"{command_prefix}.{stream}.log"
            if name not in leaf.files:
                out.append((ref(leaf, name), False, f"the benchmark's {stream}"))
    if not leaf.output_files and edition.stdout_logs_required:
        # Required by rule book §2.1.19, but nearly every v3.0 submitter pruned them;
        # the published tree is the tie-breaker, so a missing per-rank output is a warning.
        out.append((ref(leaf, "0_output.json"), True, "DLIO's per-rank output"))
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        if name not in leaf.config_files:
            out.append((config_ref(leaf, name), False, "the DLIO configuration actually run"))
    return out
