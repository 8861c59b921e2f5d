"""preflight.json (mlps-preflight/1), the printed table and the summary line."""

from __future__ import annotations

import datetime
from pathlib import Path

from mlps.jsonio import write_json_atomic
from mlps.preflight.capacity import Plan
from mlps.preflight.checks import CHECKPOINT_ONLY, CHECKS, SCHEMA, WARNING, Check, _text


def report_document(checks: list[Check], plan: Plan | None, settings: dict, *, skipped: bool = False,
                    skip_reason: str = "", created_at: str | None = None) -> dict:
    failed = [c for c in checks if c.failed]
    return {
        "schema": SCHEMA,
        "created_at": created_at or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "skipped": skipped,
        "skip_reason": skip_reason if skipped else "",
        "ok": not failed,
        "summary": {
            "checks": len(checks),
            "passed": sum(1 for c in checks if c.ok),
            "failed": len(failed),
            "warnings": sum(1 for c in checks if c.ok is False and c.severity == WARNING),
            "not_run": sum(1 for c in checks if c.ok is None),
        },
        "plan": plan.to_dict() if plan else None,
        "settings": settings,
        # the stable list of checks this campaign runs: checkpoint_engine only for checkpointing
        "check_names": [n for n in CHECKS if n not in CHECKPOINT_ONLY or any(c.name == n for c in checks)],
        "checks": [c.to_dict() for c in checks],
    }


def write_report(path, document: dict) -> Path:
    """Atomic write: a reader sees the old file or the whole new one."""
    return write_json_atomic(path, document)


def render_table(checks: list[Check], width: int = 48) -> list[str]:
    """One line per check (status, check, host, found, expected), then one line per problem with
    what is wrong and the fix."""
    header = ("status", "check", "host", "found", "expected")
    cells = [(c.status, c.name, c.host, _text(c.found, width), _text(c.expected, width)) for c in checks]
    widths = [max(len(header[i]), *(len(row[i]) for row in cells)) if cells else len(header[i]) for i in range(5)]
    lines = ["  ".join(col.ljust(widths[i]) for i, col in enumerate(row)).rstrip() for row in [header, *cells]]
    problems = [c for c in checks if c.ok is False]
    if problems:
        lines.append("")
        lines.append(f"{sum(c.failed for c in problems)} failure(s), "
                     f"{sum(not c.failed for c in problems)} warning(s):")
        lines += [f"{c.status} {c.name} on {c.host}: {c.detail or c.found} (expected {c.expected}; found {c.found})"
                  + (f" -> fix: {c.fix}" if c.fix else "") for c in problems]
    return lines


def summary_line(checks: list[Check]) -> str:
    failed = [c for c in checks if c.failed]
    if not failed:
        warned = sum(1 for c in checks if c.ok is False)
        return f"preflight passed: {len(checks)} checks" + (f", {warned} warning(s)" if warned else "")
    return (f"preflight failed: {len(failed)} of {len(checks)} checks: "
            + "; ".join(f"{c.name} on {c.host}" for c in failed))
