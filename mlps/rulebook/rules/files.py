"""The files every leaf and workload must carry (rule book §2.1.14-§2.1.20, §2.1.22-§2.1.26), and the
published per-workload figures files checked against recomputed ones."""

from __future__ import annotations

from mlps.results import figures
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import missing_leaf_files, ref


def _file_findings(rule, leaf, prefix, edition):
    out = []
    for path, warn, why in missing_leaf_files(leaf, prefix, edition):
        out.append(rule.finding(f"missing {why}", outcome=Outcome.WARNING if warn else None, expected=path,
                                actual="absent", evidence=leaf.rel, missing=path,
                                fix="keep every file the benchmark wrote in the leaf"))
    return out


class TrainFiles(Rule):
    id = "TRAIN-FILES"
    section = "2.1.14-2.1.20"
    description = ("run and datagen leaves carry stdout/stderr logs, DLIO's summary, per-epoch stats, outputs, "
                   "dlio.log and the 3 config YAMLs (missing per-rank outputs: warning); datasize leaves their "
                   "metadata")
    choice = ("per-rank *_output.json: required by 2.1.19 but pruned by nearly every v3.0 submitter, so a WARNING; "
              "datagen leaves without DLIO summary/per-epoch stats: a WARNING (DLIO 2.0.0 writes none when it only "
              "generates data); "
              "v1.0 leaves need summary, per-epoch stats and configs/ (logs optional); dlp.log/dft.log count as "
              "the DLIO log")

    def check(self, ctx):
        out = []
        for leaf in ctx.workload.leaves:
            if leaf.command == "datasize":
                if leaf.metadata_file is None:
                    path = ref(leaf, f"training_{leaf.name}_metadata.json")
                    out.append(self.finding("datasize leaf has no metadata with the planned dataset", expected=path,
                                            actual="absent", evidence=leaf.rel, missing=path))
                continue
            if leaf.command not in ("run", "datagen"):
                continue
            prefix = f"training_{leaf.command}" if leaf.timestamp else None
            out.extend(_file_findings(self, leaf, prefix, ctx.edition))
        return out


class CheckpointFiles(Rule):
    id = "CKPT-FILES"
    section = "2.1.22 / 2.1.25 / 2.1.26"
    description = ("checkpointing leaves carry stdout/stderr logs, DLIO's summary, per-epoch stats, outputs, "
                   "dlio.log and the 3 config YAMLs")
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            out.extend(_file_findings(self, leaf, "checkpointing_run", ctx.edition))
        workload = ctx.workload
        if ctx.edition.name == "3.0" and ctx.runs and workload.results_json_file is None:
            path = f"{workload.rel}/results.json"
            if not any(p.path == path for p in workload.problems):
                out.append(self.finding("no results.json with the workload's figures", expected=path,
                                        actual="absent", evidence=workload.rel, missing=path,
                                        fix="regenerate it from the leaves (the tool's results step)"))
        return out


class TrainResultsJson(Rule):
    id = "TRAIN-RESULTS-JSON"
    section = "2.1.20 / 3.3.8"
    description = "v3.0 training workloads carry run/results.json and its figures match the leaves (stale: warning)"
    choice = "staff removed stale tables in v3.0 rather than rejecting the result: stale figures are a WARNING"
    editions = ("3.0",)

    def check(self, ctx):
        workload = ctx.workload
        if not workload.runs:
            return []
        relative = "run/results.json"
        path = f"{workload.rel}/{relative}"
        if workload.results_json_file is None:
            if any(p.path == path for p in workload.problems):
                return []                     # READ-FILES already reports it unreadable
            return [self.finding(f"no {relative} with the workload's figures", expected=path, actual="absent",
                                 evidence=workload.rel, missing=path,
                                 fix="regenerate it from the leaves (the tool's reportgen / results step)")]
        computed = figures.training_results(ctx.measured)
        # only figures the leaves can give: a leaf without a summary is TRAIN-FILES' finding
        published = {k: v for k, v in _train_means(workload.results_json) if computed.get(k) is not None}
        diffs = figures.compare(published, computed)
        return [self.finding(f"{name} in {relative} is {pub}, the leaves give {mine}", outcome=Outcome.WARNING,
                             expected=mine, actual=pub, evidence=workload.results_json_file,
                             fix="regenerate results.json; it is stale")
                for name, pub, mine in diffs]


def _train_means(node):
    """Every `train_mean_of_*` key anywhere in a results.json document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("train_mean_of_"):
                yield key, value
            else:
                yield from _train_means(value)
    elif isinstance(node, list):
        for item in node:
            yield from _train_means(item)


class WorkloadReport(Rule):
    id = "TRAIN-REPORT"
    section = "2.1.20"
    description = ("v1.0 workloads carry mlperf_storage_report.json and its figures equal the mean and "
                   "population std of the runs' means (1e-9 relative)")
    editions = ("1.0",)

    def check(self, ctx):
        workload = ctx.workload
        if workload.report is None:
            if any(p.path.endswith("mlperf_storage_report.json") for p in workload.problems):
                return []
            path = f"{workload.rel}/mlperf_storage_report.json"
            return [self.finding("no mlperf_storage_report.json for this workload", expected=path, actual="absent",
                                 evidence=workload.rel, missing=path,
                                 fix="generate the report from the 5 runs (the v1.0 tool's reportgen)")]
        computed = figures.v1_report(ctx.measured, workload.model, workload.accelerator)
        published = workload.report
        runs = published.get("runs") if isinstance(published.get("runs"), dict) else {}
        extra = sorted(set(runs) - set(computed["runs"]))
        out = [self.finding(f"the report lists runs that are not in the tree: {extra}", expected="the run folders",
                            actual=extra, evidence=workload.report_file)] if extra else []
        for name, pub, mine in figures.compare(published, computed):
            if name.startswith("runs.") and name.split(".")[1] in extra:
                continue
            out.append(self.finding(f"{name} in the report is {pub}, the runs give {mine}", expected=mine,
                                    actual=pub, evidence=workload.report_file,
                                    fix="regenerate the report from the run summaries"))
        return out
