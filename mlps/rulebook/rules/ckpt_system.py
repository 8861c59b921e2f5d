"""Checkpointing against what the system declares in systems/<system>.yaml: the write->read interval
covers half the declared remapping time (4.7.3), and the system supports simultaneous reads and
writes (4.7.4)."""

from __future__ import annotations

from mlps.report.system import load_description
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import number
from mlps.rulebook.rules.checkpointing import _split_gap, phase
from mlps.rulebook.rules.system_description import system_files

REMAP_FRACTION = 0.5                  # the tool's tolerance for the declared remapping delay
SIMULTANEOUS = {"read": ("simultaneous_read", "simultaneous_read_support", "simultaneous_read__support"),
                "write": ("simultaneous_write", "simultaneous_write_support", "simultaneous_write__support")}


def _declared(workload):
    """(the system YAML's blocks to search, its path) or (None, None) when there is no description."""
    files = system_files(workload)
    if files is None or not files[0].is_file():
        return None, None
    doc = load_description(files[0])
    if not isinstance(doc, dict) or "(unreadable)" in doc:
        return None, None
    blocks = [doc.get("capabilities"), doc.get("solution"), doc]
    return [b for b in blocks if isinstance(b, dict)], files[0]


def _flag(blocks, names):
    for block in blocks:
        for name in names:
            if name in block:
                value = block[name]
                return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "1")
    return None


def remap_seconds(blocks):
    """The declared remapping delay in seconds: the first numeric key naming `remap`."""
    for block in blocks:
        for key, value in block.items():
            if "remap" in str(key).lower() and number(value) is not None:
                return number(value), str(key)
    return None, None


class _SystemRule(Rule):
    benchmarks = ("checkpointing",)
    editions = ("3.0",)


class CkptRemap(_SystemRule):
    id = "CKPT-REMAP"
    section = "4.7.3"
    description = "split form: reads start no sooner after the writes than half the system's declared remapping time"
    choice = ("the delay is the first numeric key naming 'remap' in the YAML's capabilities (then solution, then top "
              "level) block, in seconds; tolerance 1/2 as the tool applies it; no declared delay: nothing to check")

    def check(self, ctx):
        blocks, path = _declared(ctx.workload)
        if not blocks:
            return []
        remap, key = remap_seconds(blocks)
        runs = ctx.runs
        if not remap or len(runs) != 2 or [phase(leaf) for leaf in runs] != ["write", "read"]:
            return []
        gap, how = _split_gap(*runs)
        if gap is None or gap >= REMAP_FRACTION * remap:
            return []
        return [self.finding(f"reads started {gap:.1f} s after the writes ({how}) but the system declares {key}="
                             f"{remap:g} s", expected=f">= {REMAP_FRACTION * remap:g} s", actual=round(gap, 3),
                             evidence=runs[1].rel, fix="wait out the declared remapping time before reading, or "
                                                       f"correct {key} in {path.name}")]


class CkptSimultaneous(_SystemRule):
    id = "CKPT-SIMUL-RW"
    section = "4.7.4"
    description = "the system description declares simultaneous read and write support (a reviewer checks otherwise)"
    severity = Outcome.WARNING

    def check(self, ctx):
        blocks, path = _declared(ctx.workload)
        if not blocks:
            return []                          # SYS-DESCRIPTION names the missing file
        out = []
        for kind, names in SIMULTANEOUS.items():
            if _flag(blocks, names) is not True:
                out.append(self.finding(f"{path.name} does not declare simultaneous {kind} support",
                                        expected=f"{names[0]}: true", actual=_flag(blocks, names),
                                        evidence=path.relative_to(ctx.tree.root).as_posix()
                                        if path.is_relative_to(ctx.tree.root) else str(path),
                                        fix=f"declare {names[0]} in the system's capabilities"))
        return out
