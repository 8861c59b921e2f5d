"""systems/ (2.1.7): every system a division's results name has `<org>/systems/<system>.yaml` and
`.pdf`, and the YAML fills in what the results table reads from it (availability, usable capacity)."""

from __future__ import annotations

from pathlib import Path

from mlps.report.system import load_description
from mlps.report.tables import PLACEHOLDER
from mlps.rulebook import editions
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import PROFILES, Rule
from mlps.rulebook.rules._evidence import number

AVAILABILITY = ("available", "preview", "rdi")
MIN_USABLE_TIB = 1


def system_files(workload) -> tuple[Path, Path] | None:
    """(<org>/systems/<system>.yaml, .pdf) for a workload under <division>/<org>/results/<system>/."""
    if workload.system is None:
        return None
    for folder in workload.path.parents:
        if folder.name == workload.system and folder.parent.name == "results":
            systems = folder.parent.parent / "systems"
            return systems / f"{workload.system}.yaml", systems / f"{workload.system}.pdf"
    return None


def schema_problems(doc) -> list:
    """What the results table cannot take from a system description."""
    if not isinstance(doc, dict):
        return ["expected a YAML mapping"]
    if "(unreadable)" in doc:
        return [f"cannot be read: {doc['(unreadable)']}"]
    solution = doc.get("solution")
    if not isinstance(solution, dict):
        return ["no `solution` block"]
    problems = []
    for key, value in sorted(solution.items()):
        if isinstance(value, str) and value.startswith(PLACEHOLDER):
            problems.append(f"solution.{key} is still a {PLACEHOLDER} placeholder")
    availability = solution.get("availability")
    if str(availability).strip().lower() not in AVAILABILITY and not str(availability).startswith(PLACEHOLDER):
        problems.append(f"solution.availability={availability!r} is not available, preview or RDI")
    capacity = number(solution.get("usable_capacity_tib"))
    if capacity is None and not str(solution.get("usable_capacity_tib")).startswith(PLACEHOLDER):
        problems.append("solution.usable_capacity_tib is missing or not a number")
    elif capacity is not None and capacity < MIN_USABLE_TIB:
        problems.append(f"solution.usable_capacity_tib={capacity:g} is below {MIN_USABLE_TIB} TiB")
    return problems


class SystemDescription(Rule):
    id = "SYS-DESCRIPTION"
    section = "2.1.7"
    description = ("each system named under results/ has systems/<system>.yaml and systems/<system>.pdf; the YAML "
                   "has a filled-in `solution` block (availability available/preview/RDI, usable capacity >= 1 TiB)")
    editions = ("3.0",)
    profiles = PROFILES
    scope = "tree"
    choice = ("checked for workloads of edition 3.0 (v1.0 described systems in JSON, without a PDF); a missing file "
              "is a WARNING because a campaign's own results get their description from `mlps report` later; a "
              "description that is present but unfilled or malformed is INVALID")

    def check(self, ctx):
        out = []
        done = set()
        root = ctx.tree.root
        for workload in ctx.tree.workloads:
            edition = workload.edition or editions.detect(workload)[0]
            files = system_files(workload)
            if edition != "3.0" or files is None or files in done:
                continue
            done.add(files)
            for path in files:
                if not path.is_file():
                    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
                    out.append(self.finding(f"system {workload.system} has no {path.name} in systems/: the "
                                            "results cannot be submitted without it", outcome=Outcome.WARNING,
                                            expected=rel, actual="absent", evidence=rel, missing=rel,
                                            fix="describe the system under test in systems/ (YAML and PDF; "
                                                "mlps report writes a YAML draft from the host facts)"))
            if files[0].is_file():
                rel = files[0].relative_to(root).as_posix() if files[0].is_relative_to(root) else str(files[0])
                for problem in schema_problems(load_description(files[0])):
                    out.append(self.finding(f"{files[0].name}: {problem}", evidence=rel,
                                            fix="fill in the system description (mlps report writes a draft)"))
        return out
