"""One system name, one configuration (2.1.9): a client's measured memory and CPU cores are the same
in every leaf filed under the system (INVALID otherwise); its kernel release and OS too (WARNING)."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import ALL_BENCHMARKS, PROFILES, Rule
from mlps.rulebook.rules._evidence import GIB, host_figures, ref

TOLERANCE = 0.01        # MemTotal moves by a few MiB between boots; a changed DIMM moves it by far more


class IdenticalSystemConfig(Rule):
    id = "SYS-IDENTICAL-CONFIG"
    section = "2.1.9"
    description = ("every leaf under one system name comes from an identical configuration: a client's measured "
                   "memory and CPU cores do not change between leaves")
    editions = ("2.0", "3.0")
    profiles = PROFILES
    scope = "tree"
    choice = ("compared per client host where leaves record per-host facts (metadata system_info or "
              "cluster_info.json); the number of clients may differ between workloads (# Client Nodes is per row); "
              "memory within 1%; a changed kernel release or OS is a WARNING: the rule says identical software "
              "too, but a patch between two runs is not the hardware change this rule is about")

    def check(self, ctx):
        seen: dict[tuple, dict] = {}           # (division, org, system, host) -> first figures and leaf
        out = []
        for workload in ctx.tree.workloads:
            if workload.system is None or workload.benchmark not in ALL_BENCHMARKS:
                continue
            for leaf in workload.leaves:
                figures = host_figures(leaf)
                if leaf.summary_file and figures.source == ref(leaf, leaf.summary_file):
                    continue                   # DLIO's per-slot arrays are not per host (zero-padding)
                for host, memory in (figures.memory_per_host or {}).items():
                    cores = (figures.cores_per_host or {}).get(host)
                    software = (figures.software_per_host or {}).get(host) or {}
                    key = (workload.division, workload.org, workload.system, host)
                    first = seen.setdefault(key, {"memory": memory, "cores": cores, "software": software,
                                                  "leaf": leaf.rel})
                    changed = []
                    if abs(memory - first["memory"]) > TOLERANCE * first["memory"]:
                        changed.append(f"memory {first['memory'] / GIB:.1f} -> {memory / GIB:.1f} GiB")
                    if cores and first["cores"] and cores != first["cores"]:
                        changed.append(f"CPU cores {first['cores']:g} -> {cores:g}")
                    if changed:
                        out.append(self._changed(workload, host, first, leaf, changed, Outcome.INVALID))
                    updated = [f"{what} {first['software'][what]} -> {now}" for what, now in software.items()
                               if first["software"].get(what) not in (None, now)]
                    if updated:
                        out.append(self._changed(workload, host, first, leaf, updated, Outcome.WARNING))
        return out

    def _changed(self, workload, host: str, first: dict, leaf, changed: list, outcome: Outcome):
        return self.finding(f"system {workload.system}: client {host} changed between leaves: {'; '.join(changed)}",
                            outcome=outcome, expected=f"as in {first['leaf']}", actual="; ".join(changed), host=host,
                            evidence=leaf.rel, fix="file results of a changed configuration under a new system name "
                                                   "with its own systems/ description")
