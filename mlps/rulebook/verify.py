"""The offline verifier: read a tree, evaluate every applicable rule on every workload, and give
the verdict with every finding and each workload's recomputed figures (schema `mlps-verdict/1`)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from mlps import __version__
from mlps.results import figures as report_math
from mlps.results.reader import SIZE_LIMIT, read_tree
from mlps.rulebook import editions
from mlps.rulebook.finding_groups import group_findings
from mlps.rulebook.findings import Finding, Outcome, Verdict, verdict_of
from mlps.rulebook.registry import Context, all_rules

SCHEMA = "mlps-verdict/1"


@dataclass
class Result:
    root: str
    profile: str | None
    verdict: Verdict
    findings: list
    workloads: list
    rules: dict
    reader: dict
    editions: list = field(default_factory=list)

    def counts(self) -> dict:
        """Findings per outcome, every outcome named."""
        counts = {str(o): 0 for o in Outcome}
        for item in self.findings:
            counts[str(item.outcome)] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "tool": {"name": "mlps", "version": __version__},
            "root": self.root,
            "profile": self.profile,
            "editions": self.editions,
            "verdict": str(self.verdict),
            "counts": self.counts(),
            "workloads": self.workloads,
            "findings": [item.as_dict() for item in self.findings],
            # identical findings (rule, outcome, message shape) as one counted line each
            "grouped": group_findings(self.findings),
            "rules": self.rules,
            "reader": self.reader,
        }


def verify(root, *, edition: str | None = None, profile: str | None = None,
           size_limit: int = SIZE_LIMIT, tree=None) -> Result:
    """Verify a results tree. `edition` forces one rules edition for every workload (else each
    workload's is detected); `profile` is closed|open|preflight (else each workload's division).
    `tree`: the tree already read from `root` (the report reads it once for both)."""
    forced = editions.get(edition) if edition else None
    tree = tree if tree is not None else read_tree(root, size_limit=size_limit)
    rules = all_rules()
    stats = {rule.id: {"evaluated": 0, "findings": 0} for rule in rules}
    findings: list[Finding] = []
    workloads = []
    used_editions = set()

    tree_edition = forced or editions.EDITIONS[editions.CURRENT]
    tree_ctx = Context(tree=tree, workload=None, edition=tree_edition, profile=profile or "closed",
                       division=profile if profile in ("closed", "open") else "closed")
    findings.extend(_run_rules(rules, tree_ctx, stats))

    for workload in tree.workloads:
        if forced:
            workload.edition, workload.edition_source = forced.name, "--edition"
        else:
            workload.edition, workload.edition_source = editions.detect(workload)
        used_editions.add(workload.edition)
        division = profile if profile in ("closed", "open") else (workload.division or "closed")
        ctx = Context(tree=tree, workload=workload, edition=editions.EDITIONS[workload.edition],
                      profile=profile or division, division=division)
        own = _run_rules(rules, ctx, stats)
        for item in own:
            item.workload = workload.rel
        findings.extend(own)
        workloads.append(_workload_summary(ctx, own))

    reader = {"layout": tree.layout, "leaves": sum(len(w.leaves) for w in tree.workloads),
              "workloads": len(tree.workloads), "junk_ignored": tree.junk, "skipped": tree.skipped,
              "skipped_leaf_like": len(tree.skipped_leaves), "skipped_leaf_like_paths": tree.skipped_leaves[:20],
              "size_limit_bytes": size_limit}
    return Result(root=str(tree.root), profile=profile, verdict=verdict_of(findings), findings=findings,
                  workloads=workloads, rules=stats, reader=reader, editions=sorted(used_editions))


def _run_rules(rules, ctx: Context, stats: dict) -> list:
    out = []
    for rule in rules:
        if not rule.applies(ctx):
            continue
        stats[rule.id]["evaluated"] += 1
        try:
            produced = list(rule.check(ctx) or ())
        except Exception as exc:  # a crashing rule must become a finding, never a pass
            last = traceback.extract_tb(exc.__traceback__)[-1]
            produced = [rule.finding(
                f"the rule failed while checking: {type(exc).__name__}: {exc} "
                f"({last.filename.rsplit('/', 1)[-1]}:{last.lineno})",
                outcome=Outcome.ERROR, fix="report this as a bug in mlps with the tree that triggers it")]
        stats[rule.id]["findings"] += len(produced)
        out.extend(produced)
    return out


def _workload_summary(ctx: Context, own: list) -> dict:
    workload = ctx.workload
    commands: dict = {}
    for leaf in workload.leaves:
        commands[leaf.command or "?"] = commands.get(leaf.command or "?", 0) + 1
    return {
        "path": workload.rel,
        "benchmark": workload.benchmark,
        "model": workload.model,
        "accelerator": workload.accelerator,
        "division": workload.division,
        "org": workload.org,
        "system": workload.system,
        "edition": workload.edition,
        "edition_source": workload.edition_source,
        "claimed_division": ctx.division,
        "leaves": commands,
        "warmup": ctx.warmup.name if ctx.warmup else None,
        "measured": [leaf.name for leaf in ctx.measured],
        "verdict": str(verdict_of(own)),
        "aggregate": aggregate(ctx),
    }


def aggregate(ctx: Context) -> dict:
    """The figures this workload publishes, recomputed from its leaves (report_math)."""
    workload = ctx.workload
    if workload.benchmark == "training":
        figures = report_math.training_results(ctx.measured)
        if ctx.edition.workload_report == "mlperf_storage_report.json":
            figures["mlperf_storage_report"] = report_math.v1_report(ctx.measured, workload.model,
                                                                     workload.accelerator)["overall"]
        return figures
    if workload.benchmark == "checkpointing":
        return report_math.checkpoint_results(workload.runs)
    if workload.benchmark == "kv_cache":
        return report_math.kv_results(workload.runs)
    if workload.benchmark == "vector_database":
        return report_math.vdb_results(workload.runs, workload.by_command("datagen"))
    if workload.benchmark == "benchfs":
        from mlps.results.benchfs import benchfs_results  # noqa: PLC0415 - only BenchFS workloads need it

        return benchfs_results(workload.runs)
    return {}
