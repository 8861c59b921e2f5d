"""From host-facts documents to one ClusterInfo: one host per machine-id (never per rank), then findings."""

from __future__ import annotations

import errno
from pathlib import Path

from mlps.cluster.consistency import _gib, consistency_findings
from mlps.cluster.findings import _finding
from mlps.cluster.model import FACTS_SCHEMA, RULE_MEMORY, ClusterInfo, HostInfo, _utc_now
from mlps.errors import UserError
from mlps.jsonio import ReadError, load_json
from mlps.natural_order import natural_key
from mlps.rulebook.findings import Finding, Outcome


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
    hosts = sorted(by_key.values(), key=lambda h: (natural_key(h.hostname), h.key))
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
