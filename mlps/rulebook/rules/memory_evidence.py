"""Evidence of our own (rule book §3.1.2 inputs, the DLIO array pitfall, §2.1.7 descriptions): the
memory DLIO recorded per host, and the memory a system description declares, against the memory
measured on each host."""

from __future__ import annotations

from mlps.report.system import load_description
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import ALL_BENCHMARKS, PROFILES, Rule
from mlps.rulebook.rules._evidence import GIB, host_figures, number, ref
from mlps.rulebook.rules.system_description import system_files

TOLERANCE = 0.02        # psutil's total and MemTotal differ by rounding; a doubled host is +100%


class DlioMemoryArray(Rule):
    id = "MLPS-MEM-DLIO"
    section = "3.1.2"
    description = ("mlps evidence (not a rule-book requirement): "
                   "DLIO's host_memory_GB array against the measured per-host memory: zero-padded slots (INFO), "
                   "a sum that counts hosts twice or misses some (WARNING)")
    severity = Outcome.WARNING
    benchmarks = ("training", "checkpointing")
    profiles = PROFILES
    choice = ("measured memory from the run's metadata system_info or cluster_info.json; DLIO fills one slot per "
              "node-local rank 0 assuming block placement, so with round-robin placement slots merge or stay 0")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            slots = (leaf.summary or {}).get("host_memory_GB")
            figures = host_figures(leaf)
            if not isinstance(slots, list) or not slots or figures.memory_per_host is None:
                continue
            if leaf.summary_file and figures.source == ref(leaf, leaf.summary_file):
                continue                       # only DLIO's own figures: nothing to compare with
            values = [number(v) for v in slots]
            if None in values:
                continue
            measured = sum(figures.memory_per_host.values()) / GIB
            recorded = sum(values)
            evidence = ref(leaf, leaf.summary_file)
            ratio = recorded / measured if measured else None
            if ratio is not None and abs(ratio - 1) > TOLERANCE:
                kind = "counts hosts more than once" if ratio > 1 else "misses hosts"
                out.append(self.finding(
                    f"DLIO's host_memory_GB sums to {recorded:.1f} GiB but the {len(figures.memory_per_host)} "
                    f"host(s) measured {measured:.1f} GiB: the array {kind} ({ratio:.2f}x)",
                    expected=round(measured, 1), actual=round(recorded, 1), evidence=evidence,
                    fix="size the dataset from measured memory (cluster_info.json), not from DLIO's array"))
            elif 0 in values and len(values) > 1:
                out.append(self.finding(
                    f"DLIO's host_memory_GB has {values.count(0)} empty slot(s) of {len(values)}: ranks were not "
                    "placed in blocks per host, so slots are not hosts (the sum is right)",
                    outcome=Outcome.INFO, actual=slots, evidence=evidence))
        return out


class DescribedMemory(Rule):
    id = "MLPS-MEM-DESCRIPTION"
    section = "2.1.7"
    description = ("mlps evidence (not a rule-book requirement): the client memory a system description declares "
                   "(clients.nodes[].memory_gib per hostname, clients.total_memory_gib) against the memory measured "
                   "on the hosts")
    severity = Outcome.WARNING
    editions = ("3.0",)
    benchmarks = ALL_BENCHMARKS
    profiles = PROFILES
    choice = (f"the first leaf of the workload with measured per-host facts (metadata system_info or "
              f"cluster_info.json; DLIO's array is no measurement); within {TOLERANCE:.0%}; the fields are those "
              "`mlps report` writes in its description draft, so other layouts are not compared")

    def check(self, ctx):
        files = system_files(ctx.workload)
        if files is None or not files[0].is_file():
            return []
        doc = load_description(files[0], root=ctx.tree.root)
        clients = doc.get("clients") if isinstance(doc, dict) else None
        if not isinstance(clients, dict):
            return []
        measured = next((f for f in map(host_figures, ctx.runs) if f.memory_per_host and f.source
                         and not any(h.startswith("slot") for h in f.memory_per_host)), None)
        if measured is None:
            return []
        declared = [(f"client {node.get('hostname')}", number(node.get("memory_gib")),
                     measured.memory_per_host.get(str(node.get("hostname"))))
                    for node in clients.get("nodes") or [] if isinstance(node, dict)]
        declared.append(("all clients together", number(clients.get("total_memory_gib")),
                         sum(measured.memory_per_host.values())))
        name = f"systems/{files[0].name}"
        out = []
        for what, said, found in declared:
            if said is None or found is None:
                continue
            if abs(said * GIB - found) > TOLERANCE * found:
                out.append(self.finding(
                    f"{name} declares {said:g} GiB for {what}; the hosts measured {found / GIB:.1f} GiB",
                    expected=round(found / GIB, 1), actual=said, evidence=measured.source,
                    fix=f"correct {name} (mlps report writes a draft from the facts) or file these results under "
                        "the system they ran on"))
        return out
