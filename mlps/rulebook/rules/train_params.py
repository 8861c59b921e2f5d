"""What a training run changed from its template: overrides, odirect, the checkpoint workflow."""

from __future__ import annotations

from mlps.results.models import split_override
from mlps.rulebook.editions import OPEN_PARAMS, closed_params, tool_injected
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import config_ref, number, truthy


class TrainParams(Rule):
    id = "TRAIN-PARAMS"
    section = "3.6.2 / 3.6.3"
    description = ("overrides only of CLOSED tunables (OPEN tunables make the run OPEN; anything else INVALID); "
                   "tool-injected keys and workflow.* do not count")
    choice = ("output.folder/output.log_file (where results go) count as tool-injected; v1.0/v2.0 launchers "
              "injected profiling.profiler; reader.read_threads has no cap in any edition (v1.0 review accepted 48-96; "
              "a < 32 check lived only in v2.0 development code)")

    def check(self, ctx):
        allowed_closed = closed_params(ctx.edition)
        injected = tool_injected(ctx.edition)
        out = []
        for leaf in ctx.runs:
            params = leaf.override_params()
            if params is None:
                path = config_ref(leaf, "overrides.yaml")
                out.append(self.finding("cannot check the run's overrides: no overrides.yaml and no metadata "
                                        "override_parameters", outcome=Outcome.WARNING, evidence=leaf.rel,
                                        missing=path, fix="keep dlio_config/overrides.yaml in every run leaf"))
                continue
            evidence = config_ref(leaf, "overrides.yaml") if leaf.overrides is not None else leaf.rel
            for key, value in sorted(params.items()):
                if key.startswith("workflow") or key in injected or key in allowed_closed:
                    continue
                if key in OPEN_PARAMS:
                    out.append(self.finding(f"{key}={value} is an OPEN-only tunable", outcome=Outcome.OPEN,
                                            expected="CLOSED tunables only", actual=f"{key}={value}",
                                            evidence=evidence, fix="submit as OPEN, or drop the override"))
                else:
                    out.append(self.finding(f"{key}={value} may not be overridden in either division",
                                            expected="CLOSED or OPEN tunables only", actual=f"{key}={value}",
                                            evidence=evidence, fix="remove the override; templates are fixed"))
            for line in leaf.overrides or ():
                if line.startswith(("workload=", "hydra.", "++hydra.", "+hydra.")) or split_override(line)[0]:
                    continue
                out.append(self.finding(f"unrecognised override line {line!r}", outcome=Outcome.WARNING,
                                        evidence=evidence))
        return out



class TrainPrefetch(Rule):
    id = "TRAIN-PREFETCH"
    section = "3.6.2"
    description = "v1.0 CLOSED runs keep reader.prefetch_size <= 2 (the v1.0 launcher refused more)"
    editions = ("1.0",)
    profiles = ("closed",)

    def check(self, ctx):
        limit = ctx.edition.closed_prefetch_max
        out = []
        for leaf in ctx.runs:
            value = (leaf.override_params() or {}).get("reader.prefetch_size")
            size = number(value)
            if value is None or limit is None or (size is not None and size <= limit):
                continue
            evidence = config_ref(leaf, "overrides.yaml") if leaf.overrides is not None else leaf.rel
            out.append(self.finding(f"reader.prefetch_size={value} is above edition {ctx.edition.name}'s CLOSED limit",
                                    expected=f"<= {limit}", actual=value, evidence=evidence,
                                    fix=f"rerun with reader.prefetch_size <= {limit}, or submit as OPEN"))
        return out


class TrainOdirect(Rule):
    id = "TRAIN-ODIRECT"
    section = "3.6.2"
    description = "reader.odirect may be true only for unet3d (mlpstorage's run checker)"

    def check(self, ctx):
        out = []
        model = ctx.workload.model            # the tree path names it: published metadata can name a renamed path
        for leaf in ctx.runs:
            if truthy(leaf.param("reader.odirect")) and model != "unet3d":
                out.append(self.finding("reader.odirect is enabled on a model other than unet3d",
                                        expected="odirect only for unet3d", actual=model,
                                        evidence=leaf.rel, fix="remove ++workload.reader.odirect"))
        return out


class TrainUnetCheckpoint(Rule):
    id = "TRAIN-UNET-CKPT"
    section = "3.6.2"
    description = "unet3d runs keep the template's checkpoint workflow (v2.0 run checker; off in 3.0)"
    editions = ("1.0", "2.0")
    choice = "in 3.0 the checker keyed on a command that never runs and the b200 template has it off: not applied"

    def check(self, ctx):
        if ctx.workload.model != "unet3d" or not ctx.edition.unet3d_checkpoint_required:
            return []
        out = []
        for leaf in ctx.runs:
            value = truthy(leaf.param("workflow.checkpoint"))
            if value is None:
                out.append(self.finding("cannot tell whether the checkpoint workflow ran",
                                        outcome=Outcome.WARNING, evidence=leaf.rel,
                                        missing=config_ref(leaf, "config.yaml")))
            elif not value:
                out.append(self.finding("unet3d ran with workflow.checkpoint disabled", expected=True, actual=False,
                                        evidence=config_ref(leaf, "config.yaml"),
                                        fix="keep the template's workflow.checkpoint: True"))
        return out
