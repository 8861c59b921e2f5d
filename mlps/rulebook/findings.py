"""Findings and verdicts.

A rule reports only what is not plainly fine; a rule with nothing to say returns no finding, and
the verifier counts how many workloads each rule was evaluated on, so "no finding" is never
confused with "not checked".

Outcomes (the `outcome` of a finding):
  INVALID  the result breaks a rule; it cannot be published in any division.
  OPEN     the result is valid only in the OPEN division (an OPEN-only tunable, a what-if accelerator).
  WARNING  something a reviewer should look at; does not change the verdict.
  INFO     a figure or note worth recording (e.g. the run-to-run coefficient of variation).
  ERROR    the rule itself failed (raised); counted like INVALID, never a silent pass.
  UNCHECKED  the verifier has no rules for what it found (a benchmark or edition it does not check):
           never reported as CLOSED.

Verdict of a set of findings: INVALID if any INVALID or ERROR, else UNCHECKED if any UNCHECKED,
else OPEN if any OPEN, else CLOSED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    INVALID = "INVALID"
    OPEN = "OPEN"
    WARNING = "WARNING"
    INFO = "INFO"
    ERROR = "ERROR"
    UNCHECKED = "UNCHECKED"


class Verdict(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    INVALID = "INVALID"
    UNCHECKED = "UNCHECKED"


@dataclass(slots=True)
class Finding:
    rule_id: str
    outcome: Outcome
    message: str
    expected: object = None
    actual: object = None
    evidence: str | None = None          # path (relative to the verified root) the finding is about
    host: str | None = None
    fix: str | None = None               # what to do about it
    section: str | None = None           # rule-book section
    workload: str | None = None          # workload path (relative), when the finding is about one
    missing: str | None = None           # set when the finding is about a file that is absent
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {
            "rule": self.rule_id,
            "outcome": str(self.outcome),
            "section": self.section,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "host": self.host,
            "evidence": self.evidence,
            "workload": self.workload,
            "missing": self.missing,
            "fix": self.fix,
        }
        if self.extra:
            out["extra"] = self.extra
        return out

    def line(self) -> str:
        """One human-readable line: outcome, rule, message, expected/actual, what to do."""
        parts = [f"{self.outcome:<7} {self.rule_id}: {self.message}"]
        shown = [f"{label} {value}" for label, value in (("expected", self.expected), ("found", self.actual))
                 if value is not None]
        if shown:
            parts.append(f"({', '.join(shown)})")
        if self.evidence:
            parts.append(f"[{self.evidence}]")
        if self.fix:
            parts.append(f"-> {self.fix}")
        return " ".join(parts)


def verdict_of(findings) -> Verdict:
    """INVALID if any INVALID or ERROR finding, else UNCHECKED if any UNCHECKED, else OPEN if any
    OPEN, else CLOSED. UNCHECKED outranks OPEN: what was not checked cannot be vouched for at all."""
    outcomes = {f.outcome for f in findings}
    if Outcome.INVALID in outcomes or Outcome.ERROR in outcomes:
        return Verdict.INVALID
    if Outcome.UNCHECKED in outcomes:
        return Verdict.UNCHECKED
    if Outcome.OPEN in outcomes:
        return Verdict.OPEN
    return Verdict.CLOSED
