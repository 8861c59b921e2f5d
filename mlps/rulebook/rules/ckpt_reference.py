"""Checkpointing: a CLOSED run's workload equals the reference YAML (4.6.3), and every invocation
records when it started and ended (4.7.2: the test duration must be measurable)."""

from __future__ import annotations

from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import config_ref, number, ref
from mlps.rulebook.workloads import CHECKPOINT_COMMON, CHECKPOINT_MODELS


def reference(model) -> dict:
    """The workload keys of the reference llama3 YAML (Table 2 and the common settings)."""
    return {
        "model.num_layers": model.layers,
        "model.model_datatype": CHECKPOINT_COMMON["model_datatype"],
        "model.optimizer_datatype": CHECKPOINT_COMMON["optimizer_datatype"],
        "model.parallelism.tensor": model.tensor_parallel,
        "model.parallelism.pipeline": model.pipeline_parallel,
        "model.parallelism.zero_stage": model.zero_stage,
        "model.transformer.vocab_size": model.vocab_size,
        "model.transformer.hidden_size": model.hidden,
        "model.transformer.ffn_hidden_size": model.ffn,
        "model.transformer.num_attention_heads": model.heads,
        "model.transformer.num_kv_heads": model.kv_heads,
        "framework": CHECKPOINT_COMMON["framework"],
        "checkpoint.time_between_checkpoints": CHECKPOINT_COMMON["time_between_checkpoints"],
    }


def _same(actual, expected) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return number(actual) == float(expected)
    return str(actual).strip().lower() == str(expected).lower()


class CkptReferenceConfig(Rule):
    id = "CKPT-CONFIG-CLOSED"
    section = "4.6.3"
    description = ("CLOSED checkpointing runs the reference llama3 YAML: every model key, the framework and the "
                   "time between checkpoints equal it (a changed workload is INVALID, not OPEN)")
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")
    profiles = ("closed",)
    choice = ("only keys present in the recorded config.yaml are compared (Hydra writes the whole merged "
              "workload, so an absent key is the template's); fsync and the counts have their own rules")

    def check(self, ctx):
        model = CHECKPOINT_MODELS.get(ctx.workload.model or "")
        if model is None:
            return []                          # CKPT-MODEL reports an unknown model
        expected = reference(model)
        out = []
        for leaf in ctx.runs:
            if leaf.config is None:
                continue                       # CKPT-FILES names the missing config.yaml
            for key, want in expected.items():
                value = leaf.param(key)
                if value is not None and not _same(value, want):
                    out.append(self.finding(f"{key}={value} differs from the {model.name} reference workload",
                                            expected=want, actual=value, evidence=config_ref(leaf, "config.yaml"),
                                            fix="run the reference YAML unchanged (CLOSED allows only the "
                                                "checkpoint folder and the 10/0 counts)"))
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
