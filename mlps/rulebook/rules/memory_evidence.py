"""Evidence of our own (rule book §3.1.2 inputs, the DLIO array pitfall): the memory DLIO recorded
per host against the memory measured on each host."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import PROFILES, Rule
from mlps.rulebook.rules._evidence import GIB, host_figures, number, ref

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
