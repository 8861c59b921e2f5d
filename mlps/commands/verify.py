"""`mlps verify DIR`: the offline verdict on a results tree (ours, v3.0 or v1.0 published trees)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlps.errors import UserError
from mlps.jsonio import write_json_atomic
from mlps.results.reader import SIZE_LIMIT, TreeError
from mlps.rulebook.editions import EDITION_NAMES
from mlps.rulebook.finding_groups import group_findings, group_line
from mlps.rulebook.findings import Outcome, Verdict
from mlps.rulebook.registry import PROFILES
from mlps.safe_text import printable

EXIT_CODES = {Verdict.CLOSED: 0, Verdict.OPEN: 1, Verdict.INVALID: 3, Verdict.UNCHECKED: 5}
EXIT_USAGE = 2
EXIT_UNREADABLE = 4

# The one list of exit codes: --help's epilog and docs/rules.md (mlps rules --markdown) both print it.
EXIT_TABLE = (
    (0, "verdict CLOSED (every rule met for the CLOSED division)"),
    (1, "verdict OPEN (valid only in the OPEN division)"),
    (2, "usage error (bad option or value)"),
    (3, "verdict INVALID (a rule is broken, or a rule failed with ERROR)"),
    (4, "the tree cannot be read (absent, not a directory, unreadable, or no result leaves in it)"),
    (5, "verdict UNCHECKED (a workload of a benchmark or edition this verifier has no rules for, or of an "
        "unknown benchmark)"),
    (6, "internal error: mlps crashed on this input (one line on stderr; never a verdict)"),
)

EPILOG = "exit codes:\n" + "".join(f"  {code}  {meaning}\n" for code, meaning in EXIT_TABLE) + """
Outcomes of findings: INVALID, OPEN, WARNING, INFO, ERROR, UNCHECKED (see docs/rules.md).
Verdict: INVALID if any INVALID or ERROR, else UNCHECKED if any UNCHECKED, else OPEN if any OPEN,
else CLOSED. Results under open/ are never CLOSED."""


def register(sub) -> None:
    parser = sub.add_parser("verify", help="verify a results tree against the MLPerf Storage rules",
                            description="Verify a results tree against the MLPerf Storage rules and give the "
                                        "verdict with every finding.",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="results directory (any folder above the run leaves)")
    parser.add_argument("--profile", choices=PROFILES,
                        help="rules to apply: closed or open (the division claimed), or preflight (only the rules "
                             "a plan can be checked against); default: each workload's own division folder")
    parser.add_argument("--edition", choices=EDITION_NAMES,
                        help="rules edition for every workload (default: detected per workload; 3.0 for our runs)")
    parser.add_argument("--json", metavar="FILE", dest="json_file",
                        help="also write the verdict as JSON (schema mlps-verdict/1); '-' writes it to stdout "
                             "instead of the text report")
    parser.add_argument("--size-limit-mib", type=int, default=SIZE_LIMIT // 2**20, metavar="MIB",
                        help="refuse JSON/YAML files larger than this (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print INFO findings")
    parser.set_defaults(func=_verify)


def _verify(args) -> int:
    from mlps.rulebook.verify import verify  # noqa: PLC0415 - keep `mlps --help` fast

    if args.size_limit_mib <= 0:
        raise UserError(f"--size-limit-mib {args.size_limit_mib}: expected a positive number of MiB", EXIT_USAGE)
    try:
        result = verify(args.directory, edition=args.edition, profile=args.profile,
                        size_limit=args.size_limit_mib * 2**20)
    except TreeError as exc:
        raise UserError(str(exc), EXIT_UNREADABLE) from exc
    if not result.workloads:
        raise UserError(f"{args.directory}: no result leaves found (expected run folders holding DLIO's "
                        "summary.json, or timestamped YYYYMMDD_HHMMSS leaves); give the results directory",
                        EXIT_UNREADABLE)
    if args.json_file == "-":
        json.dump(result.as_dict(), sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        if args.json_file:
            _write_json(Path(args.json_file), result.as_dict())
        _print_text(result, verbose=args.verbose)
    return EXIT_CODES[result.verdict]


def _write_json(path: Path, document: dict) -> None:
    write_json_atomic(path, document, default=str, hint="choose a writable --json path")


def _print_text(result, verbose: bool) -> None:
    by_workload: dict = {}
    for item in result.findings:
        by_workload.setdefault(item.workload, []).append(item)
    tree_level = by_workload.pop(None, [])
    _say(f"mlps verify {result.root}")
    _print_grouped(tree_level, verbose, None)
    for workload in result.workloads:
        ident = "/".join(x for x in (workload["model"], workload["accelerator"]) if x)
        print()
        _say(f"{workload['path']}: {workload['benchmark']} {ident}, edition {workload['edition']} "
              f"({workload['edition_source']}), checked as {workload['claimed_division'].upper()} "
              f"-> {workload['verdict']}")
        headline = _headline(workload)
        if headline:
            _say(f"  {headline}")
        _print_grouped(by_workload.get(workload["path"], []), verbose, workload["path"])
    counts = result.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    skipped = result.reader.get("skipped_leaf_like")
    unjudged = f"; {skipped} leaf-like folder(s) in skipped trees not judged" if skipped else ""
    print()
    _say(f"verdict: {result.verdict} ({summary or 'no findings'}{unjudged})")


def _print_grouped(findings: list, verbose: bool, workload: str | None) -> None:
    """Identical findings as one counted line with the first paths (finding_groups), paths relative
    to the workload printed above them."""
    for group in group_findings([f for f in findings if verbose or f.outcome != Outcome.INFO]):
        _say(f"  {group_line(group, workload)}")


def _say(line: str) -> None:
    """Print one line with the tree's names and values made harmless (no escape sequences)."""
    print(printable(line))


def _headline(workload: dict) -> str:
    figures = workload.get("aggregate") or {}
    parts = []
    if workload["benchmark"] == "training":
        if workload.get("warmup"):
            parts.append(f"warm-up {workload['warmup']}")
        parts.append(f"{len(workload['measured'])} measured")
        if figures.get("read_bw_GiB_per_second") is not None:
            parts.append(f"Read B/W {figures['read_bw_GiB_per_second']:.3f} GiB/s")
        if figures.get("train_mean_of_au_percentage") is not None:
            parts.append(f"mean AU {figures['train_mean_of_au_percentage']:.2f}%")
        if figures.get("throughput_cv") is not None:
            parts.append(f"CV {figures['throughput_cv']:.2%}")
    elif workload["benchmark"] == "checkpointing":
        for key, label in (("write_bw_GiB_per_second", "Write"), ("read_bw_GiB_per_second", "Read")):
            if figures.get(key) is not None:
                parts.append(f"{label} B/W {figures[key]:.3f} GiB/s")
    return "; ".join(parts)
