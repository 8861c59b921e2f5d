"""Identical findings as one line: the same rule, outcome and message shape, counted, with the first
paths. Used by `mlps verify`'s text output, the HTML report and the verdict document (`grouped`),
which the campaigns print after every run through the mlps_verify module."""

from __future__ import annotations

import re

# What varies between repeats of one problem: leaf stamps, numbers, paths. Replaced so that
# "20260704_052047 started 3600 s after ..." and "20260704_054120 started 3590 s after ..." match.
_VARYING = re.compile(r"(?:/?[\w.@+-]+/)+[\w.@+-]*|\d+(?:[.,_]\d+)*")
FIRST_PATHS = 3


def shape(message: str) -> str:
    """The message with its paths and numbers blanked out."""
    return _VARYING.sub("#", message or "")


def group_findings(findings, first: int = FIRST_PATHS) -> list[dict]:
    """Findings (Finding objects or their as_dict() form) in groups, in order of first appearance.

    Each group: rule, outcome, section, message (the first one's), count, paths (the first `first`
    evidence paths, each once), expected/actual/fix of the first, and `line`, the readable line."""
    groups: dict[tuple, dict] = {}
    for item in findings:
        data = item if isinstance(item, dict) else item.as_dict()
        key = (data["rule"], str(data["outcome"]), shape(data["message"]))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "rule": data["rule"], "outcome": str(data["outcome"]), "section": data.get("section"),
                "message": data["message"], "count": 0, "paths": [], "expected": data.get("expected"),
                "actual": data.get("actual"), "fix": data.get("fix"), "workloads": []}
        group["count"] += 1
        for key in ("expected", "actual"):     # a value that differs within the group is not shown
            if group[key] is not None and data.get(key) != group[key]:
                group[key] = None
        path = data.get("evidence") or data.get("workload")
        if path and path not in group["paths"] and len(group["paths"]) < first:
            group["paths"].append(path)
        workload = data.get("workload")
        if workload and workload not in group["workloads"]:
            group["workloads"].append(workload)
    out = list(groups.values())
    for group in out:
        group["line"] = group_line(group)
    return out


def group_line(group: dict, relative_to: str | None = None) -> str:
    """`OUTCOME RULE: message (expected x, found y) xN [first paths ...] -> fix`; a group of one reads
    like the finding itself. Paths under `relative_to` (a workload) are shown relative to it."""
    parts = [f"{group['outcome']:<7} {group['rule']}: {group['message']}"]
    shown = [f"{label} {group[key]}" for label, key in (("expected", "expected"), ("found", "actual"))
             if group.get(key) is not None]
    if shown:
        parts.append(f"({', '.join(shown)})")
    if group["count"] > 1:
        parts.append(f"x{group['count']}")
    if group["paths"]:
        more = " ..." if group["count"] > len(group["paths"]) else ""
        prefix = f"{relative_to}/" if relative_to else None
        paths = [p.removeprefix(prefix) if prefix and p.startswith(prefix) else p for p in group["paths"]]
        parts.append(f"[{', '.join(paths)}{more}]")
    if group.get("fix"):
        parts.append(f"-> {group['fix']}")
    return " ".join(parts)


def group_key(group: dict) -> str:
    """What identifies a group from one verdict to the next: rule, outcome and message shape."""
    return f"{group['rule']}|{group['outcome']}|{shape(group['message'])}"


def changes(groups: list[dict], previous_keys) -> tuple[list[dict], int, int]:
    """(groups that are new since a verdict whose group keys were `previous_keys`, how many are
    unchanged, how many of the earlier ones are gone) - what a campaign prints after each run."""
    before = set(previous_keys or [])
    now = {group_key(g) for g in groups}
    new = [g for g in groups if group_key(g) not in before]
    return new, len(now & before), len(before - now)
