"""The long fuzz run: at least 100,000 generated inputs across every /proc parser,
the facts collector on generated host roots, JSON loading, the results reader + verifier on edited
trees, the run-metadata loader, and generated hostile trees through `mlps verify` and `mlps report`
as limited subprocesses (tests/fuzz/hostile_trees.py: 10 s and 500 MB each). Same targets and
strategies as the suite (tests/fuzz/targets.py), many more examples. Prints per-target counts,
inputs/s and any failure (shrunk by hypothesis); exits 1 when an exception other than the documented UserError escaped.

Run: .venv/bin/python benchmarks/bench_fuzz.py [--seed N] [--scale F] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.fuzz is not an installed package

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz import hostile_trees, targets  # noqa: E402

# Inputs per target at --scale 1 (about 100,000 in total); cheap parsers get the most.
PER_PARSER = 4_500
PLAN = {f"procfs.{name}": PER_PARSER for name in targets.PARSERS} | {
    "procfs.collect_root": 1_500,
    "jsonio.parse_json": 20_000,
    "reader.edited_trees": 3_000,
    "campaign.update_metadata": 8_000,
    "cli.hostile_trees": 100,           # 4 CLI processes each: about 6 s per tree
}


def _runner(name: str, scratch: Path):
    """(function taking one example's arguments, its strategies, cleanup) for the target `name`."""
    if name.startswith("procfs.") and name != "procfs.collect_root":
        parser = name.split(".", 1)[1]
        return (lambda text: targets.check_parser(parser, text)), {"text": targets.PROC_TEXT}, None
    if name == "procfs.collect_root":
        return targets.check_collect, {"files": targets.HOST_ROOTS}, None
    if name == "jsonio.parse_json":
        return targets.check_parse_json, {"data": targets.JSON_INPUT}, None
    if name == "reader.edited_trees":
        tree = targets.TreeTarget()
        return tree, {"template": st.sampled_from(targets.TEMPLATES), "edits": targets.EDITS}, tree.close
    if name == "campaign.update_metadata":
        folder = scratch / "metadata"
        return ((lambda existing, changes: targets.check_update_metadata(folder, existing, changes)),
                {"existing": st.none() | targets.PAYLOADS, "changes": targets.CHANGES}, None)
    if name == "cli.hostile_trees":
        trees = hostile_trees.HostileTrees(scratch / "hostile")
        strategies = {"kind": st.sampled_from(sorted(hostile_trees.KINDS)), "seed": st.integers(0, 2**32)}
        return trees, strategies, trees.close
    raise SystemExit(f"--only {name}: expected one of {', '.join(PLAN)}")


def run_target(name: str, count: int, seed_value: int, scratch: Path) -> tuple[int, float, str | None]:
    """(inputs run, seconds, failure text or None)."""
    function, strategies, cleanup = _runner(name, scratch)
    calls = 0

    @seed(seed_value)
    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.generate, Phase.shrink], print_blob=True)
    @given(**strategies)
    def prop(**example):
        nonlocal calls
        calls += 1
        function(**example)

    started = time.perf_counter()
    failure = None
    try:
        prop()
    except Exception:                           # any escape is the finding we report
        failure = traceback.format_exc(limit=-6)
    finally:
        if cleanup:
            cleanup()
    return calls, time.perf_counter() - started, failure


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20260105, help="hypothesis seed (same seed, same inputs)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every target's input count")
    parser.add_argument("--only", nargs="*", default=None, help="run only these targets")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error(f"--scale {args.scale}: expected a positive number")
    names = args.only or list(PLAN)
    total_calls, total_time, failed = 0, 0.0, []
    print(f"bench_fuzz seed={args.seed} scale={args.scale}")
    print(f"{'target':<28} {'inputs':>8} {'seconds':>8} {'inputs/s':>9}  result")
    with tempfile.TemporaryDirectory(prefix="mlps-bench-fuzz-") as scratch:
        for name in names:
            if name not in PLAN:
                parser.error(f"--only {name}: expected one of {', '.join(PLAN)}")
            calls, seconds, failure = run_target(name, max(1, int(PLAN[name] * args.scale)), args.seed, Path(scratch))
            total_calls += calls
            total_time += seconds
            print(f"{name:<28} {calls:>8} {seconds:>8.1f} {calls / seconds:>9.0f}  {'FAILED' if failure else 'ok'}",
                  flush=True)
            if failure:
                failed.append((name, failure))
    print(f"{'total':<28} {total_calls:>8} {total_time:>8.1f} {total_calls / total_time:>9.0f}  "
          f"{len(failed)} target(s) failed")
    for name, failure in failed:
        print(f"\n--- {name} ---\n{failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
