"""Figures of the measured training runs: accelerator utilisation, the per-epoch lists behind the
published means, and run-to-run variance."""

from __future__ import annotations

import math

from mlps.results import figures
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import number, ref
from mlps.rulebook.workloads import TRAINING_WORKLOADS

# TRAIN-VARIANCE: the v2.0 submission guidelines expect replicated results within 5 %; a coefficient of variation of the
# five measured runs' throughput above this is worth a reviewer's look (not a rule breach).
CV_WARNING = 0.05
# How far a summary's stated mean may sit from the mean of its own per-epoch list (float noise).
MEAN_TOLERANCE = 1e-6


class TrainAU(Rule):
    id = "TRAIN-AU"
    section = "3.3.2"
    description = "every measured run meets AU: train_au_meet_expectation == success and mean AU >= edition minimum"

    def check(self, ctx):
        template = TRAINING_WORKLOADS.get((ctx.workload.model, ctx.workload.accelerator))
        out = []
        for leaf in ctx.measured:
            metric = leaf.metric
            evidence = ref(leaf, leaf.summary_file or "summary.json")
            if not metric:
                out.append(self.finding("no AU figures: the run has no readable summary", outcome=Outcome.WARNING,
                                        evidence=leaf.rel, missing=None if leaf.summary_file else evidence))
                continue
            minimum = template.au_min_percentage if template else _config_au(leaf)
            verdict, mean_au = metric.get("train_au_meet_expectation"), number(metric.get("train_au_mean_percentage"))
            if verdict != "success":
                out.append(self.finding(f"DLIO reports AU {verdict!r}", expected="success", actual=verdict,
                                        evidence=evidence, fix="use fewer simulated accelerators or faster storage"))
            elif mean_au is None:
                out.append(self.finding("summary has no train_au_mean_percentage", evidence=evidence))
            elif minimum is None:
                out.append(self.finding("no AU minimum known for this workload; only DLIO's verdict was checked",
                                        outcome=Outcome.WARNING, evidence=evidence))
            elif mean_au < minimum:
                out.append(self.finding(f"mean AU {mean_au:.3f}% is below the edition minimum {minimum:g}%",
                                        expected=f">= {minimum:g}", actual=mean_au, evidence=evidence,
                                        fix="use fewer simulated accelerators or faster storage"))
        return out


def _config_au(leaf) -> float | None:
    value = number(leaf.param("metric.au"))
    return value * 100 if value is not None else None


class TrainAggregate(Rule):
    id = "TRAIN-AGGREGATE"
    section = "3.3.8"
    description = "every measured run has non-empty per-epoch metric lists whose means match the summary"

    LISTS = (("train_au_percentage", "train_au_mean_percentage"),
             ("train_throughput_samples_per_second", "train_throughput_mean_samples_per_second"))

    def check(self, ctx):
        out = []
        for leaf in ctx.measured:
            if not leaf.metric:
                continue                      # TRAIN-AU / TRAIN-FILES already say the summary is absent
            evidence = ref(leaf, leaf.summary_file)
            for list_key, mean_key in self.LISTS:
                values = [number(v) for v in leaf.metric.get(list_key) or ()]
                if not values or None in values:
                    out.append(self.finding(f"{list_key} is empty or not numeric: the workload cannot be "
                                            "aggregated", expected="one value per epoch", actual=values,
                                            evidence=evidence))
                    continue
                stated = number(leaf.metric.get(mean_key))
                computed = figures.mean(values)
                if stated is None or not math.isclose(stated, computed, rel_tol=MEAN_TOLERANCE):
                    out.append(self.finding(f"{mean_key} does not follow from {list_key}", expected=computed,
                                            actual=stated, evidence=evidence,
                                            fix="the summary was edited or truncated; restore DLIO's own file"))
        return out


class TrainVariance(Rule):
    id = "TRAIN-VARIANCE"
    section = "2.1.17"
    description = (f"coefficient of variation of the measured runs' throughput, reported; above "
                   f"{CV_WARNING:.0%} a warning (the v2.0 submission guidelines expect replicated results within 5 %)")
    severity = Outcome.INFO

    def check(self, ctx):
        values = [number(leaf.metric.get("train_throughput_mean_samples_per_second")) for leaf in ctx.measured]
        values = [v for v in values if v is not None]
        cv = figures.coefficient_of_variation(values)
        if cv is None:
            return []
        if cv > CV_WARNING:
            return [self.finding(f"throughput varies {cv:.2%} across {len(values)} measured runs",
                                 outcome=Outcome.WARNING, expected=f"<= {CV_WARNING:.0%}", actual=round(cv, 6),
                                 evidence=ctx.workload.rel,
                                 fix="look for interference (caching, other jobs, throttling) before submitting")]
        return [self.finding(f"throughput coefficient of variation {cv:.2%} across {len(values)} measured runs",
                             actual=round(cv, 6), evidence=ctx.workload.rel)]
