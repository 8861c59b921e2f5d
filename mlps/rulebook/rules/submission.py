"""Submission-shape rules of edition 3.0 the tool's checkers enforce: folder names (2.1.10-2.1.12),
exactly three files in dlio_config/ (2.1.15 / 2.1.20 / 2.1.26), one client node for a single-host
result (3.3.4), and evaluation files within the generated dataset (3.3.1)."""

from __future__ import annotations

import re
import shlex
from itertools import pairwise

from mlps.results.models import parse_dir_timestamp
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import ALL_BENCHMARKS, Rule
from mlps.rulebook.rules._evidence import number, ref

NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")                 # the tool's check of path segments
CONFIG_FILES = frozenset({"config.yaml", "hydra.yaml", "overrides.yaml"})
TRAINING_PHASES = ("datasize", "datagen", "run")
CHECKPOINT_PHASES = ("datasize",)                          # a checkpointing datasize leaf is tolerated
HOST_FLAGS = ("--hosts", "--host", "-host", "-H", "--hostfile-hosts")


class FolderNames(Rule):
    id = "TREE-NAMES"
    section = "2.1.10 / 2.1.11 / 2.1.12"
    description = ("<division>/<org>/results/<system>/<benchmark>/<model>/[<phase>/]<YYYYMMDD_HHMMSS>: "
                   "org and system names of [A-Za-z0-9._-], training phases datasize/datagen/run, leaves named "
                   "by their timestamp")
    editions = ("3.0",)
    benchmarks = ("training", "checkpointing")
    choice = ("an unknown <benchmark> folder is a WARNING: its workload is UNCHECKED (BENCH-UNCHECKED), since a "
              "later edition may name the benchmark")

    def applies(self, ctx):
        if ctx.workload is not None and ctx.workload.benchmark not in ALL_BENCHMARKS:
            return ctx.edition.name in self.editions and ctx.profile in self.profiles
        return super().applies(ctx)

    def check(self, ctx):
        workload = ctx.workload
        out = []
        if workload.benchmark not in ALL_BENCHMARKS:
            return [self.finding(f"benchmark folder {workload.benchmark!r} is none the rule book names",
                                 outcome=Outcome.WARNING, expected=", ".join(ALL_BENCHMARKS),
                                 actual=workload.benchmark, evidence=workload.rel,
                                 fix="move the results under their benchmark's folder (2.1.10)")]
        if workload.system is None:
            return [self.finding("the workload is not under <division>/<org>/results/<system>/",
                                 expected="closed|open/<org>/results/<system>/" + workload.benchmark,
                                 actual=workload.rel, evidence=workload.rel,
                                 fix="lay the results out as the rule book's tree (2.1.10)")]
        for label, name in (("organisation", workload.org), ("system", workload.system)):
            if not NAME_RE.match(name or ""):
                out.append(self.finding(f"{label} folder name {name!r} has characters the tool refuses",
                                        expected="[A-Za-z0-9._-]", actual=name, evidence=workload.rel,
                                        fix=f"rename the {label} folder (and its systems/ files) with - for others"))
        phases = TRAINING_PHASES if workload.benchmark == "training" else CHECKPOINT_PHASES
        for leaf in workload.leaves:
            inner = leaf.path.relative_to(workload.path).parts
            phase_ok = (len(inner) == 2 and inner[0] in phases) or (
                workload.benchmark == "checkpointing" and len(inner) == 1)
            if not phase_ok or not parse_dir_timestamp(leaf.name):
                shape = "<phase>/<YYYYMMDD_HHMMSS> with phase " + "/".join(phases) \
                    if workload.benchmark == "training" else "<YYYYMMDD_HHMMSS>"
                out.append(self.finding(f"leaf folder {'/'.join(inner)} is not named as the tree requires",
                                        expected=shape, actual="/".join(inner), evidence=leaf.rel,
                                        fix="keep the folders the benchmark tool created, unrenamed"))
        return out


class ConfigFolderExact(Rule):
    id = "DLIO-CONFIG-EXACT"
    section = "2.1.15 / 2.1.20 / 2.1.26"
    description = "a leaf's dlio_config/ holds exactly config.yaml, hydra.yaml and overrides.yaml"
    editions = ("3.0",)
    benchmarks = ("training", "checkpointing")
    choice = "missing files are TRAIN-FILES/CKPT-FILES findings; this rule reports the extra ones"

    def check(self, ctx):
        out = []
        for leaf in ctx.workload.leaves:
            if leaf.config_dir is None or leaf.command not in ("run", "datagen"):
                continue
            extra = sorted(set(leaf.config_files) - CONFIG_FILES)
            if extra:
                out.append(self.finding(f"{leaf.config_dir}/ holds files beside the three the rules allow: "
                                        f"{', '.join(extra)}", expected=sorted(CONFIG_FILES), actual=extra,
                                        evidence=ref(leaf, leaf.config_dir),
                                        fix="keep only config.yaml, hydra.yaml and overrides.yaml in it"))
        return out


class SingleHostClients(Rule):
    id = "TRAIN-SINGLEHOST-CLIENTS"
    section = "3.3.4"
    description = "a result DLIO counts as one host was launched on one client node (not several)"
    editions = ("3.0",)

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            hosts = command_hosts(leaf)
            if leaf.num_hosts == 1 and hosts and len(hosts) > 1:
                out.append(self.finding(f"DLIO reports 1 host but the command ran on {len(hosts)}: "
                                        f"{', '.join(hosts)}", expected=1, actual=len(hosts), evidence=leaf.rel,
                                        fix="a single-host result runs every rank on one client; rerun it so"))
        return out


class EvalFilesWithinDataset(Rule):
    id = "TRAIN-EVAL-FILES"
    section = "3.3.1"
    description = "a run's num_files_eval (and num_subfolders_eval) do not exceed what the datagen leaf generated"
    editions = ("3.0",)

    def check(self, ctx):
        datagen = ctx.workload.by_command("datagen")
        if len(datagen) != 1:
            return []                          # TRAIN-DATAGEN-ONE reports it
        out = []
        for key in ("num_files_eval", "num_subfolders_eval"):
            generated = number(_dataset_value(datagen[0], key))
            if generated is None:
                continue
            for leaf in ctx.runs:
                used = number(_dataset_value(leaf, key))
                if used is not None and used > generated:
                    out.append(self.finding(f"the run uses {key}={used:g} but the dataset has {generated:g}",
                                            expected=f"<= {generated:g}", actual=used, evidence=leaf.rel,
                                            fix="run with the evaluation files that datagen generated"))
        return out


def _dataset_value(leaf, key: str):
    summary = leaf.summary or {}
    value = summary.get(key) if key in summary else None
    return value if value is not None else leaf.param(f"dataset.{key}")


def command_hosts(leaf) -> list:
    """Distinct client hosts the run was launched on: our placement, the tool's args.hosts, or the
    host list in the executed command (mpirun -host a:4,b:4 / --hosts a,b)."""
    meta = leaf.metadata or {}
    for key in ("ranks_per_host", "placement"):
        if isinstance(meta.get(key), dict) and meta[key]:
            return sorted(meta[key])
    args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
    value = args.get("hosts")
    if isinstance(value, list | str) and value:
        return _host_names(value if isinstance(value, list) else value.split(","))
    command = meta.get("executed_command")
    if isinstance(command, str):
        try:
            command = shlex.split(command)
        except ValueError:
            return []
    if not isinstance(command, list):
        return []
    for flag, following in pairwise(command):
        if flag in HOST_FLAGS and isinstance(following, str):
            return _host_names(following.split(","))
    return []


def _host_names(items) -> list:
    names = {str(item).split(":", 1)[0].strip() for item in items}
    return sorted(name for name in names if name)
