"""Checkpointing rules (rule book §4.3-§4.7): counts, invocations, gaps, processes, subset mode, fsync,
accelerator memory, the 3x memory cache rule and the allowed overrides."""

from __future__ import annotations

from mlps.results.models import parse_time
from mlps.rulebook.editions import tool_injected
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import GIB, config_ref, host_figures, number, ranks_per_host, ref, truthy
from mlps.rulebook.workloads import ACCELERATOR_MEMORY_GB, CHECKPOINT_COMMON, CHECKPOINT_MODELS

REQUIRED = CHECKPOINT_COMMON["num_checkpoints_write"]        # 10 writes and 10 reads
MAX_SPLIT_GAP_S = 30
MIN_RANKS_PER_HOST = 4
CACHE_MULTIPLE = 3
ALLOWED_CLOSED = frozenset({"checkpoint.checkpoint_folder", "checkpoint.num_checkpoints_write",
                            "checkpoint.num_checkpoints_read"})
# Set by the tool itself when it runs subset mode (mlpstorage v3.0's subset mechanics).
SUBSET_INJECTED = frozenset({"checkpoint.mode", "model.parallelism.data"})


def counts(leaf):
    """(writes, reads) an invocation did; None where nothing records it."""
    values = {}
    for kind in ("write", "read"):
        values[kind] = number(leaf.param(f"checkpoint.num_checkpoints_{kind}"))
    stats = (leaf.per_epoch or {}).get("1")
    if isinstance(stats, dict):
        counted = {"write": sum(k.startswith("save_ckpt") for k in stats),
                   "read": sum(k.startswith("load_ckpt") for k in stats)}
        values = {kind: counted[kind] if value is None else value for kind, value in values.items()}
    if leaf.config is not None or leaf.overrides is not None:
        # a recorded configuration that does not mention a count ran the template's value
        values = {kind: CHECKPOINT_COMMON[f"num_checkpoints_{kind}"] if value is None else value
                  for kind, value in values.items()}
    return tuple(None if values[k] is None else int(values[k]) for k in ("write", "read"))


def phase(leaf) -> str | None:
    """write | read | both, from the counts or else the summary's metric names."""
    writes, reads = counts(leaf)
    if writes is None or reads is None:
        metric = leaf.metric
        writes = writes if writes is not None else int("save_checkpoint_io_mean_GB_per_second" in metric)
        reads = reads if reads is not None else int("load_checkpoint_io_mean_GB_per_second" in metric)
    return {(True, False): "write", (False, True): "read", (True, True): "both"}.get((writes > 0, reads > 0))


def subset_declared(leaf) -> bool:
    args = (leaf.metadata or {}).get("args")
    if isinstance(args, dict) and truthy(args.get("checkpoint_subset")):
        return True
    return str(leaf.param("checkpoint.mode") or "").lower() == "subset"


class _CkptRule(Rule):
    benchmarks = ("checkpointing",)
    editions = ("2.0", "3.0")


class CkptModel(_CkptRule):
    id = "CKPT-MODEL"
    section = "2.1.21 / 4.3.3"
    description = "the workload is one of llama3-8b, llama3-70b, llama3-405b, llama3-1t"

    def check(self, ctx):
        if ctx.workload.model in CHECKPOINT_MODELS:
            return []
        return [self.finding(f"{ctx.workload.model!r} is not a checkpointing model", expected=list(CHECKPOINT_MODELS),
                             actual=ctx.workload.model, evidence=ctx.workload.rel,
                             fix="name the workload folder after the model (e.g. llama3-8b)")]


class CkptCounts(_CkptRule):
    id = "CKPT-COUNTS"
    section = "4.6.3 / 4.7.1"
    description = f"CLOSED: {REQUIRED} checkpoint writes and {REQUIRED} reads in total, per invocation 10 or 0 each"

    def check(self, ctx):
        if not ctx.is_closed:
            return []
        out, totals = [], {"write": 0, "read": 0}
        for leaf in ctx.runs:
            writes, reads = counts(leaf)
            if writes is None or reads is None:
                out.append(self.finding("cannot tell how many checkpoints this invocation wrote and read",
                                        outcome=Outcome.WARNING, evidence=leaf.rel,
                                        missing=config_ref(leaf, "overrides.yaml"),
                                        fix="keep dlio_config/ (overrides.yaml) in every checkpointing leaf"))
                return out
            for kind, value in (("write", writes), ("read", reads)):
                totals[kind] += value
                if value not in (0, REQUIRED):
                    out.append(self.finding(f"num_checkpoints_{kind}={value}", expected=f"0 or {REQUIRED}",
                                            actual=value, evidence=leaf.rel,
                                            fix="use 10 (or 0 in the split form); other counts are OPEN only"))
        for kind, value in totals.items():
            if value != REQUIRED:
                out.append(self.finding(f"{value} checkpoint {kind}s in total", expected=REQUIRED, actual=value,
                                        evidence=ctx.workload.rel))
        return out


class CkptInvocations(_CkptRule):
    id = "CKPT-INVOCATIONS"
    section = "2.1.23 / 4.7.1"
    description = "one invocation (writes then reads) or two (all writes, then all reads); CLOSED never 3+"

    def check(self, ctx):
        runs = ctx.runs
        if not runs:
            return [self.finding("no checkpointing run leaf", expected="1 or 2", actual=0,
                                 evidence=ctx.workload.rel)]
        if len(runs) > 2:
            if not ctx.is_closed:
                return []
            return [self.finding(f"{len(runs)} invocations", expected="1 or 2", actual=len(runs),
                                 evidence=ctx.workload.rel, fix="keep one (write+read) or two (write, read) leaves")]
        phases = [phase(leaf) for leaf in runs]
        expected = ["both"] if len(runs) == 1 else ["write", "read"]
        if phases != expected:
            return [self.finding(f"invocation phases are {phases}", expected=expected, actual=phases,
                                 evidence=ctx.workload.rel,
                                 fix="write all checkpoints first, then read them (one or two invocations)")]
        return []


class CkptGap(_CkptRule):
    id = "CKPT-GAP"
    section = "4.7.1"
    description = f"split form: the read invocation starts at most {MAX_SPLIT_GAP_S} s after the writes end"
    severity = Outcome.WARNING

    choice = ("the rules text sets the 30 s limit, but the v3.0 round published breaches as warnings and the "
              "published tree decides what a reader accepts: a breach is a WARNING; a negative gap is clock skew "
              "between hosts, reported as a WARNING, not a violation")
    def check(self, ctx):
        runs = ctx.runs
        if len(runs) != 2 or [phase(leaf) for leaf in runs] != ["write", "read"]:
            return []
        write, read = runs
        gap, how = _split_gap(write, read)
        if gap is None:
            return [self.finding("cannot compute the gap between the write and read invocations",
                                 evidence=ctx.workload.rel, missing=ref(write, write.summary_file or "summary.json"))]
        if gap < 0:
            return [self.finding(f"read starts {-gap:.1f} s before the writes end ({how}): clock skew?",
                                 actual=round(gap, 3), evidence=read.rel, fix="synchronise the hosts' clocks (NTP)")]
        if gap > MAX_SPLIT_GAP_S:
            return [self.finding(f"read invocation started {gap:.1f} s after the writes ended ({how})",
                                 expected=f"<= {MAX_SPLIT_GAP_S} s", actual=round(gap, 3), evidence=read.rel,
                                 fix="start the read invocation right after the write invocation")]
        return []


def _split_gap(write, read):
    """Seconds from the end of writing to the start of reading, comparing like clocks only:
    metadata invocation times (UTC) together, else DLIO end (local) and the read leaf's name (local)."""
    w_meta, r_meta = write.metadata or {}, read.metadata or {}
    w_end, r_start = parse_time(w_meta.get("invocation_end_time")), parse_time(r_meta.get("invocation_start_time"))
    if w_end and r_start:
        return (r_start - w_end).total_seconds(), "metadata invocation times"
    r_local = read.timestamp or read.start
    if write.end and r_local:
        return (r_local - write.end).total_seconds(), "write summary end to read leaf start"
    return None, None


class CkptTimestampGap(_CkptRule):
    id = "CKPT-TS-GAP"
    section = "2.1.24"
    description = "two invocations are consecutive: second start - first end < the longer invocation's duration"

    def check(self, ctx):
        runs = ctx.runs
        if len(runs) != 2:
            return []
        first, second = runs
        if not (first.end and second.start and first.duration_s is not None and second.duration_s is not None):
            return []
        gap = (second.start - first.end).total_seconds()
        limit = max(first.duration_s, second.duration_s)
        if gap >= limit:
            return [self.finding(f"{gap:.0f} s between the two invocations", expected=f"< {limit:.0f} s",
                                 actual=round(gap, 3), evidence=second.rel,
                                 fix="run the read invocation right after the write invocation")]
        return []


class CkptProcesses(_CkptRule):
    id = "CKPT-PROCS"
    section = "4.6.1 / 4.6.4"
    description = ("CLOSED: exactly 8/64/512/1024 processes (another multiple of TP x PP is OPEN); "
                   "OPEN: any positive multiple of TP x PP")

    def check(self, ctx):
        model = CHECKPOINT_MODELS.get(ctx.workload.model)
        if model is None:
            return []
        out = []
        for leaf in ctx.runs:
            procs = leaf.num_accelerators
            if procs is None:
                out.append(self.finding("cannot tell the number of processes", outcome=Outcome.WARNING,
                                        evidence=leaf.rel, missing=ref(leaf, "summary.json")))
                continue
            if subset_declared(leaf) and procs <= model.closed_processes:
                continue                                  # CKPT-SUBSET decides
            multiple = procs > 0 and procs % model.model_parallel == 0
            if ctx.is_closed and procs == model.closed_processes:
                continue
            if multiple:
                if ctx.is_closed:
                    out.append(self.finding(f"{procs} processes", outcome=Outcome.OPEN,
                                            expected=model.closed_processes, actual=procs, evidence=leaf.rel,
                                            fix=f"CLOSED needs exactly {model.closed_processes} processes"))
                continue
            out.append(self.finding(f"{procs} processes is not a multiple of TP x PP = {model.model_parallel}",
                                    expected=f"a multiple of {model.model_parallel}", actual=procs, evidence=leaf.rel))
        return out


class CkptPerHost(_CkptRule):
    id = "CKPT-PER-HOST"
    section = "4.6.2"
    description = f"every host runs at least {MIN_RANKS_PER_HOST} checkpointing processes"

    choice = "the text says 'more than 4' processes per host, its table 'minimal 4': we take the table (>= 4)"
    def check(self, ctx):
        for leaf in ctx.runs:
            placement = ranks_per_host(leaf)
            if placement:
                fewest = min(placement.values())
            elif leaf.num_accelerators and leaf.num_hosts:
                fewest = leaf.num_accelerators // leaf.num_hosts
            else:
                continue
            if fewest < MIN_RANKS_PER_HOST:
                return [self.finding(f"a host runs {fewest} processes", expected=f">= {MIN_RANKS_PER_HOST}",
                                     actual=fewest, evidence=leaf.rel, fix="use fewer hosts")]
        return []


class CkptSubset(_CkptRule):
    id = "CKPT-SUBSET"
    section = "4.3.5"
    description = "subset mode only for llama3-8b at exactly 8 processes (v3.0; v2.0 allowed it for all models)"
    editions = ("3.0",)

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            if not subset_declared(leaf):
                continue
            if ctx.workload.model == "llama3-8b" and leaf.num_accelerators == 8:
                continue
            out.append(self.finding(f"subset mode on {ctx.workload.model} with {leaf.num_accelerators} processes",
                                    expected="llama3-8b with 8 processes", actual=ctx.workload.model,
                                    evidence=leaf.rel, fix="run the full process count"))
        return out


class CkptFsync(_CkptRule):
    id = "CKPT-FSYNC"
    section = "4.3.2"
    description = "every checkpointing configuration keeps checkpoint.fsync true"

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            value = leaf.param("checkpoint.fsync")
            if value is None:
                if leaf.config is None:
                    out.append(self.finding("cannot check checkpoint.fsync: no config.yaml", outcome=Outcome.WARNING,
                                            evidence=leaf.rel, missing=config_ref(leaf, "config.yaml")))
                else:
                    out.append(self.finding("config.yaml does not record checkpoint.fsync", outcome=Outcome.WARNING,
                                            evidence=config_ref(leaf, "config.yaml")))
            elif not truthy(value):
                out.append(self.finding("checkpoint.fsync is disabled", expected=True, actual=value,
                                        evidence=config_ref(leaf, "config.yaml"), fix="keep fsync: True"))
        return out


class CkptAcceleratorMemory(_CkptRule):
    id = "CKPT-ACCEL-MEM"
    section = "4.3.4"
    description = "accelerator memory x processes holds the checkpoint (Table 3: b200 180, mi355 288 GB)"

    choice = ("a missing or null accelerator is INVALID in the rules, but v3.0 leaves recorded accelerator: null "
              "and were published; the published tree wins: a WARNING")
    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            accel = leaf.accelerator
            size = number(leaf.metric.get("checkpoint_size_GB"))
            if not accel:
                out.append(self.finding("the run does not record its accelerator type", outcome=Outcome.WARNING,
                                        evidence=leaf.rel,
                                        missing=None if leaf.metadata_file else ref(leaf, f"checkpointing_{leaf.name}"
                                                                                   "_metadata.json")))
                continue
            memory = ACCELERATOR_MEMORY_GB.get(accel)
            if memory is None:
                out.append(self.finding(f"unknown accelerator {accel!r}", expected=list(ACCELERATOR_MEMORY_GB),
                                        actual=accel, evidence=ref(leaf, leaf.metadata_file)))
                continue
            procs = leaf.num_accelerators
            if size is not None and procs and memory * procs < size:
                out.append(self.finding(f"{procs} x {memory} GB of {accel} memory cannot hold a {size:.1f} GB "
                                        "checkpoint", expected=f">= {size:.1f}", actual=memory * procs,
                                        evidence=ref(leaf, leaf.summary_file), fix="use more processes"))
        return out


class CkptCacheRatio(_CkptRule):
    id = "CKPT-CACHE-RATIO"
    section = "4.3.1"
    description = "per host, a checkpoint exceeds 3x host memory, or writes and reads are split (cache cleared)"
    severity = Outcome.WARNING

    def check(self, ctx):
        runs = ctx.runs
        if len(runs) != 1 or phase(runs[0]) != "both":
            return []                                     # split form: the cache is cleared between
        leaf = runs[0]
        size = number(leaf.metric.get("checkpoint_size_GB"))
        hosts = leaf.num_hosts or 1
        memory = host_figures(leaf).total_memory_bytes
        if size is None or not memory:
            return []
        per_host_ckpt, per_host_mem = size * GIB / hosts, memory / hosts
        if per_host_ckpt > CACHE_MULTIPLE * per_host_mem:
            return []
        return [self.finding(f"each host writes {per_host_ckpt / GIB:.1f} GiB per checkpoint, not more than "
                             f"{CACHE_MULTIPLE} x its {per_host_mem / GIB:.1f} GiB of memory, and reads follow in "
                             "the same invocation", expected=f"> {CACHE_MULTIPLE * per_host_mem / GIB:.1f} GiB",
                             actual=round(per_host_ckpt / GIB, 3), evidence=leaf.rel,
                             fix="split writes and reads into two invocations and clear the page cache between")]


class CkptParams(_CkptRule):
    id = "CKPT-PARAMS"
    section = "4.6.3"
    description = "CLOSED overrides only checkpoint_folder and the 10/0 counts; anything else makes the run OPEN"
    choice = ("the rules list no OPEN checkpointing tunables; any other override (and counts other than 10/0) is "
              "reported OPEN, not INVALID; the keys the tool sets for subset mode do not count")

    def check(self, ctx):
        injected = tool_injected(ctx.edition) | SUBSET_INJECTED
        out = []
        for leaf in ctx.runs:
            params = leaf.override_params()
            if params is None:
                continue                                  # CKPT-FILES / CKPT-COUNTS name the missing file
            for key, value in sorted(params.items()):
                if key.startswith("workflow") or key in injected:
                    continue
                if key in ALLOWED_CLOSED:
                    if key != "checkpoint.checkpoint_folder" and number(value) not in (0, REQUIRED):
                        out.append(self.finding(f"{key}={value}", outcome=Outcome.OPEN, expected=f"0 or {REQUIRED}",
                                                actual=value, evidence=config_ref(leaf, "overrides.yaml")))
                    continue
                out.append(self.finding(f"{key}={value} is not a CLOSED checkpointing tunable", outcome=Outcome.OPEN,
                                        expected=sorted(ALLOWED_CLOSED), actual=f"{key}={value}",
                                        evidence=config_ref(leaf, "overrides.yaml"),
                                        fix="submit as OPEN, or drop the override"))
        return out
