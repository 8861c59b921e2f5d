"""Rule base class, the context a rule checks, and discovery of every rule in mlps/rules/.

A rule is a class with a stable `id`, the `section` of the rule book, a one-line `description`,
the `severity` it reports when broken, the `editions` and `profiles` it belongs to, the benchmark
families it reads, and `check(context) -> list[Finding]`. Modules in mlps/rules/ whose name
starts with `_` hold shared helpers and are not searched for rules.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

from mlps.results.models import Tree, Workload
from mlps.rulebook.editions import EDITION_NAMES, Edition
from mlps.rulebook.findings import Finding, Outcome
from mlps.rulebook.workloads import BENCHMARKS

PROFILES = ("closed", "open", "preflight")
ALL_BENCHMARKS = BENCHMARKS


# Statuses of a leaf that is not a result (mlps.campaign.frame.STATUSES minus completed/skipped).
NOT_RESULTS = ("running", "failed", "timed_out", "interrupted")


@dataclass
class Context:
    """What one rule evaluation sees: the tree, one workload (None for tree-scope rules), the
    edition it is verified against, the profile, and the division the results claim."""
    tree: Tree
    workload: Workload | None
    edition: Edition
    profile: str
    division: str                                  # closed | open

    @property
    def runs(self) -> list:
        """The run leaves that are results: a leaf this toolkit recorded as failed or interrupted is
        evidence, judged by LEAF-STATUS alone, and counts for no other rule."""
        if not self.workload:
            return []
        return [leaf for leaf in self.workload.runs
                if not isinstance(leaf.metadata, dict) or leaf.metadata.get("status") not in NOT_RESULTS]

    @property
    def _has_warmup(self) -> bool:
        """Only training runs a warm-up; a KV-cache or checkpointing leaf is a result."""
        return bool(self.edition.warmup) and getattr(self.workload, "benchmark", "training") == "training"

    @property
    def warmup(self):
        runs = self.runs
        return runs[0] if self._has_warmup and runs else None

    @property
    def measured(self) -> list:
        runs = self.runs
        return runs[1:] if self._has_warmup else runs

    @property
    def is_closed(self) -> bool:
        return self.division == "closed"


class Rule:
    id: str = ""
    section: str = ""
    description: str = ""
    severity: Outcome = Outcome.INVALID
    editions: tuple = EDITION_NAMES
    profiles: tuple = ("closed", "open")
    benchmarks: tuple = ("training",)
    scope: str = "workload"                        # workload | tree
    choice: str = ""                               # where rule book, tools and published trees disagree: what we chose

    def applies(self, ctx: Context) -> bool:
        if ctx.edition.name not in self.editions or ctx.profile not in self.profiles:
            return False
        if self.scope == "tree":
            return ctx.workload is None
        return ctx.workload is not None and ctx.workload.benchmark in self.benchmarks

    def check(self, ctx: Context) -> list:
        raise NotImplementedError

    def finding(self, message: str, *, outcome: Outcome | None = None, expected=None, actual=None,
                evidence: str | None = None, host: str | None = None, fix: str | None = None,
                missing: str | None = None, **extra) -> Finding:
        return Finding(rule_id=self.id, outcome=outcome or self.severity, message=message,
                       expected=expected, actual=actual, evidence=evidence, host=host, fix=fix,
                       section=self.section, missing=missing, extra=extra)

    @classmethod
    def describe(cls) -> dict:
        return {"id": cls.id, "section": cls.section, "severity": str(cls.severity),
                "editions": list(cls.editions), "profiles": list(cls.profiles),
                "benchmarks": list(cls.benchmarks) if cls.scope == "workload" else ["(tree)"],
                "description": cls.description, "choice": cls.choice}


@cache
def all_rules() -> tuple:
    """Every rule, instantiated once, sorted by id. Duplicate ids are a programming error."""
    from mlps.rulebook import rules as package  # noqa: PLC0415 - avoid an import cycle at load time

    found: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj.__module__ == module.__name__ and obj.id:
                if obj.id in found:
                    raise RuntimeError(f"rule id {obj.id} defined twice ({module.__name__})")
                _validate(obj)
                found[obj.id] = obj()
    return tuple(found[key] for key in sorted(found))


def _validate(cls) -> None:
    if not (cls.section and cls.description):
        raise RuntimeError(f"rule {cls.id} needs a section and a description")
    bad = set(cls.profiles) - set(PROFILES) or set(cls.editions) - set(EDITION_NAMES)
    if bad:
        raise RuntimeError(f"rule {cls.id}: unknown profile/edition {sorted(bad)}")
