"""What the reader keeps of the bulky per-leaf documents, so a tree of thousands of leaves fits in
little memory.

A campaign copies the same cluster_info.json (every host's facts: mounts, counters, cgroups) into
each leaf: parsed, it is the largest object a leaf holds. The reader parses identical bytes once
(a few recent ones are remembered, since a workload's leaves are read one after another) and
drops the fact dumps no rule and no report reads. The run metadata loses the campaign's plan, the
launch command lines and the progress log, which only the campaign itself reads back (through its
own loader). Documents are shared between leaves: nothing downstream may change them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

# Host facts that only describe the moment of collection (counters, raw dumps); the cluster model,
# the rules and the system description read hostname, memory, CPU, kernel, OS, NICs, mounts and paths.
FACT_DUMPS = frozenset({"mountinfo", "vmstat", "diskstats", "cgroups", "stat_cpu", "stat", "loadavg", "uptime",
                        "skipped", "collector"})
METADATA_DUMPS = frozenset({"plan", "progress", "argv", "dlio_argv", "rank_argv"})
REMEMBERED = 16                      # distinct documents kept for sharing (a workload's worth and more)


def cluster_info(doc):
    """cluster_info.json without FACT_DUMPS in each host's facts (in place; returns it)."""
    hosts = doc.get("hosts") if isinstance(doc, dict) else None
    for host in hosts if isinstance(hosts, list) else ():
        facts = host.get("facts") if isinstance(host, dict) else None
        if isinstance(facts, dict):
            for key in FACT_DUMPS & facts.keys():
                del facts[key]
    return doc


def metadata(doc):
    """Run metadata without METADATA_DUMPS (in place; returns it)."""
    if isinstance(doc, dict):
        for key in METADATA_DUMPS & doc.keys():
            del doc[key]
    return doc


class Shared:
    """The last REMEMBERED parsed documents by the digest of their bytes: identical files, one object."""

    def __init__(self) -> None:
        self._docs: OrderedDict = OrderedDict()

    @staticmethod
    def key(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    def get(self, key: bytes):
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
        return doc

    def put(self, key: bytes, doc) -> None:
        self._docs[key] = doc
        if len(self._docs) > REMEMBERED:
            self._docs.popitem(last=False)
