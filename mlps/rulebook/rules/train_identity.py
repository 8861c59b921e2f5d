"""Which training workload a result is, and whether its runs agree on it."""

from __future__ import annotations

from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import PROFILES, Rule
from mlps.rulebook.rules._evidence import ref
from mlps.rulebook.workloads import TRAINING_WORKLOADS

# Sanctioned for edition 3.0 (mlpstorage's editions.yaml) although MLCommons published no template for it.
_SANCTIONED_WITHOUT_TEMPLATE = {("unet3d", "mi355"): ("3.0",)}


class TrainModel(Rule):
    id = "TRAIN-MODEL"
    section = "2.1.11"
    description = "model and emulated accelerator belong to the edition's CLOSED/OPEN set (else what-if only)"
    profiles = PROFILES
    choice = ("a model/accelerator the tool knows but the edition allows only as what-if (our DLIO 2.0.0 "
              "emulation of h100/a100 under edition 3.0) is OPEN with the reason; an unknown one is INVALID")

    def check(self, ctx):
        workload = ctx.workload
        model, accel = workload.model, workload.accelerator
        evidence = ref(workload.runs[0]) if workload.runs else workload.rel
        if not model or not accel:
            return [self.finding("cannot tell the model and emulated accelerator of this workload",
                                 outcome=Outcome.WARNING, expected="model/accelerator", actual=f"{model}/{accel}",
                                 evidence=evidence, missing=evidence + "/dlio_config/overrides.yaml",
                                 fix="keep dlio_config/overrides.yaml (workload=<model>_<accelerator>) in every leaf")]
        if ctx.edition.name in _SANCTIONED_WITHOUT_TEMPLATE.get((model, accel), ()):
            return [self.finding(f"{model}/{accel} is sanctioned for edition {ctx.edition.name} but no template "
                                 "was ever published, so its numbers cannot be checked", outcome=Outcome.WARNING,
                                 evidence=evidence)]
        known = TRAINING_WORKLOADS.get((model, accel))
        divisions = known.divisions(ctx.edition.name) if known else frozenset()
        if ctx.division in divisions:
            return []
        allowed = sorted(f"{m}/{a}" for (m, a), w in TRAINING_WORKLOADS.items()
                         if ctx.division in w.divisions(ctx.edition.name))
        if known is not None:
            where = "what-if only" if "whatif" in divisions else "not part of it"
            return [self.finding(
                f"{model}/{accel} is {where} in edition {ctx.edition.name}; a {ctx.division.upper()} result "
                f"needs one of {', '.join(allowed)}", outcome=Outcome.OPEN, expected=allowed,
                actual=f"{model}/{accel}", evidence=evidence,
                fix="run an accelerator of the edition's CLOSED set, or verify with the edition it was made for "
                    "(--edition)")]
        return [self.finding(f"{model}/{accel} is not a training workload of any edition", expected=allowed,
                             actual=f"{model}/{accel}", evidence=evidence,
                             fix="use a workload template of the rules (configs/dlio/workload)")]


class TrainConsistent(Rule):
    id = "TRAIN-CONSISTENT"
    section = "2.1.17"
    description = ("model, accelerator, accelerators, hosts, num_files_train and samples/file agree across runs "
                   "(as v1.0's report.py demands)")

    FIELDS = ("model", "accelerator", "num_accelerators", "num_hosts", "num_files_train", "samples_per_file")

    def check(self, ctx):
        leaves = ctx.measured
        out = []
        for name in self.FIELDS:
            values = {leaf.name: getattr(leaf, name) for leaf in leaves if getattr(leaf, name) is not None}
            distinct = sorted({str(v) for v in values.values()})
            if len(distinct) > 1:
                out.append(self.finding(
                    f"measured runs disagree on {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()),
                    expected="one value", actual=distinct, evidence=ctx.workload.rel,
                    fix="every measured run of a result must use the same workload, hosts and dataset"))
        return out
