"""Checkpointing: a CLOSED run's workload equals the reference YAML (4.6.3), and every invocation
records when it started and ended (4.7.2: the test duration must be measurable)."""

from __future__ import annotations

from functools import cache

import yaml

from mlps.rulebook.editions import tool_injected
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import config_ref, number, ref
from mlps.rulebook.workloads import CHECKPOINT_CONFIG_DIR, CHECKPOINT_MODELS

# What a CLOSED submitter sets or another rule judges (rule book §4.6.1-§4.6.3): where checkpoints and
# DLIO's outputs go, the 10/0 counts (CKPT-COUNTS), subset mode and its data parallelism (CKPT-SUBSET;
# in the default mode DLIO derives it from the MPI process count, CKPT-PROCS-CLOSED), fsync (CKPT-FSYNC).
SUBMITTER_KEYS = frozenset({
    "checkpoint.checkpoint_folder", "checkpoint.num_checkpoints_write", "checkpoint.num_checkpoints_read",
    "checkpoint.mode", "model.parallelism.data", "checkpoint.fsync", "output.folder", "output.log_file",
})
ABSENT = "(absent)"


@cache
def reference(model_name: str) -> dict:
    """Dotted key -> value of configs/checkpointing/workload/llama3_<size>.yaml, the shipped reference."""
    size = model_name.split("-", 1)[1]
    data = yaml.safe_load((CHECKPOINT_CONFIG_DIR / "workload" / f"llama3_{size}.yaml").read_text())
    return dict(flatten(data))


def flatten(node, prefix=""):
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{dotted}.")
        else:
            yield dotted, value


def _same(key: str, actual, expected) -> bool:
    if key == "model.name":
        # MLCommons' own YAML calls the model llama_8b; ours llama3_8b (the same workload)
        return str(actual).lower() in (str(expected).lower(), str(expected).lower().replace("llama3_", "llama_"))
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return number(actual) == float(expected)
    return str(actual).strip().lower() == str(expected).lower()


def drift(config: dict, expected: dict, free: frozenset) -> list:
    """(key, expected, actual) for every key added, removed or changed outside the submitter's keys."""
    actual = dict(flatten(config))
    out = []
    for key in sorted(set(expected) | set(actual)):
        if key in free:
            continue
        want, got = expected.get(key, ABSENT), actual.get(key, ABSENT)
        missing = ABSENT in (want, got)
        if (missing and want != got) or (not missing and not _same(key, got, want)):
            out.append((key, want, got))
    return out


class CkptReferenceConfig(Rule):
    id = "CKPT-CONFIG-CLOSED"
    section = "4.6.3"
    description = ("CLOSED checkpointing runs the reference llama3 YAML: every workload key equals it, none added "
                   "or removed, except the checkpoint folder, the 10/0 counts, subset mode and fsync (a changed "
                   "workload is INVALID, not OPEN)")
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")
    profiles = ("closed",)
    choice = ("the recorded config.yaml (Hydra writes the whole merged workload) is compared key by key with "
              "configs/checkpointing/workload/llama3_<size>.yaml; model.name may be MLCommons' llama_<size>; keys "
              "the tool injects (output folder, storage settings) and those other rules judge are not compared")

    def check(self, ctx):
        model = CHECKPOINT_MODELS.get(ctx.workload.model or "")
        if model is None:
            return []                          # CKPT-MODEL reports an unknown model
        expected = reference(model.name)
        free = SUBMITTER_KEYS | tool_injected(ctx.edition)
        out = []
        for leaf in ctx.runs:
            if leaf.config is None:
                continue                       # CKPT-FILES names the missing config.yaml
            for key, want, got in drift(leaf.config, expected, free):
                if got == ABSENT:
                    message = f"{key} is missing; the {model.name} reference workload sets {key}={want}"
                elif want == ABSENT:
                    message = f"{key}={got} is not in the {model.name} reference workload"
                else:
                    message = f"{key}={got} differs from the {model.name} reference workload"
                out.append(self.finding(message, expected=want, actual=got, evidence=config_ref(leaf, "config.yaml"),
                                        fix="run the reference YAML unchanged (CLOSED sets only the checkpoint "
                                            "folder, the 10/0 counts and the process count)"))
        return out


class CkptTimestamps(Rule):
    id = "CKPT-TIMESTAMPS"
    section = "4.7.2"
    description = "every checkpointing invocation records its start and end (DLIO summary or metadata)"
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            meta = leaf.metadata or {}
            start = leaf.start or meta.get("invocation_start_time")
            end = leaf.end or meta.get("invocation_end_time")
            if start is None or end is None:
                missing = [name for name, value in (("start", start), ("end", end)) if value is None]
                out.append(self.finding(f"the invocation records no {' or '.join(missing)} time, so the test "
                                        "duration (first write to last read) cannot be established",
                                        expected="start and end in summary.json", actual=f"no {'/'.join(missing)}",
                                        evidence=ref(leaf, leaf.summary_file or "summary.json"),
                                        fix="keep DLIO's summary.json as written (it carries start and end)"))
        return out
