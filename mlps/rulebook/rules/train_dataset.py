"""Dataset size against measured memory and the step floor (TRAIN-DATASIZE), and the datasize /
datagen / run chain of a v2.0+ training workload."""

from __future__ import annotations

from types import SimpleNamespace

from mlps.plan import datasize
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import GIB, host_figures, number, ref
from mlps.rulebook.workloads import TRAINING_WORKLOADS


def dataset_shape(leaf, workload):
    """(record_length_bytes, samples_per_file, batch_size) the leaf ran with: its own config first,
    then the template of its model/accelerator. Missing pieces are None."""
    template = TRAINING_WORKLOADS.get((workload.model, workload.accelerator))
    rec = number(leaf.param("dataset.record_length_bytes"))
    if rec is None:
        rec = number(leaf.param("dataset.record_length"))          # v1.0 key name
    spf = leaf.samples_per_file
    batch = number(leaf.param("reader.batch_size"))
    if template is not None:
        rec = rec if rec is not None else template.record_length_bytes
        spf = spf if spf is not None else template.num_samples_per_file
        batch = batch if batch is not None else template.batch_size
    return rec, (int(spf) if spf else None), (int(batch) if batch else None)


class TrainDatasize(Rule):
    id = "TRAIN-DATASIZE"
    section = "3.1.2"
    description = ("num_files_train >= max(5 x measured client memory / (samples/file x record length), "
                   "500 steps per accelerator per epoch)")
    profiles = ("closed", "open", "preflight")
    choice = ("memory = measured client memory summed once per host (metadata system_info, cluster_info.json, else "
              "the sum of DLIO's host_memory_GB); required = ceil of both terms; verifying edition 3.0 accepts "
              "ceil - 1 (older tools floor-divided); record length, samples/file and batch from the leaf's "
              "config.yaml, else the workload template")

    def check(self, ctx):
        out, seen = [], set()
        for leaf in ctx.runs:
            files, accels = leaf.num_files_train, leaf.num_accelerators
            memory = host_figures(leaf)
            rec, spf, batch = dataset_shape(leaf, ctx.workload)
            key = (files, accels, memory.total_memory_bytes, rec, spf, batch)
            if key in seen:
                continue
            seen.add(key)
            lacking = [name for name, value in (("num_files_train", files), ("num_accelerators", accels),
                                                ("client memory", memory.total_memory_bytes),
                                                ("record length", rec), ("samples per file", spf),
                                                ("batch size", batch)) if not value]
            if lacking:
                out.append(self.finding(f"cannot compute the minimum dataset: no {', '.join(lacking)}",
                                        outcome=Outcome.WARNING, evidence=leaf.rel,
                                        missing=ref(leaf, leaf.summary_file or "summary.json")))
                continue
            shape = SimpleNamespace(model=ctx.workload.model, accelerator=ctx.workload.accelerator,
                                    num_samples_per_file=spf, record_length_bytes=rec, batch_size=batch)
            plan = datasize.plan_datasize(shape, int(memory.total_memory_bytes), accels)
            minimum = datasize.accepted_minimum(plan.num_files_train, ctx.edition.name)
            if files < minimum:
                out.append(self.finding(
                    f"num_files_train {files} is below the minimum {plan.num_files_train} for {accels} "
                    f"accelerators and {memory.total_memory_bytes / GIB:.2f} GiB measured client memory "
                    f"({plan.dominant_term} term dominates)", expected=f">= {plan.num_files_train}",
                    actual=files, evidence=memory.source or leaf.rel,
                    fix=f"regenerate the dataset with at least {plan.num_files_train} files (mlps plan) and rerun",
                    files_by_memory=plan.files_by_mem, files_by_steps=plan.files_by_steps))
        return out


class TrainPhases(Rule):
    id = "TRAIN-PHASES"
    section = "2.1.12 / 3.1.1"
    description = "a datasize leaf records how the dataset was sized (v3.0 validator: missing is a warning)"
    severity = Outcome.WARNING
    editions = ("2.0", "3.0")
    choice = "the rules call a missing phase INVALID; the v3.0 validator and the published tree treat it as a WARNING"

    def check(self, ctx):
        if ctx.workload.by_command("datasize"):
            return []
        path = f"{ctx.workload.rel}/datasize/<YYYYMMDD_HHMMSS>"
        return [self.finding("no datasize leaf: the dataset size is not documented", evidence=ctx.workload.rel,
                             missing=path, fix="run the datasize phase and keep its leaf")]


class TrainDatagenOne(Rule):
    id = "TRAIN-DATAGEN-ONE"
    section = "2.1.13"
    description = "exactly one datagen leaf per training workload"
    editions = ("2.0", "3.0")

    def check(self, ctx):
        leaves = ctx.workload.by_command("datagen")
        if len(leaves) == 1:
            return []
        if not leaves:
            return [self.finding("no datagen leaf", expected=1, actual=0, evidence=ctx.workload.rel,
                                 missing=f"{ctx.workload.rel}/datagen/<YYYYMMDD_HHMMSS>",
                                 fix="keep the one datagen leaf that wrote the dataset the runs read")]
        return [self.finding(f"{len(leaves)} datagen leaves", expected=1, actual=len(leaves),
                             evidence=ctx.workload.rel, fix="keep only the datagen leaf of the dataset used")]


class TrainRunData(Rule):
    id = "TRAIN-RUN-DATA"
    section = "3.3.1 / 3.2.1"
    description = ("datasize.num_files_train <= run.num_files_train <= datagen.num_files_train, and the runs "
                   "read the folder datagen wrote")
    editions = ("3.0",)

    choice = ("the v3.0 round reported these as warnings; the newest rules text makes them errors; precedence "
              "puts the rules text first, so a breach is INVALID")
    def check(self, ctx):
        workload = ctx.workload
        out = []
        sized = [_planned_files(leaf) for leaf in workload.by_command("datasize")]
        sized = [s for s in sized if s]
        generated = [(leaf, leaf.num_files_train) for leaf in workload.by_command("datagen") if leaf.num_files_train]
        for leaf in ctx.runs:
            files = leaf.num_files_train
            if files is None:
                continue
            if sized and files < max(sized):
                out.append(self.finding(f"run reads {files} files, fewer than datasize planned (DATASIZE-UNDERRUN)",
                                        expected=f">= {max(sized)}", actual=files, evidence=leaf.rel))
            for gen_leaf, gen_files in generated:
                if files > gen_files:
                    out.append(self.finding(f"run reads {files} files but datagen wrote {gen_files} "
                                            "(DATAGEN-OVERRUN)", expected=f"<= {gen_files}", actual=files,
                                            evidence=leaf.rel))
                run_dir, gen_dir = leaf.param("dataset.data_folder"), gen_leaf.param("dataset.data_folder")
                if run_dir and gen_dir and str(run_dir).rstrip("/") != str(gen_dir).rstrip("/"):
                    out.append(self.finding("run and datagen name different data folders (DATADIR-MISMATCH)",
                                            expected=gen_dir, actual=run_dir, evidence=leaf.rel))
        return out


def _planned_files(leaf) -> int | None:
    """num_files_train a datasize leaf planned: metadata parameters.dataset.num_files_train."""
    value = number(leaf.param("dataset.num_files_train"))
    return int(value) if value else None
