"""One view of the client cluster, built from `mlps-host-facts/1` documents (docs/schemas.md).

Totals are per host, never per rank: facts with the same machine_id (several ranks of one MPI
collection, or several network namespaces of one machine, which share /proc/meminfo) are one
host; facts without a machine_id are matched by hostname. Consistency findings compare the hosts
with each other; drift findings compare a start and an end snapshot of the same cluster.
`cluster_info.json` (`mlps-cluster-info/1`) holds the facts themselves, so reading it back gives
the same object and every derived figure can be recomputed.

- model.py        HostInfo (one machine's facts) and ClusterInfo (the hosts, totals)
- build.py        facts documents -> ClusterInfo (deduplication, memory and consistency findings)
- consistency.py  hosts that differ from the rest, spreads too wide for one system
- drift.py        what changed between the start and end snapshots
- findings.py     findings as dicts in cluster_info.json
- files.py        cluster_info.json and the per-host table
"""

from mlps.cluster.build import build_cluster, dedupe_hosts, load_facts_files
from mlps.cluster.consistency import consistency_findings
from mlps.cluster.drift import drift_findings
from mlps.cluster.files import format_host_table, host_rows, read_cluster_info, write_cluster_info
from mlps.cluster.findings import finding_from_dict, finding_hosts, finding_to_dict
from mlps.cluster.model import (
    FACTS_SCHEMA,
    GIB,
    RULE_CONSISTENCY,
    RULE_DRIFT,
    RULE_MEMORY,
    SCHEMA,
    SPREAD_LIMIT,
    ClusterInfo,
    HostInfo,
)

__all__ = [
    "FACTS_SCHEMA", "GIB", "RULE_CONSISTENCY", "RULE_DRIFT", "RULE_MEMORY", "SCHEMA", "SPREAD_LIMIT", "ClusterInfo",
    "HostInfo", "build_cluster", "consistency_findings", "dedupe_hosts", "drift_findings", "finding_from_dict",
    "finding_hosts", "finding_to_dict", "format_host_table", "host_rows", "load_facts_files", "read_cluster_info",
    "write_cluster_info",
]
