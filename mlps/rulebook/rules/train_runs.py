"""How many training runs a result has, and that they ran back to back."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule


class TrainRunsCount(Rule):
    id = "TRAIN-RUNS-COUNT"
    section = "2.1.17"
    description = "exactly warm-up + 5 run leaves (v2.0+), or exactly 5 runs (v1.0)"
    choice = ("warm-up = the earliest run leaf (the rules), not reportgen's RunID collision; more leaves than "
              "needed is INVALID until trimmed to one consecutive window (2.1.18a)")

    def check(self, ctx):
        edition = ctx.edition
        expected = edition.measured_runs + (1 if edition.warmup else 0)
        actual = len(ctx.runs)
        if actual == expected:
            return []
        shape = f"1 warm-up + {edition.measured_runs} measured" if edition.warmup else f"{edition.measured_runs}"
        if actual > expected:
            fix = "keep one window of consecutive run leaves (2.1.18a); do not pick the best ones"
        else:
            fix = f"run the benchmark until the workload has {shape} run leaves"
        return [self.finding(f"{actual} run leaves; edition {edition.name} needs {shape}", expected=expected,
                             actual=actual, evidence=ctx.workload.rel, fix=fix)]


class TrainRunsGap(Rule):
    id = "TRAIN-RUNS-GAP"
    section = "2.1.18"
    description = "consecutive runs start less than 2 x the shortest run duration apart (no cherry-picking)"
    choice = ("gaps between leaf-name timestamps (v3.0 validator); trees without timestamped leaves use DLIO's start; "
              "INVALID only in edition 3.0, a WARNING before (1.0 said 'consecutively' with no criterion)")

    def check(self, ctx):
        runs = ctx.runs
        if len(runs) < 2:
            return []
        durations = [leaf.duration_s for leaf in runs if leaf.duration_s is not None]
        # The v3.0 validator compares directory timestamps; v1.0 folders have none, so use DLIO's start.
        use_dirs = all(leaf.timestamp for leaf in runs)
        starts = [leaf.timestamp if use_dirs else leaf.start for leaf in runs]
        if not durations or None in starts:
            return [self.finding("cannot check the gaps between runs: start/end times are missing",
                                 outcome=Outcome.WARNING, evidence=ctx.workload.rel)]
        limit = 2 * min(durations)
        outcome = Outcome.INVALID if ctx.edition.runs_gap_invalid else Outcome.WARNING
        out = []
        for before, after, t0, t1 in zip(runs, runs[1:], starts, starts[1:], strict=False):
            gap = (t1 - t0).total_seconds()
            if gap >= limit:
                out.append(self.finding(
                    f"{after.name} started {gap:.0f} s after {before.name}; runs must be back to back",
                    outcome=outcome, expected=f"< {limit:.0f} s (2 x shortest run)", actual=round(gap, 3),
                    evidence=after.rel,
                    fix="rerun the series without pauses between runs"))
        return out
