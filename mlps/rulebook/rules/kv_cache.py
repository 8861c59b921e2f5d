"""KV-cache rules (rule book §6): the Options and their locks, the client layout, per-rank isolation,
the storage tier, the run summary and how our own engine and scaling are judged.

A KV-cache run leaf is `kv_cache/<model>/run/<ts>/` with `kv_cache_<ts>_metadata.json` (what our
campaign gave every rank, schema mlps-kv_cache-metadata/1), `summary.json` and
`option_<O>/trial_<T>/rank_<N>/kvcache_results_<ts>.json`. A published leaf may hold only
summary.json: what cannot be checked then is UNCHECKED, never CLOSED.
One file for the benchmark's rules, as for every benchmark: the rules share its leaf helpers.
"""

from __future__ import annotations

from mlps.natural_order import natural_sorted
from mlps.results import kv_cache
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import number, ref
from mlps.rulebook.workloads import KV_LOCKS, KV_OPTIONS

KV = ("kv_cache",)
EDITIONS = ("3.0",)                       # the first edition with a KV-cache benchmark
PARAMETER_KEYS = ("model", "num_users", "duration", "gpu_mem_gb", "cpu_mem_gb", "max_concurrent_allocs",
                  "generation_mode", "seed")
# Option field -> the metadata parameter (and rank `args` key) that records it
OPTION_FIELDS = (("model", "model"), ("users", "num_users"), ("duration", "duration"),
                 ("gpu_mem_gb", "gpu_mem_gb"), ("cpu_mem_gb", "cpu_mem_gb"),
                 ("max_concurrent_allocs", "max_concurrent_allocs"), ("generation_mode", "generation_mode"))
# What the OPEN division may change (§6.6.2): a CLOSED-folder run that changed only these is OPEN, not
# INVALID. Concurrent allocations are not among them.
OPEN_MAY_CHANGE = frozenset({"model", "users", "num_users", "duration", "gpu_mem_gb", "cpu_mem_gb", "generation_mode"})
# Rank arguments that turn on what only OPEN allows (§6.6.2): RAG, trace replay, latency tracing, a config file.
OPEN_ONLY_ARGS = ("enable_rag", "rag", "use_burst_trace", "burst_trace", "trace_file", "enable_latency_tracing",
                  "config", "enable_autoscaling")


def _meta(leaf) -> dict | None:
    return leaf.metadata if isinstance(leaf.metadata, dict) else None


def _described(ctx):
    """(leaf, metadata) of every run leaf whose metadata is readable; KV-LEAF-METADATA reports the others."""
    for leaf in ctx.runs:
        meta = _meta(leaf)
        if meta is not None:
            yield leaf, meta


def _meta_ref(leaf) -> str:
    return ref(leaf, leaf.metadata_file)


def _same(recorded, wanted) -> bool:
    if isinstance(wanted, str):
        return isinstance(recorded, str) and recorded.strip().lower() == wanted
    value = number(recorded)
    return value is not None and value == float(wanted)


def _scaled(meta: dict, recorded, wanted) -> bool:
    """The recorded duration is the Option's scaled by the run's recorded duration_scale."""
    scale, value = number(meta.get("duration_scale")), number(recorded)
    return scale is not None and scale != 1 and value is not None and value == max(1, round(float(wanted) * scale))


def _ranks(leaf) -> list:
    files = leaf.kv_ranks
    return [r for r in files.results if r.doc is not None] if files is not None else []


class KvRule(Rule):
    benchmarks = KV
    editions = EDITIONS


class KvOptions(KvRule):
    id = "KV-OPTIONS"
    section = "6.3.1.1"
    description = ("CLOSED runs Options 1, 2 and 3 in that order, each with Table KVCache-1's model, users per "
                   "client, duration, tier sizes, concurrent allocations and generation mode")

    def check(self, ctx):
        if not ctx.is_closed:
            return []
        out = []
        for leaf, meta in _described(ctx):
            options = meta.get("options")
            if options != list(KV_OPTIONS):
                out.append(self.finding(f"{leaf.name}: Options run {options!r}, not 1, 2, 3 in that order",
                                        outcome=Outcome.OPEN, expected=list(KV_OPTIONS), actual=options,
                                        evidence=_meta_ref(leaf), fix="run all three Options in one CLOSED invocation"))
            params = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
            for number_, option in KV_OPTIONS.items():
                given = params.get(str(number_))
                if not isinstance(given, dict):
                    out.append(self.finding(f"{leaf.name}: no parameters recorded for Option {number_}",
                                            outcome=Outcome.UNCHECKED, evidence=_meta_ref(leaf),
                                            missing=f"{_meta_ref(leaf)}: parameters.{number_}"))
                    continue
                for attr, key in OPTION_FIELDS:
                    wanted = getattr(option, attr)
                    if _same(given.get(key), wanted) or (key == "duration" and _scaled(meta, given.get(key), wanted)):
                        continue                           # a scaled duration is KV-SCALE's finding
                    out.append(self.finding(
                        f"{leaf.name}: Option {number_} ran with {key}={given.get(key)!r}",
                        outcome=Outcome.OPEN if key in OPEN_MAY_CHANGE else Outcome.INVALID,
                        expected=wanted, actual=given.get(key), evidence=_meta_ref(leaf),
                        fix=f"give every client Table KVCache-1's value for Option {number_}"))
        return out


class KvLocks(KvRule):
    id = "KV-LOCKS"
    section = "6.3.2.1"
    description = ("CLOSED: seed 42 (rank N seeds 42 + N), 3 trials per Option, 90 s slept between Options, "
                   "no configuration file")
    choice = ("one v3.0 tool version locked the delay at 20 s; the rule book's 90 s is required (published "
              "timings fit it); OPEN may change every lock (§6.6.2), so a difference is OPEN, not INVALID")
    severity = Outcome.OPEN

    def check(self, ctx):
        if not ctx.is_closed:
            return []
        out = []
        for leaf, meta in _described(ctx):
            evidence = _meta_ref(leaf)
            for key, meta_key in (("seed", "seed"), ("trials", "trials_per_option"),
                                  ("inter_option_delay", "inter_option_delay")):
                if not _same(meta.get(meta_key), KV_LOCKS[key]):
                    out.append(self.finding(f"{leaf.name}: {meta_key}={meta.get(meta_key)!r} is locked in CLOSED",
                                            expected=KV_LOCKS[key], actual=meta.get(meta_key), evidence=evidence,
                                            fix=f"run with {meta_key} {KV_LOCKS[key]}"))
            if meta.get("config") is not None:
                out.append(self.finding(f"{leaf.name}: a configuration file was given ({meta.get('config')!r})",
                                        expected=None, actual=meta.get("config"), evidence=evidence,
                                        fix="run CLOSED without a configuration file"))
            params = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
            for option, given in sorted(params.items()):
                if isinstance(given, dict) and "seed" in given and not _same(given["seed"], KV_LOCKS["seed"]):
                    out.append(self.finding(f"{leaf.name}: Option {option} seed {given['seed']!r}",
                                            expected=KV_LOCKS["seed"], actual=given["seed"], evidence=evidence))
            out.extend(self._rank_seeds(leaf))
        return out

    def _rank_seeds(self, leaf):
        for result in _ranks(leaf):
            seed = result.doc.get("seed")
            if seed is not None and not _same(seed, KV_LOCKS["seed"] + result.rank):
                return [self.finding(f"{leaf.name}: rank {result.rank} ran with seed {seed!r}",
                                     expected=KV_LOCKS["seed"] + result.rank, actual=seed,
                                     evidence=ref(leaf, result.file), fix="seed rank N with 42 + N")]
        return []


class KvNoAutoscale(KvRule):
    id = "KV-NO-AUTOSCALE"
    section = "6.3.2.2"
    description = "CLOSED runs without autoscaling"

    def check(self, ctx):
        if not ctx.is_closed:
            return []
        out = []
        for leaf, meta in _described(ctx):
            if meta.get("autoscaling") not in (False, None):
                out.append(self.finding(f"{leaf.name}: autoscaling was on", expected=False,
                                        actual=meta.get("autoscaling"), evidence=_meta_ref(leaf),
                                        fix="run CLOSED without autoscaling"))
        return out


class KvClients(KvRule):
    id = "KV-CLIENTS"
    section = "6.3.3.1-6.3.3.2"
    description = ("a client is an MPI rank: processes = clients per host x hosts, as recorded in the metadata and "
                   "the summary; no rank folder beyond the process count")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            out.extend(self._layout(leaf))
        return out

    def _layout(self, leaf):
        meta, summary = _meta(leaf), leaf.summary if isinstance(leaf.summary, dict) else None
        out = []
        if meta is not None:
            hosts, npernode, count, procs = (meta.get("hosts"), meta.get("npernode"), meta.get("host_count"),
                                             meta.get("num_processes"))
            if isinstance(hosts, list) and count != len(hosts):
                out.append(self.finding(f"{leaf.name}: host_count {count!r} but {len(hosts)} hosts listed",
                                        expected=len(hosts), actual=count, evidence=_meta_ref(leaf)))
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (npernode, count, procs)):
                out.append(self.finding(f"{leaf.name}: npernode, host_count and num_processes must be positive "
                                        "whole numbers", expected="positive integers",
                                        actual=[npernode, count, procs], evidence=_meta_ref(leaf)))
            elif procs != npernode * count:
                out.append(self.finding(f"{leaf.name}: {procs} processes is not {npernode} per host x {count} hosts",
                                        expected=npernode * count, actual=procs, evidence=_meta_ref(leaf)))
            if summary is not None:
                for meta_key, key in (("npernode", "npernode"), ("host_count", "host_count"),
                                      ("num_processes", "total_ranks")):
                    if summary.get(key) != meta.get(meta_key):
                        out.append(self.finding(f"{leaf.name}: summary {key} {summary.get(key)!r} differs from the "
                                                f"metadata's {meta_key} {meta.get(meta_key)!r}",
                                                expected=meta.get(meta_key), actual=summary.get(key),
                                                evidence=ref(leaf, leaf.summary_file)))
        elif summary is not None:
            npernode, count, total = summary.get("npernode"), summary.get("host_count"), summary.get("total_ranks")
            if all(isinstance(v, int) for v in (npernode, count, total)) and total != npernode * count:
                out.append(self.finding(f"{leaf.name}: total_ranks {total} is not {npernode} per host x {count} hosts",
                                        expected=npernode * count, actual=total, evidence=ref(leaf, leaf.summary_file)))
        layout = kv_cache.layout_of(leaf)
        if layout is not None and leaf.kv_ranks is not None:
            beyond = [r.file for r in leaf.kv_ranks.results if r.rank >= layout["total_ranks"]
                      or r.option not in layout["options"]]
            if beyond:
                out.append(self.finding(f"{leaf.name}: {len(beyond)} rank file(s) beyond the recorded layout "
                                        f"({layout['total_ranks']} ranks, Options {layout['options']}): {beyond[0]}",
                                        expected=layout["total_ranks"], actual=len(beyond),
                                        evidence=ref(leaf, beyond[0]), fix="keep one invocation's files per leaf"))
        return out


class KvIsolation(KvRule):
    id = "KV-ISOLATION"
    section = "6.3.3.3"
    description = ("each rank writes its own rank_<N>/kvcache_results_<ts>.json (one file, naming rank N) and "
                   "caches in its own folder; shared files are INVALID")
    choice = "the cache folder is checked where a rank records it as `cache_dir` (our engine does)"

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            if leaf.kv_ranks is None:
                continue
            caches: dict = {}
            for result in leaf.kv_ranks.results:
                if result.extra_files:
                    out.append(self.finding(f"{leaf.name}: {len(result.extra_files) + 1} results files in "
                                            f"rank_{result.rank}'s folder", expected=1,
                                            actual=[result.file, *result.extra_files],
                                            evidence=ref(leaf, result.extra_files[0]),
                                            fix="keep one invocation's rank files per leaf"))
                doc = result.doc or {}
                recorded = doc.get("rank")
                if recorded is not None and number(recorded) != result.rank:
                    out.append(self.finding(f"{leaf.name}: {result.file} was written by rank {recorded!r}",
                                            expected=result.rank, actual=recorded, evidence=ref(leaf, result.file)))
                cache = doc.get("cache_dir")
                if isinstance(cache, str):
                    key = (result.option, result.trial, doc.get("hostname"), cache.rstrip("/"))
                    if key in caches:
                        out.append(self.finding(f"{leaf.name}: ranks {caches[key]} and {result.rank} share the cache "
                                                f"folder {cache}", expected="one folder per rank", actual=cache,
                                                evidence=ref(leaf, result.file)))
                    caches.setdefault(key, result.rank)
                    if not cache.rstrip("/").endswith(f"rank_{result.rank}"):
                        out.append(self.finding(f"{leaf.name}: rank {result.rank} cached in {cache}",
                                                expected=f"<cache-dir>/rank_{result.rank}", actual=cache,
                                                evidence=ref(leaf, result.file)))
        return out


class KvCpuTier(KvRule):
    id = "KV-CPU-TIER"
    section = "6.3.4.4"
    description = ("a rank that kept nothing on storage (storage_entries 0) contributes 0 and is listed; an Option "
                   "whose ranks all stayed in the CPU tier measured no storage and is INVALID")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            ranks = _ranks(leaf)
            if ranks:
                by_option: dict = {}
                for result in ranks:
                    by_option.setdefault(result.option, []).append(kv_cache.is_cpu_tier(result.doc))
                all_cpu = sorted(o for o, flags in by_option.items() if all(flags))
            else:
                options = (leaf.summary or {}).get("options") if isinstance(leaf.summary, dict) else None
                all_cpu = sorted(key for key, opt in (options or {}).items() if isinstance(opt, dict)
                                 and isinstance(opt.get("cpu_tier_ranks"), list) and opt["cpu_tier_ranks"]
                                 and len(opt["cpu_tier_ranks"]) >= (opt.get("rank_count") or 0)
                                 * (opt.get("trial_count") or 0))
            for option in all_cpu:
                out.append(self.finding(f"{leaf.name}: every rank of Option {option} was served from the CPU tier; "
                                        "no storage was measured", expected="storage_entries > 0 on some rank",
                                        actual="0 on every rank", evidence=ref(leaf, leaf.summary_file or ""),
                                        fix="give the clients less CPU memory than the working set"))
        return out


class KvClosedImmutable(KvRule):
    id = "KV-CLOSED-IMMUTABLE"
    section = "6.6.1"
    description = ("CLOSED may vary only the system name, cache and results folders, hosts and process layout: "
                   "every rank ran its Option's values, with no OPEN-only feature")

    def check(self, ctx):
        if not ctx.is_closed:
            return []
        out = []
        for leaf in ctx.runs:
            meta = _meta(leaf)
            params = meta.get("parameters") if meta and isinstance(meta.get("parameters"), dict) else {}
            for option, given in sorted(params.items()):
                extra = sorted(set(given) - set(PARAMETER_KEYS)) if isinstance(given, dict) else []
                if extra:
                    out.append(self.finding(f"{leaf.name}: Option {option} was given more than its Table values: "
                                            f"{extra}", expected=list(PARAMETER_KEYS), actual=extra,
                                            evidence=_meta_ref(leaf)))
            out.extend(self._rank_args(leaf))
        return out

    def _rank_args(self, leaf):
        for result in _ranks(leaf):
            args = result.doc.get("args")
            if not isinstance(args, dict):
                continue
            option = KV_OPTIONS.get(result.option)
            changed = [key for attr, key in OPTION_FIELDS
                       if option is not None and key in args and not _same(args[key], getattr(option, attr))
                       and not (key == "duration" and _scaled(_meta(leaf) or {}, args[key], option.duration))]
            changed += [key for key in OPEN_ONLY_ARGS if args.get(key) not in (None, False, "", 0)]
            if changed:
                allowed = all(key in OPEN_MAY_CHANGE or key in OPEN_ONLY_ARGS for key in changed)
                return [self.finding(f"{leaf.name}: {result.file} ran with {', '.join(changed)} changed",
                                     outcome=Outcome.OPEN if allowed else Outcome.INVALID,
                                     expected=f"Option {result.option}'s values", actual={k: args[k] for k in changed},
                                     evidence=ref(leaf, result.file),
                                     fix="run CLOSED with the Option values only (OPEN allows the rest)")]
        return []


class KvFsSeparation(KvRule):
    id = "KV-FS-SEPARATION"
    section = "6.4.1"
    description = "the cache folder and the results folder are on different filesystems"

    def check(self, ctx):
        out = []
        for leaf, meta in _described(ctx):
            record = meta.get("fs_separation")
            same = record.get("same_filesystem") if isinstance(record, dict) else None
            if same is True:
                out.append(self.finding(f"{leaf.name}: cache and results folders are on one filesystem",
                                        expected=False, actual=True, evidence=_meta_ref(leaf),
                                        fix="put the results folder on another filesystem than the cache"))
            elif same is not False:
                out.append(self.finding(f"{leaf.name}: whether cache and results share a filesystem was not recorded",
                                        outcome=Outcome.WARNING, expected=False, actual=same,
                                        evidence=_meta_ref(leaf)))
        return out


class KvLeafMetadata(KvRule):
    id = "KV-LEAF-METADATA"
    section = "2.1.14-2.1.20"
    description = "a run leaf holds exactly one kv_cache_<ts>_metadata.json, of a kv_cache run"
    choice = "a leaf without metadata cannot be checked (UNCHECKED); two metadata files are INVALID"

    def check(self, ctx):
        out = []
        for leaf in ctx.workload.runs:
            names = sorted(f for f in leaf.files if f.endswith("_metadata.json"))
            expected = f"kv_cache_{leaf.name}_metadata.json"
            if not names:
                out.append(self.finding(f"{leaf.name}: no {expected}; the Options, locks and layout cannot be checked",
                                        outcome=Outcome.UNCHECKED, evidence=leaf.rel, missing=ref(leaf, expected),
                                        fix="keep the metadata the run wrote in its leaf"))
            elif len(names) > 1:
                out.append(self.finding(f"{leaf.name}: {len(names)} metadata files", expected=1, actual=names,
                                        evidence=leaf.rel, fix="keep one invocation per leaf"))
            meta = _meta(leaf)
            if meta is not None and (meta.get("benchmark_type") != "kv_cache" or meta.get("command") != "run"):
                out.append(self.finding(f"{leaf.name}: the metadata is not a kv_cache run's",
                                        expected="benchmark_type kv_cache, command run",
                                        actual=[meta.get("benchmark_type"), meta.get("command")],
                                        evidence=_meta_ref(leaf)))
        return out


class KvPartial(KvRule):
    id = "KV-PARTIAL"
    section = "6.3.4"
    description = ("a run with a failed trial or missing rank results (partial_failure, trial_failures) is flagged; "
                   "it cannot be vouched for as CLOSED")
    severity = Outcome.UNCHECKED
    choice = ("the working group has not decided whether partial runs are admissible; mlps reports them UNCHECKED "
              "(a reviewer decides), never CLOSED")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            summary = leaf.summary if isinstance(leaf.summary, dict) else {}
            failures = dict(summary.get("trial_failures") or {}) if isinstance(summary.get("trial_failures"),
                                                                                dict) else {}
            failures.update(kv_cache.trial_failures_from_metadata(_meta(leaf)))
            options = summary.get("options") if isinstance(summary.get("options"), dict) else {}
            partial = sorted(k for k, o in options.items() if isinstance(o, dict) and o.get("partial_failure"))
            if summary.get("partial_failure") or partial or failures:
                what = ", ".join([f"Option {k} partial" for k in partial] + sorted(failures)) or "partial_failure set"
                out.append(self.finding(f"{leaf.name}: a partial run ({what})", expected="every trial and rank",
                                        actual=what, evidence=ref(leaf, leaf.summary_file or ""),
                                        fix="run the whole invocation again; a partial run is reviewed by hand"))
        return out


class KvEngine(KvRule):
    id = "KV-ENGINE"
    section = "6.6.2"
    description = "results of mlps' native KV-cache engine (not MLCommons' kv-cache.py) are OPEN only"
    severity = Outcome.OPEN

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            meta = _meta(leaf)
            engine = meta.get("engine") if meta else None
            native_ranks = [r.file for r in _ranks(leaf) if r.doc.get("engine") == kv_cache.NATIVE_ENGINE]
            if engine is not None and engine not in ("native", "mlcommons"):
                out.append(self.finding(f"{leaf.name}: unknown engine {engine!r}", outcome=Outcome.INVALID,
                                        expected=["native", "mlcommons"], actual=engine, evidence=_meta_ref(leaf)))
            elif engine == "mlcommons" and native_ranks:
                out.append(self.finding(f"{leaf.name}: the metadata names MLCommons' engine but rank files were "
                                        "written by the native one", outcome=Outcome.INVALID, expected="mlcommons",
                                        actual=kv_cache.NATIVE_ENGINE, evidence=ref(leaf, native_ranks[0])))
            elif engine == "native" or native_ranks:
                evidence = _meta_ref(leaf) if engine == "native" else ref(leaf, native_ranks[0])
                out.append(self.finding(f"{leaf.name}: written by mlps' native KV-cache engine: OPEN only",
                                        expected="mlcommons", actual="native", evidence=evidence,
                                        fix="run MLCommons' kv-cache.py (engine mlcommons) for a CLOSED result"))
        return out


class KvScale(KvRule):
    id = "KV-SCALE"
    section = "6.6.2"
    description = "a run with its durations or entry sizes scaled (duration_scale or size_scale other than 1) is OPEN"
    severity = Outcome.OPEN

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            meta = _meta(leaf) or {}
            found = [(key, meta.get(key), _meta_ref(leaf)) for key in ("duration_scale", "size_scale")
                     if meta.get(key) is not None]
            found += [("size_scale", r.doc["size_scale"], ref(leaf, r.file)) for r in _ranks(leaf)
                      if r.doc.get("size_scale") is not None][:1]
            for key, value, evidence in found:
                scale = number(value)
                if scale is None or scale <= 0:
                    out.append(self.finding(f"{leaf.name}: {key}={value!r} is not a positive number",
                                            outcome=Outcome.INVALID, expected="> 0", actual=value, evidence=evidence))
                elif scale != 1:
                    out.append(self.finding(f"{leaf.name}: {key} {scale:g}: not the Option's full run", expected=1,
                                            actual=scale, evidence=evidence, fix=f"run with {key} 1 for CLOSED"))
        return out


class KvSummary(KvRule):
    id = "KV-SUMMARY"
    section = "6.3.4"
    description = ("summary.json equals its recomputation from the rank files (relative 1e-9); a leaf whose rank "
                   "files are missing cannot be checked and is never CLOSED")
    choice = ("the three P95s in circulation are all recomputed and labelled; the table uses the storage read P95 "
              "where the rank files give it")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            out.extend(self._leaf(leaf))
        return out

    def _leaf(self, leaf):
        summary_ref = ref(leaf, kv_cache.SUMMARY_NAME)
        if leaf.summary_file is None:
            return [self.finding(f"{leaf.name}: no summary.json", evidence=leaf.rel, missing=summary_ref,
                                 fix="aggregate the rank files into summary.json (mlps.results.kv_cache.aggregate)")]
        if leaf.summary_file != kv_cache.SUMMARY_NAME:
            return [self.finding(f"{leaf.name}: the run summary is named {leaf.summary_file}; results tables read "
                                 "summary.json only", expected=kv_cache.SUMMARY_NAME, actual=leaf.summary_file,
                                 evidence=ref(leaf, leaf.summary_file))]
        if not isinstance(leaf.summary, dict):
            return []                                      # READ-FILES reports the unreadable file
        return self._against_ranks(leaf, summary_ref)

    def _against_ranks(self, leaf, summary_ref: str):
        ranks = leaf.kv_ranks.results if leaf.kv_ranks is not None else []
        layout = kv_cache.layout_of(leaf)
        if layout is None:
            return [self.finding(f"{leaf.name}: neither metadata nor summary.json records the process layout",
                                 outcome=Outcome.UNCHECKED, evidence=summary_ref)]
        pattern = ref(leaf, "option_<O>/trial_<T>/rank_<N>/kvcache_results_<YYYYMMDD_HHMMSS>.json")
        trials = sum(len(t) for t in layout["trials"].values())
        if not ranks:
            lacking = f"the {trials} x {layout['total_ranks']} rank files are missing"
            message = (f"{leaf.name}: only summary.json: the metadata and {lacking}" if leaf.metadata is None
                       else f"{leaf.name}: {lacking}")
            return [self.finding(message, outcome=Outcome.UNCHECKED, evidence=summary_ref, missing=pattern,
                                 fix="keep every rank's kvcache_results_<ts>.json in the leaf; without them the "
                                     "summary cannot be recomputed")]
        absent = kv_cache.missing_locations(leaf)
        listed = _listed_missing(leaf.summary)
        unlisted = [loc for loc in absent if _location(loc) not in listed]
        if unlisted:
            shown = ", ".join(unlisted[:5]) + (" ..." if len(unlisted) > 5 else "")
            return [self.finding(f"{leaf.name}: {len(unlisted)} rank file(s) missing that summary.json does not list: "
                                 f"{shown}", outcome=Outcome.UNCHECKED, evidence=summary_ref,
                                 missing=ref(leaf, unlisted[0]), actual=len(unlisted),
                                 fix="restore the missing rank files; without them the summary cannot be recomputed")]
        computed = kv_cache.recompute(leaf)
        diffs = kv_cache.summary_differences(leaf.summary, computed) if computed else []
        if diffs:
            shown = "; ".join(f"{name}: {stored!r} stored, {again!r} recomputed" for name, stored, again in diffs[:4])
            return [self.finding(f"{leaf.name}: summary.json differs from its rank files in {len(diffs)} field(s): "
                                 f"{shown}", expected="the recomputed summary", actual=[d[0] for d in diffs],
                                 evidence=summary_ref,
                                 fix="write summary.json from the rank files (mlps.results.kv_cache.aggregate)")]
        return []


def _location(text: str):
    match = kv_cache.LOCATION_RE.search(str(text).replace("\\", "/"))
    return tuple(int(g) for g in match.groups()) if match else None


def _listed_missing(summary: dict) -> set:
    options = summary.get("options") if isinstance(summary.get("options"), dict) else {}
    return {_location(path) for opt in options.values() if isinstance(opt, dict)
            for path in (opt.get("missing_files") or []) if isinstance(opt.get("missing_files"), list)}


class KvSharedResults(KvRule):
    id = "KV-SHARED-RESULTS"
    section = "6.3.3.4"
    description = ("a multi-host run holds the results of the ranks of every host (MLCommons' harness needs one "
                   "results folder at the same path on every host; mlps fetches each host's instead)")

    def check(self, ctx):
        out = []
        for leaf, meta in _described(ctx):
            hosts = meta.get("hosts") if isinstance(meta.get("hosts"), list) else []
            if len(hosts) < 2:
                continue
            ranks = _ranks(leaf)
            if not ranks:
                continue                                   # KV-SUMMARY names the missing rank files
            named = {str(r.doc.get("hostname")) for r in ranks if r.doc.get("hostname")}
            if named and len(named) < len(hosts):
                shown = ", ".join(natural_sorted(named))
                out.append(self.finding(
                    f"{leaf.name}: rank results from {len(named)} of {len(hosts)} hosts ({shown})",
                    expected=len(hosts), actual=len(named), evidence=ref(leaf, ranks[0].file),
                    fix="give every host the same results folder (a shared filesystem), or collect every host's"))
        return out


# FUSE types of the POSIX gateways to object storage (§6.5): s3fs, rclone, Mountpoint for S3 and kin.
OBJECT_GATEWAYS = ("fuse.s3fs", "fuse.rclone", "fuse.mountpoint-s3", "fuse.goofys", "fuse.gcsfuse",
                   "fuse.blobfuse2", "fuse.geesefs")


class KvGateway(KvRule):
    id = "KV-GATEWAY"
    section = "6.5"
    description = ("object storage is used only through a POSIX mount, and that gateway and its mount options are "
                   "recorded")
    severity = Outcome.WARNING

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            meta, info = _meta(leaf), leaf.cluster_info if isinstance(leaf.cluster_info, dict) else {}
            cache = meta.get("cache_dir") if meta else None
            if not cache or not isinstance(info.get("hosts"), list):
                continue
            for host in info["hosts"]:
                paths = ((host or {}).get("facts") or {}).get("paths") or {} if isinstance(host, dict) else {}
                mount = paths.get(cache) if isinstance(paths, dict) else None
                if not isinstance(mount, dict) or mount.get("fstype") not in OBJECT_GATEWAYS:
                    continue
                name = host.get("hostname") or host.get("key")
                evidence = ref(leaf, leaf.cluster_info_file or "cluster_info.json")
                if mount.get("mount_options"):
                    out.append(self.finding(
                        f"{leaf.name}: the cache on {name} is object storage through {mount['fstype']} "
                        f"({mount.get('device')}, options {','.join(map(str, mount['mount_options']))})",
                        outcome=Outcome.INFO, evidence=evidence,
                        fix="name this gateway and its mount options in the system description"))
                else:
                    out.append(self.finding(
                        f"{leaf.name}: the cache on {name} is object storage through {mount['fstype']} but its "
                        "mount options were not recorded", expected="the gateway's mount options", actual=None,
                        evidence=evidence, fix="record the mount options (mlps facts read them from mountinfo)"))
        return out


# kv-cache.py's command-line defaults, which silently replace an Option's value left unset (§6.6.2).
CLI_DEFAULTS = (("gpu_mem_gb", 16), ("cpu_mem_gb", 32), ("model", "tiny-1b"))


class KvOpen(KvRule):
    id = "KV-OPEN"
    section = "6.6.2"
    description = ("a rank that ran with kv-cache.py's own defaults (gpu 16 GiB, cpu 32 GiB, model tiny-1b) where its "
                   "Option says otherwise was not given that Option's value")
    severity = Outcome.WARNING

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            meta = _meta(leaf)
            params = meta.get("parameters") if meta and isinstance(meta.get("parameters"), dict) else {}
            for result in _ranks(leaf):
                args = result.doc.get("args")
                option = params.get(str(result.option)) or {}
                if not isinstance(args, dict) or not isinstance(option, dict):
                    continue
                fell = [key for key, default in CLI_DEFAULTS
                        if key in option and _same(args.get(key), default) and not _same(option[key], default)]
                if fell:
                    out.append(self.finding(
                        f"{leaf.name}: {result.file} ran with kv-cache.py's default {', '.join(fell)} instead of "
                        f"Option {result.option}'s", expected={k: option[k] for k in fell},
                        actual={k: args.get(k) for k in fell}, evidence=ref(leaf, result.file),
                        fix="give every Option value explicitly on the command line"))
                    break
        return out
