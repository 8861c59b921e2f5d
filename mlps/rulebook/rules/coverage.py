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

    def applies(self, ctx):
        # a benchmark the rule book does not name (foobench/, or metadata benchmark_type) is UNCHECKED too
        if ctx.workload is not None and ctx.workload.benchmark not in ALL_BENCHMARKS:
            return ctx.edition.name in self.editions and ctx.profile in self.profiles
        return super().applies(ctx)

    def check(self, ctx):
        workload = ctx.workload
        if workload.benchmark not in ALL_BENCHMARKS:
            return [self.finding(
                f"benchmark {workload.benchmark!r} is not one this verifier knows; its {len(workload.leaves)} "
                "leaf folder(s) were read but judged by no rule (in particular not as training)",
                expected=f"one of {', '.join(ALL_BENCHMARKS)}", actual=workload.benchmark, evidence=workload.rel,
                fix="file the results under the benchmark folder they belong to, or have them reviewed by hand")]
        if any(_checks_benchmark(rule, ctx) for rule in all_rules()):
            return []
        return [self.finding(
            f"no rule of this verifier checks {workload.benchmark} results of edition {ctx.edition.name}; "
            "its files were read but nothing in them was judged",
            expected=f"a benchmark the verifier checks ({', '.join(ALL_BENCHMARKS)})",
            actual=f"{workload.benchmark} (edition {ctx.edition.name})", evidence=workload.rel,
            fix="have the result reviewed by hand; mlps cannot say whether it is CLOSED")]


def _checks_benchmark(rule: Rule, ctx) -> bool:
    """A rule about this benchmark's own results: one written for it alone (TRAIN-*, CKPT-*), not one
    shared with other benchmarks (readable files, leaf status, host memory) that says nothing about
    whether the benchmark's figures obey its rules."""
    return rule.scope == "workload" and tuple(rule.benchmarks) == (ctx.workload.benchmark,) and rule.applies(ctx)
