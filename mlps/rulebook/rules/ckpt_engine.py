"""CKPT-ENGINE: checkpoint results written by our native engine, or with shards scaled down for a small
machine, are OPEN only. Both record themselves in summary.json and the run metadata
(fields named in mlps.plan.checkpoint); DLIO's own summaries carry neither, so they pass."""

from __future__ import annotations

from mlps.plan.checkpoint import ENGINE_FIELD, ENGINES, SCALE_FIELD
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import number, ref


def _recorded(leaf, key: str) -> list[tuple[object, str]]:
    """(value, evidence path) of a key in the summary and the metadata, where present."""
    out = []
    for data, name in ((leaf.summary, leaf.summary_file), (leaf.metadata, leaf.metadata_file)):
        if isinstance(data, dict) and data.get(key) is not None:
            out.append((data[key], ref(leaf, name)))
    return out


class CkptEngine(Rule):
    id = "CKPT-ENGINE"
    section = "4.3"
    description = ("checkpoint results of the native engine or with a size scale other than 1 are OPEN only; "
                   "summary and metadata must agree")
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")                  # the editions with a checkpointing benchmark
    severity = Outcome.OPEN

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            out.extend(self._engine(leaf))
            out.extend(self._scale(leaf))
        return out

    def _engine(self, leaf):
        found = _recorded(leaf, ENGINE_FIELD)
        names = {str(value).strip().lower() for value, _ in found}
        if len(names) > 1:
            return [self.finding(f"summary and metadata name different engines: {sorted(names)}",
                                 outcome=Outcome.INVALID, expected="one engine", actual=sorted(names),
                                 evidence=found[0][1], fix="keep the files of one invocation together")]
        if not names:
            return []                                     # DLIO writes no engine field
        name, evidence = names.pop(), found[0][1]
        if name not in ENGINES:
            return [self.finding(f"unknown checkpoint engine {name!r}", outcome=Outcome.INVALID,
                                 expected=list(ENGINES), actual=name, evidence=evidence)]
        if name == "native":
            return [self.finding("written by mlps' native MPI engine, not DLIO: OPEN only", expected="dlio",
                                 actual=name, evidence=evidence,
                                 fix="run MLCommons' DLIO build (engine dlio) for a CLOSED result")]
        return []

    def _scale(self, leaf):
        found = _recorded(leaf, SCALE_FIELD)
        if not found:
            return []
        values = {number(value) for value, _ in found}
        value, evidence = found[0]
        if len(values) > 1:
            return [self.finding(f"summary and metadata record different {SCALE_FIELD}s", outcome=Outcome.INVALID,
                                 expected="one scale", actual=[v for v, _ in found], evidence=evidence)]
        scale = values.pop()
        if scale is None or not 0 < scale <= 1:
            return [self.finding(f"{SCALE_FIELD}={value!r} is not a number in (0, 1]", outcome=Outcome.INVALID,
                                 expected="(0, 1]", actual=value, evidence=evidence)]
        if scale != 1:
            return [self.finding(f"shards scaled by {scale:g}: the checkpoint is not the model's size",
                                 expected=1, actual=scale, evidence=evidence,
                                 fix="run with size scale 1 for a CLOSED result")]
        return []
