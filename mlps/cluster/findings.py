"""Cluster findings as the rule engine's Finding, and as plain dicts in cluster_info.json."""

from __future__ import annotations

from mlps.rulebook.findings import Finding, Outcome


def _finding(rule_id: str, outcome: Outcome, check: str, message: str, hosts: list[str],
             expected=None, actual=None, fix: str | None = None) -> Finding:
    return Finding(rule_id=rule_id, outcome=outcome, message=message, expected=expected, actual=actual,
                   host=",".join(hosts) or None, fix=fix, extra={"check": check, "hosts": list(hosts)})


def finding_to_dict(finding: Finding) -> dict:
    out = finding.as_dict()
    out["extra"] = dict(finding.extra)   # always present, so reading back is exact
    return out


def finding_from_dict(data: dict) -> Finding:
    return Finding(rule_id=data["rule"], outcome=Outcome(data["outcome"]), message=data.get("message", ""),
                   expected=data.get("expected"), actual=data.get("actual"), evidence=data.get("evidence"),
                   host=data.get("host"), fix=data.get("fix"), section=data.get("section"),
                   workload=data.get("workload"), missing=data.get("missing"),
                   extra=dict(data.get("extra") or {}))


def finding_hosts(finding: Finding) -> list[str]:
    return list(finding.extra.get("hosts") or ([] if not finding.host else finding.host.split(",")))
