"""What the verifier can vouch for: a workload it has no rules for, and results claimed OPEN, are
never reported CLOSED."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import ALL_BENCHMARKS, PROFILES, Rule, all_rules


class OpenDivision(Rule):
    id = "DIVISION-OPEN"
    section = "2.1.2 / 1.2"
    description = "results under open/ (or checked with --profile open) are OPEN at best, never CLOSED"
    severity = Outcome.OPEN
    benchmarks = ALL_BENCHMARKS

    def check(self, ctx):
        if ctx.division != "open" and ctx.workload.division != "open":
            return []
        return [self.finding("the results are in the OPEN division; they are compared with OPEN results only",
                             expected="CLOSED requires a closed/ folder", actual="open",
                             evidence=ctx.workload.rel)]


class BenchmarkUnchecked(Rule):
    id = "BENCH-UNCHECKED"
    section = "1.2"
    description = ("a workload whose benchmark (or edition of it) no rule of this verifier checks gets the "
                   "verdict UNCHECKED, never a green one")
    severity = Outcome.UNCHECKED
    benchmarks = ALL_BENCHMARKS
    profiles = PROFILES

    def check(self, ctx):
        if any(_checks_benchmark(rule, ctx) for rule in all_rules()):
            return []
        workload = ctx.workload
        return [self.finding(
            f"no rule of this verifier checks {workload.benchmark} results of edition {ctx.edition.name}; "
            "its files were read but nothing in them was judged",
            expected="a benchmark the verifier checks (training, checkpointing, kv_cache)",
            actual=f"{workload.benchmark} (edition {ctx.edition.name})", evidence=workload.rel,
            fix="have the result reviewed by hand; mlps cannot say whether it is CLOSED")]


def _checks_benchmark(rule: Rule, ctx) -> bool:
    """A rule about this benchmark's own results: one written for it alone (TRAIN-*, CKPT-*), not one
    shared with other benchmarks (readable files, leaf status, host memory) that says nothing about
    whether the benchmark's figures obey its rules."""
    return rule.scope == "workload" and tuple(rule.benchmarks) == (ctx.workload.benchmark,) and rule.applies(ctx)
