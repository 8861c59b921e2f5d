"""VectorDB rules (rule book §5): scale, population and index of the datagen, the five runs, their
recall, queries and metrics, ground truth, storage paths and what CLOSED may change.

A workload is `vector_database/<engine>/<INDEX>/` with `datagen/<ts>/` and `run/<ts>/` leaves. What the
rules read from a leaf:
- `summary.json` (or, when absent, the one its statistics file gives: mlps.results.vector_database):
  `num_vectors`, `dimension`, `inserted_vectors`, `index_type`, `database.database`, `throughput_qps`,
  `total_time_seconds`, `query_count`, `mean/p95/p99/p999_latency_ms`, `recall`;
- `result_verdict.json` (ground-truth coverage), `load.json` (our loader: `compacted`);
- the metadata `vector_database_<ts>_metadata.json`:
  - `parameters`: the merged benchmark config, nested (`database.database`, `index.index_type`,
    `run.mode`, `run.runtime`, `storage.storage_root`, `storage.storage_type`, `database.storage_backend`,
    `workflow.compact`, ...);
  - `override_parameters`: dotted key -> value of what the run changed from the shipped config;
  - `args.results_dir` (else `result_dir`): the results folder; `args.storage_root` or `args.data_dir`
    stand in for `parameters.storage.storage_root`;
  - `fs_separation`: `{data_path, results_path, data_fs, results_fs, same_filesystem}` - whether the
    vector data and the results lie on one filesystem (`same` is read as `same_filesystem`); a leaf's
    `fs_separation.json` (the link probe) is read too.
A published leaf may lack the metadata: what needs it is UNCHECKED (it names the file), never CLOSED.
One file for the benchmark's rules, as for every benchmark: the rules share its leaf helpers.
"""

from __future__ import annotations

from mlps.errors import UserError
from mlps.results import vector_database as vdb
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import number, ref, truthy
from mlps.rulebook.rules.code_image_rule import CodeImage
from mlps.rulebook.workloads import (
    VDB_CLOSED_ENGINES,
    VDB_CLOSED_INDEXES,
    VDB_CLOSED_TUNABLES,
    VDB_MIN_RUNTIME_S,
    VDB_OBJECT_BACKENDS,
    VDB_OPEN_ENGINES,
    VDB_OPEN_MILVUS_INDEXES,
    VDB_RUN_MODES,
    VDB_RUNS,
    VDB_SCALES,
    vdb_scale,
)

VDB = ("vector_database",)
EDITIONS = ("3.0",)                       # the first edition with a VectorDB benchmark
METRICS = ("throughput_qps", "mean_latency_ms", "p95_latency_ms", "p99_latency_ms", "p999_latency_ms")
OBJECT_TYPES = ("object", "s3")


def summary(leaf) -> dict:
    return leaf.summary if isinstance(leaf.summary, dict) else {}


def summary_ref(leaf) -> str:
    found = getattr(leaf, "vdb", None)
    return ref(leaf, leaf.summary_file or (found.rebuilt_from if found else None) or vdb.SUMMARY_NAME)


def meta(leaf) -> dict | None:
    return leaf.metadata if isinstance(leaf.metadata, dict) else None


def meta_ref(leaf) -> str:
    return ref(leaf, leaf.metadata_file or f"vector_database_{leaf.name}_metadata.json")


def param(leaf, dotted: str):
    """A config value: the metadata's merged `parameters`, else its `override_parameters`."""
    record = meta(leaf) or {}
    node = record.get("parameters")
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        return node
    overrides = record.get("override_parameters")
    return overrides.get(dotted) if isinstance(overrides, dict) else None


def engine_of(leaf, workload) -> str | None:
    database = summary(leaf).get("database")
    name = database.get("database") if isinstance(database, dict) else database
    name = name or param(leaf, "database.database")
    if not name and workload.model:
        name = workload.model.split("/")[0]
    return str(name).strip().lower() if name else None


def index_of(leaf, workload) -> str | None:
    name = summary(leaf).get("index_type") or param(leaf, "index.index_type")
    if not name and workload.model and "/" in workload.model:
        name = workload.model.split("/")[1]
    return str(name).strip().upper() if name else None


def object_api(leaf) -> bool:
    kind = param(leaf, "storage.storage_type")
    return (isinstance(kind, str) and kind.strip().lower() in OBJECT_TYPES) or bool(
        param(leaf, "database.storage_backend"))


class VdbRule(Rule):
    benchmarks = VDB
    editions = EDITIONS

    @staticmethod
    def datagen(ctx) -> list:
        return [leaf for leaf in ctx.workload.by_command("datagen")
                if not isinstance(leaf.metadata, dict) or leaf.metadata.get("status") in (None, "completed")]


class VdbScale(VdbRule):
    id = "VDB-SCALE"
    section = "5.1.1"
    description = "every leaf records num_vectors and dimension, and they make a shipped scale (1M or 10M x 1536)"
    choice = ("§5.1.1's scale table is not defined anywhere; the shipped configs are the comparability classes, so "
              "another scale is a WARNING (deferred) while missing fields are INVALID (not in a summary rebuilt "
              "from a statistics file, which never carries them)")

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx) + ctx.runs:
            data = summary(leaf)
            vectors, dimension = data.get("num_vectors"), data.get("dimension")
            rebuilt = leaf.summary_file is None and getattr(leaf.vdb, "rebuilt_from", None)
            if rebuilt and vectors is None and dimension is None:
                continue                       # a statistics file does not carry them: the datagen's are checked
            if number(vectors) is None or number(dimension) is None:
                out.append(self.finding(f"{leaf.name}: num_vectors or dimension missing", expected="numbers",
                                        actual=[vectors, dimension], evidence=summary_ref(leaf),
                                        fix="write the summary with the collection's size and dimension"))
            elif vdb_scale(vectors, dimension) is None:
                shipped = [f"{s.num_vectors:,} x {s.dimension}" for s in VDB_SCALES.values()]
                out.append(self.finding(f"{leaf.name}: {vectors:,} x {dimension} is not a shipped scale",
                                        outcome=Outcome.WARNING, expected=shipped, actual=[vectors, dimension],
                                        evidence=summary_ref(leaf), fix="run a shipped scale to be comparable"))
        return out


class VdbDim(VdbRule):
    id = "VDB-DIM"
    section = "5.1.2"
    description = "the datagen's dimension and vector count are every run's"

    def check(self, ctx):
        loads = self.datagen(ctx)
        if not loads:
            if not ctx.runs:
                return []
            return [self.finding("no datagen leaf: the dimension loaded cannot be compared with the runs'",
                                 outcome=Outcome.UNCHECKED, evidence=ctx.workload.rel,
                                 missing=f"{ctx.workload.rel}/datagen/<YYYYMMDD_HHMMSS>/summary.json",
                                 fix="keep the datagen leaf with the runs")]
        base = summary(loads[-1])
        out = []
        for leaf in ctx.runs:
            for key in ("dimension", "num_vectors"):
                if key in summary(leaf) and summary(leaf)[key] != base.get(key):
                    out.append(self.finding(f"{leaf.name}: {key} {summary(leaf)[key]!r} but the datagen loaded "
                                            f"{base.get(key)!r}", expected=base.get(key), actual=summary(leaf)[key],
                                            evidence=summary_ref(leaf), fix="query the collection the datagen built"))
        return out


class VdbPopulated(VdbRule):
    id = "VDB-POPULATED"
    section = "5.2.1"
    description = "the datagen inserted every vector (inserted_vectors >= num_vectors)"
    choice = "the rule says equal; more inserted than configured is accepted (a re-run load may add some)"

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx):
            data = summary(leaf)
            inserted, wanted = number(data.get("inserted_vectors")), number(data.get("num_vectors"))
            if inserted is None or wanted is None:
                out.append(self.finding(f"{leaf.name}: inserted_vectors or num_vectors missing",
                                        expected="numbers", actual=[data.get("inserted_vectors"),
                                                                    data.get("num_vectors")],
                                        evidence=summary_ref(leaf)))
            elif inserted < wanted:
                out.append(self.finding(f"{leaf.name}: {inserted:,.0f} of {wanted:,.0f} vectors inserted",
                                        expected=wanted, actual=inserted, evidence=summary_ref(leaf),
                                        fix="load the whole collection before the runs"))
        return out


class VdbIndexBuilt(VdbRule):
    id = "VDB-INDEX-BUILT"
    section = "5.2.2"
    description = ("the datagen records the index it built, the one every run queried; compaction ran when the "
                   "config asks for it (workflow.compact)")

    def check(self, ctx):
        loads = self.datagen(ctx)
        out = []
        for leaf in loads:
            built = summary(leaf).get("index_type")
            if not built:
                out.append(self.finding(f"{leaf.name}: no index_type recorded", expected="the index built",
                                        actual=None, evidence=summary_ref(leaf)))
            compact = truthy(param(leaf, "workflow.compact"))
            load = leaf.vdb.load if getattr(leaf, "vdb", None) is not None else None
            done = (load or {}).get("compacted", summary(leaf).get("compacted"))
            if compact and done is False:
                out.append(self.finding(f"{leaf.name}: compaction configured but not done", expected=True,
                                        actual=False, evidence=ref(leaf, vdb.LOAD_NAME),
                                        fix="compact the collection before building the index"))
        built = summary(loads[-1]).get("index_type") if loads else None
        for leaf in ctx.runs if built else ():
            ran = summary(leaf).get("index_type")
            if ran and str(ran).upper() != str(built).upper():
                out.append(self.finding(f"{leaf.name}: queried {ran} but the datagen built {built}", expected=built,
                                        actual=ran, evidence=summary_ref(leaf)))
        return out


class VdbRunsCount(VdbRule):
    id = "VDB-RUNS-COUNT"
    section = "5.3.1"
    description = "exactly 5 run leaves per index, each with summary.json (no warm-up; datagen not counted)"
    choice = ("a run leaf without summary.json whose statistics file gives it is a WARNING (19 published v3.0 "
              "leaves are so); without either it is INVALID")

    def check(self, ctx):
        runs = ctx.runs
        out = []
        if len(runs) != VDB_RUNS:
            out.append(self.finding(f"{len(runs)} run leaves", expected=VDB_RUNS, actual=len(runs),
                                    evidence=f"{ctx.workload.rel}/run", fix=f"submit exactly {VDB_RUNS} runs"))
        for leaf in runs:
            found = getattr(leaf, "vdb", None)
            if leaf.summary_file is not None:
                continue
            if found is not None and found.rebuilt_from:
                out.append(self.finding(f"{leaf.name}: no summary.json; rebuilt from {found.rebuilt_from}",
                                        outcome=Outcome.WARNING, evidence=ref(leaf, found.rebuilt_from),
                                        fix="keep the summary.json the run wrote"))
            else:
                out.append(self.finding(f"{leaf.name}: no summary.json and no statistics file to rebuild it from",
                                        evidence=leaf.rel, missing=ref(leaf, vdb.SUMMARY_NAME),
                                        fix="keep the run's summary.json and statistics"))
        return out


class VdbRecall(VdbRule):
    id = "VDB-RECALL"
    section = "5.3.2"
    description = "every run reports its recall; recall 0 is INVALID; the per-scale target is deferred (WARNING)"
    choice = ("the rule book defines no recall target per scale yet, so every workload gets one WARNING with its "
              "recall (a published v3.0 CLOSED row has 0.21); that recall was computed outside the timed loop "
              "cannot be seen in the files")

    def check(self, ctx):
        out, values = [], []
        for leaf in ctx.runs:
            value = number(vdb.reduced_recall(summary(leaf).get("recall")))
            if value is None:
                out.append(self.finding(f"{leaf.name}: no recall", expected="recall in [0, 1]",
                                        actual=summary(leaf).get("recall"), evidence=summary_ref(leaf),
                                        fix="compute recall against the ground truth after the timed loop"))
            elif not 0 < value <= 1:
                out.append(self.finding(f"{leaf.name}: recall {value:g}", expected="0 < recall <= 1", actual=value,
                                        evidence=summary_ref(leaf), fix="check the ground truth and the index"))
            else:
                values.append((value, leaf))
        if values:
            low, leaf = min(values, key=lambda item: item[0])
            high = max(v for v, _ in values)
            out.append(self.finding(f"mean recall@k {low:.4f} to {high:.4f} over {len(values)} run(s); the rule "
                                    "book defines no target yet, so it is not judged", outcome=Outcome.WARNING,
                                    actual=low, evidence=summary_ref(leaf),
                                    fix="a reviewer compares the recall with the index's expected quality"))
        return out


class VdbMinQueries(VdbRule):
    id = "VDB-MIN-QUERIES"
    section = "5.3.3"
    description = ("every run records how many queries it issued (query_count, or QPS x time); a timed run lasts "
                   f"at least {VDB_MIN_RUNTIME_S} s; the minimum query count is deferred (INFO)")

    def check(self, ctx):
        out, counts = [], []
        for leaf in ctx.runs:
            data = summary(leaf)
            count = number(data.get("query_count"))
            qps, seconds = number(data.get("throughput_qps")), number(data.get("total_time_seconds"))
            if count is None and qps is not None and seconds is not None:
                count = qps * seconds
            if count is None:
                out.append(self.finding(f"{leaf.name}: neither query_count nor throughput_qps x total_time_seconds",
                                        expected="the queries issued", actual=None, evidence=summary_ref(leaf)))
                continue
            counts.append(count)
            runtime = number(param(leaf, "run.runtime"))
            mode = param(leaf, "run.mode")
            timed = mode in (None, "timed")
            shortest = runtime if runtime is not None else seconds
            if timed and shortest is not None and shortest < VDB_MIN_RUNTIME_S:
                out.append(self.finding(f"{leaf.name}: ran {shortest:g} s", expected=f">= {VDB_MIN_RUNTIME_S} s",
                                        actual=shortest, evidence=meta_ref(leaf) if runtime is not None
                                        else summary_ref(leaf), fix="run timed mode for 60 s (the default)"))
        if counts:
            out.append(self.finding(f"fewest queries in a run: {min(counts):,.0f}; the rule book defines no minimum "
                                    "yet", outcome=Outcome.INFO, actual=min(counts)))
        return out


class VdbMetrics(VdbRule):
    id = "VDB-METRICS"
    section = "5.3.4"
    description = "every run reports throughput_qps and the mean, p95, p99 and p999 latency"

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            lacking = [key for key in METRICS if number(summary(leaf).get(key)) is None]
            if lacking:
                out.append(self.finding(f"{leaf.name}: {', '.join(lacking)} missing", expected=list(METRICS),
                                        actual=lacking, evidence=summary_ref(leaf),
                                        fix="write the run's statistics into summary.json"))
        return out


class VdbSummaryAgree(VdbRule):
    id = "VDB-SUMMARY-AGREE"
    section = "5.3.4"
    description = ("summary.json agrees with every statistics file of the leaf (relative 1e-9), and our leaves' "
                   "statistics with their rank files' queries")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            found = getattr(leaf, "vdb", None)
            if found is None:
                continue
            if leaf.summary_file is not None and isinstance(leaf.summary, dict):
                for sub, stats in found.statistics:
                    diffs = vdb.summary_differences(leaf.summary, stats)
                    if diffs:
                        out.append(self._differ(leaf, f"summary.json and {sub}", diffs, ref(leaf, sub)))
            out.extend(self._against_ranks(leaf, found))
        return out

    def _differ(self, leaf, what: str, diffs: list, evidence: str):
        shown = "; ".join(f"{name}: {a!r} vs {b!r}" for name, a, b in diffs[:4])
        return self.finding(f"{leaf.name}: {what} disagree in {len(diffs)} field(s): {shown}",
                            expected="the same figures", actual=[d[0] for d in diffs], evidence=evidence,
                            fix="write summary.json from the run's statistics")

    def _against_ranks(self, leaf, found):
        stats = dict(found.statistics).get(vdb.STATISTICS_NAME)
        if not found.rank_dirs or stats is None:
            return []
        try:
            pooled = vdb.pool_ranks(leaf.path)
        except UserError as exc:
            return [self.finding(f"{leaf.name}: the rank files cannot be pooled: {exc}",
                                 evidence=ref(leaf, found.rank_dirs[0]))]
        keys = [k for k in pooled if k in stats and number(pooled[k]) is not None]
        diffs = vdb.summary_differences({k: stats[k] for k in keys}, pooled)
        return [self._differ(leaf, "statistics.json and the rank files", diffs, ref(leaf, vdb.STATISTICS_NAME))] \
            if diffs else []


class VdbGroundTruth(VdbRule):
    id = "VDB-GROUND-TRUTH"
    section = "5.3.5"
    description = ("result_verdict.json says valid: the FLAT ground-truth copy covers every vector and queries "
                   "were evaluated (coverage < 0.99 or none evaluated INVALID, < 1 WARNING, no verdict WARNING)")

    def check(self, ctx):
        out = []
        for leaf in ctx.runs:
            found = getattr(leaf, "vdb", None)
            verdict = found.verdict if found is not None else None
            evidence = ref(leaf, vdb.VERDICT_NAME)
            if verdict is None:
                out.append(self.finding(f"{leaf.name}: no {vdb.VERDICT_NAME}; the ground truth's coverage is not "
                                        "recorded", outcome=Outcome.WARNING, evidence=leaf.rel, missing=evidence,
                                        fix="keep the verdict the benchmark wrote (v3.0.46 and later)"))
                continue
            setup = verdict.get("flat_setup") if isinstance(verdict.get("flat_setup"), dict) else {}
            coverage = number(setup.get("coverage"))
            evaluated = number(verdict.get("num_queries_evaluated"))
            if verdict.get("result") == "invalid" or (coverage is not None and coverage < vdb.COVERAGE_VALID) \
                    or evaluated == 0:
                out.append(self.finding(f"{leaf.name}: ground truth invalid ({setup.get('reason') or 'see verdict'})",
                                        expected="valid", actual={"result": verdict.get("result"),
                                                                  "coverage": coverage, "evaluated": evaluated},
                                        evidence=evidence, fix="rebuild the FLAT copy and evaluate the queries"))
            elif verdict.get("result") != "valid" or (coverage is not None and coverage < 1):
                out.append(self.finding(f"{leaf.name}: ground truth {verdict.get('result')} (coverage {coverage})",
                                        outcome=Outcome.WARNING, expected="valid, coverage 1.0",
                                        actual=verdict.get("result"), evidence=evidence))
        return out


class VdbPaths(VdbRule):
    id = "VDB-PATHS"
    section = "5.4.1"
    description = "a file-API run records its storage root and results folder, and they differ"
    choice = ("published v3.0 leaves lack storage_root in their arguments, so an unrecorded path is a WARNING; "
              "the object API is exempt")

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx) + ctx.runs:
            record = meta(leaf)
            if record is None:
                out.append(self.finding(f"{leaf.name}: no metadata: the storage root is not recorded",
                                        outcome=Outcome.WARNING, evidence=leaf.rel, missing=meta_ref(leaf)))
                continue
            if object_api(leaf):
                continue
            args = record.get("args") if isinstance(record.get("args"), dict) else {}
            data = param(leaf, "storage.storage_root") or args.get("storage_root") or args.get("data_dir")
            results = args.get("results_dir") or record.get("result_dir")
            if not data:
                out.append(self.finding(f"{leaf.name}: storage_root not recorded", outcome=Outcome.WARNING,
                                        expected="parameters.storage.storage_root", actual=None,
                                        evidence=meta_ref(leaf), fix="set storage.storage_root"))
            elif results and str(data).rstrip("/") == str(results).rstrip("/"):
                out.append(self.finding(f"{leaf.name}: the storage root is the results folder ({data})",
                                        expected="two folders", actual=data, evidence=meta_ref(leaf),
                                        fix="put the vector data and the results in different folders"))
        return out


class VdbFsSeparation(VdbRule):
    id = "VDB-FS-SEPARATION"
    section = "5.4.2"
    description = "a file-API run keeps the vector data and the results on different filesystems"
    choice = "not recorded is a WARNING (as SYS-FS-SEPARATION); the object API is exempt"

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx) + ctx.runs:
            if meta(leaf) is not None and object_api(leaf):
                continue
            record = (meta(leaf) or {}).get("fs_separation")
            if not isinstance(record, dict):
                record = leaf.fs_separation if isinstance(leaf.fs_separation, dict) else {}
            same = record.get("same_filesystem", record.get("same"))
            evidence = meta_ref(leaf) if meta(leaf) is not None else leaf.rel
            if same is True:
                out.append(self.finding(f"{leaf.name}: vector data and results on one filesystem "
                                        f"({record.get('data_fs') or record.get('data_path') or '?'})",
                                        expected=False, actual=True, evidence=evidence,
                                        fix="put the results on another filesystem than the storage root"))
            elif same is not False and meta(leaf) is not None:
                out.append(self.finding(f"{leaf.name}: whether data and results share a filesystem was not "
                                        "recorded", outcome=Outcome.WARNING, expected=False, actual=same,
                                        evidence=evidence))
        return out


class VdbObject(VdbRule):
    id = "VDB-OBJECT"
    section = "5.5.1"
    description = "an object-API run names its backend: s3, s3-compatible, minio, ceph or s3-<name>"

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx) + ctx.runs:
            if meta(leaf) is None or not object_api(leaf):
                continue
            backend = str(param(leaf, "database.storage_backend") or "").strip().lower()
            if backend not in VDB_OBJECT_BACKENDS and not backend.startswith("s3-"):
                out.append(self.finding(f"{leaf.name}: object storage backend {backend or None!r}",
                                        expected=[*sorted(VDB_OBJECT_BACKENDS), "s3-<name>"],
                                        actual=backend or None, evidence=meta_ref(leaf),
                                        fix="name the object store in database.storage_backend"))
        return out


class VdbBackend(VdbRule):
    id = "VDB-BACKEND"
    section = "5.6.2"
    description = "CLOSED runs Milvus; OPEN also Elasticsearch and pgvector; the engine is the workload folder's"

    def check(self, ctx):
        out = []
        folder = ctx.workload.model.split("/")[0].lower() if ctx.workload.model else None
        for leaf in self.datagen(ctx) + ctx.runs:
            engine = engine_of(leaf, ctx.workload)
            allowed = VDB_CLOSED_ENGINES if ctx.is_closed else VDB_OPEN_ENGINES
            if engine is None:
                out.append(self.finding(f"{leaf.name}: the database engine is not recorded",
                                        outcome=Outcome.UNCHECKED, evidence=summary_ref(leaf)))
            elif engine not in allowed:
                out.append(self.finding(f"{leaf.name}: engine {engine}", expected=sorted(allowed), actual=engine,
                                        outcome=Outcome.INVALID if ctx.is_closed else Outcome.WARNING,
                                        evidence=summary_ref(leaf), fix="CLOSED runs Milvus; submit others as OPEN"))
            elif folder and engine != folder:
                out.append(self.finding(f"{leaf.name}: engine {engine} under the folder {folder}", expected=folder,
                                        actual=engine, evidence=summary_ref(leaf)))
        return out


class VdbIndex(VdbRule):
    id = "VDB-INDEX"
    section = "5.6.3"
    description = ("CLOSED indexes DISKANN, HNSW or AISAQ (OPEN on Milvus adds IVF_FLAT, IVF_SQ8, FLAT); "
                   "the index is the workload folder's")

    def check(self, ctx):
        out = []
        parts = (ctx.workload.model or "").split("/")
        folder = parts[1].upper() if len(parts) > 1 else None
        for leaf in self.datagen(ctx) + ctx.runs:
            index, engine = index_of(leaf, ctx.workload), engine_of(leaf, ctx.workload)
            if index is None:
                continue                                  # VDB-INDEX-BUILT / VDB-METRICS name the missing field
            if ctx.is_closed and index not in VDB_CLOSED_INDEXES:
                out.append(self.finding(f"{leaf.name}: index {index}", expected=sorted(VDB_CLOSED_INDEXES),
                                        actual=index, evidence=summary_ref(leaf),
                                        fix="CLOSED indexes with DISKANN, HNSW or AISAQ"))
            elif not ctx.is_closed and engine == "milvus" and index not in VDB_OPEN_MILVUS_INDEXES:
                out.append(self.finding(f"{leaf.name}: index {index} on Milvus", outcome=Outcome.WARNING,
                                        expected=sorted(VDB_OPEN_MILVUS_INDEXES), actual=index,
                                        evidence=summary_ref(leaf)))
            if folder and index != folder:
                out.append(self.finding(f"{leaf.name}: index {index} under the folder {folder}", expected=folder,
                                        actual=index, evidence=summary_ref(leaf)))
        return out


class VdbParams(VdbRule):
    id = "VDB-PARAMS"
    section = "5.6.4-5.6.5"
    description = ("CLOSED changes only the §5.6.4 tunables (index build and search settings, query processes and "
                   "batch, dataset chunking, storage root and type); run.mode is timed or query_count")
    choice = ("a leaf without metadata cannot show what it changed: UNCHECKED, naming the metadata file; "
              "OPEN-only keys (database host/port, backend-native ones) in CLOSED are INVALID, as §5.6.5 says")

    def check(self, ctx):
        out = []
        for leaf in self.datagen(ctx) + ctx.runs:
            record = meta(leaf)
            if record is None:
                out.append(self.finding(f"{leaf.name}: no metadata: the parameters the run changed cannot be "
                                        "checked", outcome=Outcome.UNCHECKED, evidence=leaf.rel,
                                        missing=meta_ref(leaf), fix="keep the metadata the run wrote"))
                continue
            overrides = record.get("override_parameters")
            changed = sorted(str(k).removeprefix("workload.") for k in overrides) if isinstance(overrides, dict) \
                else []
            outside = [key for key in changed if key not in VDB_CLOSED_TUNABLES]
            if ctx.is_closed and outside:
                out.append(self.finding(f"{leaf.name}: CLOSED changed {', '.join(outside)}",
                                        expected=sorted(VDB_CLOSED_TUNABLES), actual=outside,
                                        evidence=meta_ref(leaf), fix="change only the CLOSED tunables, or run OPEN"))
            mode = param(leaf, "run.mode")
            if leaf.command == "run" and mode is not None and mode not in VDB_RUN_MODES:
                out.append(self.finding(f"{leaf.name}: run.mode {mode!r}", expected=sorted(VDB_RUN_MODES),
                                        actual=mode, evidence=meta_ref(leaf)))
        return out


class VdbCode(CodeImage):
    id = "VDB-CODE"
    section = "5.6.1 / 2.1.6"
    description = ("a VectorDB leaf's code-image pointer names an image in the tree whose recomputed tree hash "
                   "equals its .code-hash.json (as TRAIN-CODE)")
    benchmarks = VDB
    editions = EDITIONS
