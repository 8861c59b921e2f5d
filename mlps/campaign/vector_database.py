"""The VectorDB benchmark on the campaign frame: the plan (engine, index, scale, query layout, the
checks that stop bad input before any loading), the datagen phase (load, index, compact, ground
truth: one rank on the launcher) and the 5 timed query runs (ranks across the clients), each a leaf
whose summary.json, statistics.json and result_verdict.json are computed here from what the ranks
wrote.

Pure Python (no Ansible): the mlps_vectordb_campaign action plugin calls it, unit tests cover it.
Layout (published v3.0 trees, rule book §5): `<results>/<division>/<org>/results/<system>/
vector_database/<engine>/<INDEX>/{datagen,run}/<YYYYMMDD_HHMMSS>/`.
One module per benchmark on the frame (mlps.campaign.frame, .phase): its checks, plan, phases and
results.json, which share the plan's shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlps import __version__, inputs
from mlps.campaign import frame, phase, resume
from mlps.errors import UserError

BENCHMARK = "vector_database"
COMMANDS = ("datagen", "run")
RUNS = 5                                   # rule book §5.3.1: five timed runs per index, no warm-up
MIN_RUNTIME = 30                           # the run checker's floor for timed mode (seconds)
DEFINED_SCALES = ((1_000_000, 1536), (10_000_000, 1536))   # the shipped comparability classes (§5.1.1)
CLOSED_ENGINE = "milvus"
CLOSED_INDEXES = ("DISKANN", "HNSW", "AISAQ")
# The indexes each engine's driver builds: their build parameters (the rule book's name -> the
# engine's own) and the search parameter that carries search_ef. Milvus 2.3 takes DISKANN's degree
# and search list from its server configuration, not from the index call.
ENGINE_INDEXES = {
    "milvus": {"HNSW": {"build": {"M": "M", "ef_construction": "efConstruction"}, "search": "ef"},
               "DISKANN": {"build": {}, "search": "search_list"},
               "AISAQ": {"build": {}, "search": "search_list"},
               "IVF_FLAT": {"build": {"nlist": "nlist"}, "search": "nprobe"},
               "FLAT": {"build": {}, "search": None}},
    "pgvector": {"HNSW": {"build": {"M": "m", "ef_construction": "ef_construction"}, "search": "hnsw.ef_search"},
                 "IVFFLAT": {"build": {"lists": "lists"}, "search": "ivfflat.probes"}},
}
INDEX_DEFAULTS = {"M": 64, "ef_construction": 200, "max_degree": 64, "search_list_size": 200, "inline_pq": 16,
                  "nlist": 1024, "lists": 100}
DEFAULT_PORTS = {"milvus": 19530, "pgvector": 5432}
URI_SCHEMES = {"milvus": ("http", "https", "tcp", "grpc"), "pgvector": ("postgresql", "postgres")}
LOG_PREFIX = {"datagen": "vectordb_datagen", "run": "vectordb_run"}
COLLECTION = "mlps_vdb"
# What a phase's ranks may send back (archive intake): the load record and ground truth, or each
# query rank's rows, result ids and record; the phase's logs.
OUTPUT_NAMES = re.compile(
    r"^(?:load\.json|ground_truth\.json|rank_\d{1,6}/(?:queries\.csv|result_ids\.json|rank\.json)"
    r"|vectordb_(?:datagen|run)\.std(?:out|err)\.log)$")


def workload_dir(results_dir, division: str, org: str, system: str, engine: str, index: str) -> Path:
    base = frame.workload_dir(results_dir, division, org, system, BENCHMARK, engine, prefix="mlps_vectordb")
    return base / frame.check_name("mlps_vectordb_index", index)


def metadata_name(stamp: str) -> str:
    return frame.metadata_name(stamp, BENCHMARK)


# --- the plan ------------------------------------------------------------------------------------
def _whole(name: str, value, minimum: int) -> int:
    number, problem = inputs.whole_number(name, value, minimum)
    if problem:
        raise UserError(problem)
    return number


def check_engine_index(engine: str, index: str) -> tuple[str, str]:
    """(engine, INDEX) when the driver can build that index on that engine."""
    engine = str(engine or "").strip().lower()
    if engine not in ENGINE_INDEXES:
        raise UserError(f"mlps_vectordb_engine={engine!r}: expected one of {', '.join(ENGINE_INDEXES)} "
                        "(milvus is the CLOSED engine, rule book §5.6.2)")
    index = str(index or "").strip().upper()
    if index not in ENGINE_INDEXES[engine]:
        raise UserError(f"mlps_vectordb_index={index!r}: {engine} indexes are {', '.join(ENGINE_INDEXES[engine])}; "
                        "set mlps_vectordb_index to one of them")
    return engine, index


def index_parameters(engine: str, index: str, given: dict | None) -> dict:
    """The index's build parameters: the rule book's defaults with the user's values over them."""
    given = dict(given or {})
    allowed = ENGINE_INDEXES[engine][index]["build"]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise UserError(f"mlps_vectordb_index_params: {', '.join(unknown)} is not a {engine} {index} parameter "
                        f"(expected {', '.join(allowed) or 'none'})")
    return {key: _whole(f"mlps_vectordb_index_params.{key}", given.get(key, INDEX_DEFAULTS[key]), 1)
            for key in allowed}


# Graph links kept per vector (4 bytes each) by the graph indexes: HNSW's 2*M at its base layer,
# DISKANN's and AISAQ's max_degree (Milvus 2.3 takes it from its server configuration: the default).
GRAPH_LINKS = {"HNSW": lambda p: 2 * p["M"], "DISKANN": lambda p: INDEX_DEFAULTS["max_degree"],
               "AISAQ": lambda p: INDEX_DEFAULTS["max_degree"]}
# Room beyond the inserted data and the index files: compaction writes a segment before it drops the old
# ones, and the write-ahead log. An estimate: the preflight checks free space against it.
DISK_MARGIN = 1.25
IN_MEMORY_INDEXES = ("HNSW", "IVF_FLAT", "FLAT")   # what Milvus loads whole into the server's memory


def footprint(engine: str, index: str, num_vectors, dimension, given: dict | None = None) -> dict:
    """Estimated bytes on the server's data folder (the inserted float32 vectors, the index files: the
    vectors again plus graph links, a margin) and in the server's memory (Milvus: an in-memory index
    loaded whole; None where the engine pages it from disk: DISKANN, AISAQ, PostgreSQL)."""
    engine, index = check_engine_index(engine, index)
    n = _whole("mlps_vectordb_num_vectors", num_vectors, 1)
    raw = n * _whole("mlps_vectordb_dimension", dimension, 1) * 4
    links = GRAPH_LINKS.get(index, lambda p: 0)({**INDEX_DEFAULTS, **index_parameters(engine, index, given)})
    index_bytes = raw + n * links * 4
    memory = index_bytes if engine == "milvus" and index in IN_MEMORY_INDEXES else None
    return {"disk": int((raw + index_bytes) * DISK_MARGIN), "memory": memory, "raw": raw, "index": index_bytes}


def search_parameters(engine: str, index: str, search_ef, k: int) -> dict:
    """What each query asks for, in the engine's own names: the search list / ef of the rule book
    (§5.1: 200, at least k); for IVF indexes the lists probed (at most 64)."""
    ef = max(_whole("mlps_vectordb_search_ef", search_ef, 1), k)
    key = ENGINE_INDEXES[engine][index]["search"]
    if key is None:
        return {}
    return {key: min(ef, 64) if index.startswith("IVF") else ef}


def driver_build_parameters(engine: str, index: str, params: dict) -> dict:
    """The plan's build parameters in the engine's own names, as the driver takes them."""
    names = ENGINE_INDEXES[engine][index]["build"]
    return {names[key]: value for key, value in params.items()}


def check_uri(engine: str, uri: str) -> str:
    """A user URI of the right scheme for the engine (never printed with a password)."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in URI_SCHEMES[engine]:
        forms = " or ".join(f"{s}://HOST:PORT" for s in URI_SCHEMES[engine])
        raise UserError(f"mlps_vectordb_uri={redact(uri)!r}: expected {forms} for {engine}, or empty to start "
                        "the embedded server")
    return uri


def redact(uri: str) -> str:
    """The URI with any password replaced, for logs and metadata."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", str(uri))


def check_data_dir(data_dir: str, server_host: str, probe: dict | None, results: dict | None) -> dict:
    """The server's data folder: creatable on the server host and not on the results' filesystem
    (rule book §5.4.2). Returns the evidence recorded in the leaves."""
    if not str(data_dir).startswith("/"):
        raise UserError(f"mlps_vectordb_data_dir={data_dir!r}: expected an absolute path on the storage under test")
    entry = frame.probed_folder("mlps_vectordb_data_dir", data_dir, server_host, probe)
    same = bool(results and results.get("dev") is not None and results.get("host") == server_host
                and entry.get("dev") == results["dev"])
    if same:
        raise UserError(f"mlps_vectordb_data_dir={data_dir} is on the same filesystem as the results folder "
                        f"{results.get('path')} on {server_host}; the rule book (§5.4.2) wants them apart: put the "
                        "database on the storage under test and the results elsewhere (mlps_results_dir)")
    return {"data_dir": data_dir, "server_host": server_host, "results_dir": (results or {}).get("path"),
            "data_dev": entry.get("dev"), "results_dev": (results or {}).get("dev"),
            "results_host": (results or {}).get("host"), "same_filesystem": False,
            "method": "st_dev of both paths (or their nearest existing parents) when the controller is the server host"}


def check_server(engine: str, index: str, uri: str, probe: dict | None) -> dict:
    """The driver's probe of the server: it must answer, and build the index asked for."""
    probe = probe or {}
    if not probe.get("reachable"):
        raise UserError(f"mlps_vectordb_uri={redact(uri)}: the {engine} server does not answer "
                        f"({probe.get('error') or 'no probe'}); start it or fix the URI")
    supported = (probe.get("index_supported") or {}).get(index)
    if supported is False:
        raise UserError(f"mlps_vectordb_index={index}: the {engine} server at {redact(uri)} cannot build it "
                        f"({probe.get('reason') or 'its probe build did not finish'}); choose another index "
                        f"({', '.join(i for i in ENGINE_INDEXES[engine] if i != index)}) or a server that "
                        f"builds {index}")
    return {"server_version": probe.get("server_version"), "index_supported": supported,
            "reason": probe.get("reason")}


def plan_campaign(*, engine: str, index: str, hosts: list, results_dir, division: str = "closed",
                  org: str = "mlps", system: str = "mlps-system", uri: str = "", server_host: str = "",
                  data_dir: str = "", server_probe: dict | None = None, data_probe: dict | None = None,
                  results_probe: dict | None = None, num_vectors=1_000_000, dimension=1536, num_shards=1,
                  insert_batch=1000, index_params: dict | None = None, index_timeout=3600, compact=True,
                  search_ef=200, k=10, mode: str = "timed", runtime=60, query_count=1000, batch_size=1,
                  num_queries=1000, seed=1, query_seed=42, num_processes=0, npernode=0, runs=RUNS,
                  embedded: bool = True) -> dict:
    """Everything decided before any loading; UserError (with the values and the fix) for input that
    cannot run. `server_probe` is the driver's probe of the (started or given) server."""
    if not hosts:
        raise UserError("the clients group is empty; list the client hosts in the inventory's [clients] group")
    engine, index = check_engine_index(engine, index)
    if not embedded:
        check_uri(engine, uri)
    server = check_server(engine, index, uri, server_probe)
    separation = check_data_dir(data_dir, server_host, data_probe, results_probe) if embedded else {
        "data_dir": None, "server": redact(uri), "same_filesystem": None,
        "method": "external server: its storage is not probed by this campaign"}
    n = _whole("mlps_vectordb_num_vectors", num_vectors, 1)
    dim = _whole("mlps_vectordb_dimension", dimension, 2)
    k = _whole("mlps_vectordb_k", k, 1)
    queries = _whole("mlps_vectordb_num_queries", num_queries, 1)
    if k > n:
        raise UserError(f"mlps_vectordb_k={k} is more than the {n} vectors loaded; lower it or load more")
    if mode not in ("timed", "query_count"):
        raise UserError(f"mlps_vectordb_mode={mode!r}: expected timed or query_count")
    runtime = _whole("mlps_vectordb_runtime", runtime, 1)
    query_count = _whole("mlps_vectordb_query_count", query_count, 1)
    runs = _whole("mlps_vectordb_runs", runs, 1)
    np, per_host = phase.client_layout(hosts, num_processes, npernode, prefix="mlps_vectordb")
    params = index_parameters(engine, index, index_params)
    search = search_parameters(engine, index, search_ef, k)
    open_reasons = [text for cond, text in (
        (engine != CLOSED_ENGINE, f"engine {engine} (CLOSED runs Milvus: VDB-BACKEND, §5.6.2)"),
        (index not in CLOSED_INDEXES, f"index {index} (CLOSED: {', '.join(CLOSED_INDEXES)}: VDB-INDEX, §5.6.3)"),
        ((n, dim) not in DEFINED_SCALES, f"scale {n} x {dim} (defined: 1M or 10M x 1536: VDB-SCALE, §5.1.1)"),
        (runs != RUNS, f"{runs} runs (the rules run {RUNS}: VDB-RUNS-COUNT)"),
        (not embedded, f"database.host/port of a user server ({redact(uri)}) are OPEN tunables (§5.6.4)"),
    ) if cond]
    invalid_reasons = [f"timed runs of {runtime} s (the run checker wants at least {MIN_RUNTIME} s)"] \
        if mode == "timed" and runtime < MIN_RUNTIME else []
    parameters = {
        "database": {"database": engine, **({} if embedded else {"uri": redact(uri)})},
        "dataset": {"collection_name": COLLECTION, "num_vectors": n, "dimension": dim, "num_shards":
                    _whole("mlps_vectordb_num_shards", num_shards, 1), "batch_size":
                    _whole("mlps_vectordb_insert_batch", insert_batch, 1), "vector_dtype": "FLOAT_VECTOR",
                    "distribution": "uniform", "seed": _whole("mlps_vectordb_seed", seed, 0)},
        "index": {"index_type": index, "metric_type": "COSINE", **params},
        "search": {"search_ef": max(_whole("mlps_vectordb_search_ef", search_ef, 1), k), "k": k, "params": search},
        "run": {"mode": mode, "runtime": runtime, "query_count": query_count, "num_query_processes": np,
                "batch_size": _whole("mlps_vectordb_batch_size", batch_size, 1), "num_queries": queries,
                "query_seed": _whole("mlps_vectordb_query_seed", query_seed, 0)},
        "storage": {"storage_root": data_dir if embedded else None, "storage_type": "local" if embedded else None},
        "workflow": {"compact": bool(compact), "index_timeout": _whole("mlps_vectordb_index_timeout",
                                                                        index_timeout, 1)},
    }
    return {
        "benchmark": BENCHMARK, "engine": engine, "index": index, "embedded": bool(embedded),
        "uri": redact(uri), "server_host": server_host, "server": server, "parameters": parameters,
        "hosts": list(hosts), "num_processes": np, "npernode": per_host, "ranks_per_host": {h: per_host for h in hosts},
        "runs": runs, "fs_separation": separation, "division": division,
        "division_expected": "invalid" if invalid_reasons else ("open" if open_reasons else division),
        "open_reasons": open_reasons, "invalid_reasons": invalid_reasons,
        "workload_dir": str(workload_dir(results_dir, division, org, system, engine, index)),
        "phases": [{"command": "datagen", "index": 0, "label": "datagen"}]
        + [{"command": "run", "index": i, "label": f"run {i}/{runs}"} for i in range(1, runs + 1)],
        "phase_seconds": phase_seconds(parameters, n, dim),
        "toolkit_version": __version__,
    }


def phase_seconds(parameters: dict, n: int, dim: int) -> dict:
    """Upper bounds for each phase before it is stopped on every host: loading at a pessimistic
    2 MB/s plus the index build's own limit; a run's time (query_count mode: at 1 query/s) plus a margin."""
    load = 120 + (n * dim * 4) // 2_000_000 + parameters["workflow"]["index_timeout"]
    run = parameters["run"]
    query = run["runtime"] if run["mode"] == "timed" else run["query_count"]
    return {"datagen": int(load), "run": int(query) + 300}


# --- the driver's command lines -------------------------------------------------------------------
def rank_command(plan: dict, command: str, driver: dict, output: str) -> list:
    """One rank's argv: the driver's `load` (datagen) or `query` (a run)."""
    p = plan["parameters"]
    base = [driver["python"], driver["driver_file"], "load" if command == "datagen" else "query",
            "--engine", plan["engine"], "--uri", driver["uri"], "--collection", p["dataset"]["collection_name"],
            "--dimension", str(p["dataset"]["dimension"]), "--num-queries", str(p["run"]["num_queries"]),
            "--query-seed", str(p["run"]["query_seed"]), "--k", str(p["search"]["k"]), "--out", output]
    if command == "datagen":
        build = driver_build_parameters(plan["engine"], plan["index"], {
            k: v for k, v in p["index"].items() if k not in ("index_type", "metric_type")})
        return base + ["--num-vectors", str(p["dataset"]["num_vectors"]), "--seed", str(p["dataset"]["seed"]),
                       "--insert-batch", str(p["dataset"]["batch_size"]), "--index", plan["index"],
                       "--metric", p["index"]["metric_type"], "--index-params", json.dumps(build, sort_keys=True),
                       "--index-timeout", str(p["workflow"]["index_timeout"])] \
            + (["--compact"] if p["workflow"]["compact"] else [])
    return [*base, "--search-params", json.dumps(p["search"]["params"], sort_keys=True), "--mode", p["run"]["mode"],
            "--runtime", str(p["run"]["runtime"]), "--query-count", str(p["run"]["query_count"]),
            "--batch-size", str(p["run"]["batch_size"])]


# --- one phase on the frame ----------------------------------------------------------------------
def latest_datagen(workload) -> tuple[Path, dict] | None:
    """The workload's latest completed datagen leaf and its load record (the runs' ground truth)."""
    for leaf, meta in reversed(frame.leaves_with_metadata(Path(workload) / "datagen", BENCHMARK)):
        if meta.get("status") == "completed" and (leaf / "ground_truth.json").is_file():
            return leaf, meta
    return None


def start_phase(*, plan: dict, command: str, index: int, staging_dir: str, driver: dict, mpi: dict,
                context: dict, files: dict, copies: dict, launcher: str, check: bool = False) -> dict:
    """Allocate the leaf, build the driver's and mpirun's argv, and record the leaf as running.
    datagen is one rank on the launcher; a run is the campaign's query ranks across the clients."""
    if command not in COMMANDS:
        raise UserError(f"command {command!r}: expected one of {', '.join(COMMANDS)}")
    if command == "datagen" and not check:
        resume.mark_stale(plan["workload_dir"], benchmark=BENCHMARK, commands=COMMANDS)
    leaf, stamp = phase.open_leaf(plan["workload_dir"], command, check)
    prefix = LOG_PREFIX[command]
    names = phase.stage_names(staging_dir, command, stamp, prefix)
    names["log"] = names["stdout"]           # the driver prints its progress lines on stdout
    argv = rank_command(plan, command, driver, names["output"])
    launch = dict(mpi, hosts=[launcher]) if command == "datagen" else mpi
    np = 1 if command == "datagen" else plan["num_processes"]
    cmd, slots = phase.mpirun_command(argv, np, launch)
    label = "datagen" if command == "datagen" else f"run {index}/{plan['runs']}"
    names.update({"leaf": str(leaf), "stamp": stamp, "label": label, "prefix": prefix, "rank_argv": argv,
                  "cmd": cmd, "placement": slots, "np": np, "mpi_hosts": launch["hosts"],
                  "timeout": plan["phase_seconds"][command], "metadata_file": metadata_name(stamp)})
    if check:
        return {**names, "changed": False}
    datagen = None if command == "datagen" else latest_datagen(plan["workload_dir"])
    if command == "run" and datagen is None:
        raise UserError(f"{plan['workload_dir']}: no completed datagen leaf with ground truth; the runs need one "
                        "(run the whole campaign: datagen comes first)")
    record = {
        **context, "benchmark": BENCHMARK, "benchmark_type": BENCHMARK, "command": command, "timestamp": stamp,
        "run_datetime": stamp, "run_index": index, "status": "running", "started_at": frame.utc_now(),
        "engine": plan["engine"], "index_type": plan["index"], "parameters": plan["parameters"],
        "num_processes": np, "ranks_per_host": dict(slots), "executed_command": cmd, "rank_argv": argv,
        "fs_separation": plan["fs_separation"], "server": {**plan["server"], **(context.get("server") or {})},
        "division_expected": plan["division_expected"], "open_reasons": plan["open_reasons"],
        "invalid_reasons": plan["invalid_reasons"], "timeseries": phase.series_dir(BENCHMARK, stamp),
        "stdout_log": f"{prefix}.stdout.log", "stderr_log": f"{prefix}.stderr.log",
        "datagen_leaf": None if datagen is None else datagen[0].name,
        "cluster_info": "cluster_info.json" if "cluster_info.json" in copies else None,
    }
    frame.update_metadata(leaf, stamp, record, BENCHMARK)
    phase.write_inputs(leaf, files, copies)
    named = phase.write_provenance(leaf, benchmark=BENCHMARK, command=command, stamp=stamp, context=context,
                                   config=plan["parameters"])
    frame.update_metadata(leaf, stamp, named, BENCHMARK)
    return {**names, "changed": True}


def end_phase(*, plan: dict, leaf, stamp: str, command: str, phase_label: str, hosts: list, launcher: str,
              archives: dict, job: dict, waited: dict, samples: dict, unreachable: list) -> dict:
    """The frame's end of a phase, then the leaf's own files from what the ranks wrote: the datagen
    summary from load.json; a run's statistics, recall against the datagen's ground truth, disk I/O
    and verdict. A phase whose launch ended but whose files do not add up is failed, naming why."""
    from mlps.results import vector_database as vdb  # noqa: PLC0415 - only a phase's end reads rank files

    ended = phase.end(benchmark=BENCHMARK, leaf=leaf, stamp=stamp, label=phase_label, hosts=hosts,
                      launcher=launcher, archives=archives, job=job, waited=waited, samples=samples,
                      unreachable=unreachable, output_names=OUTPUT_NAMES)
    leaf = Path(leaf)
    out = {**ended, "figures": {}}
    if ended["status"] != "completed":
        return {**out, "go_on": False}
    try:
        if command == "datagen":
            load = _load_record(leaf / "load.json")
            vdb.write_datagen_summary(leaf, load)
            figures = {"inserted_vectors": load.get("inserted_vectors"), "index_type": load.get("index_type"),
                       "timings": load.get("timings")}
            changes = {"load": {k: load.get(k) for k in ("server_version", "inserted_vectors", "index_type",
                                                          "index_params", "compacted", "timings", "ground_truth")}}
        else:
            datagen = latest_datagen(plan["workload_dir"])
            if datagen is None:
                raise UserError("the datagen leaf with the ground truth is gone")
            gt_leaf = datagen[0]
            load = _load_record(gt_leaf / "load.json")
            ground_truth = _load_record(gt_leaf / "ground_truth.json")
            statistics = vdb.pool_ranks(leaf)
            recall = vdb.recall(leaf, ground_truth, plan["parameters"]["search"]["k"])
            summary = vdb.write_run_summary(leaf, statistics, recall, load)
            figures = {k: summary.get(k) for k in ("throughput_qps", "p99_latency_ms", "mean_latency_ms", "recall",
                                                    "query_count")}
            changes = {"summary_file": "summary.json", "statistics_file": "statistics.json",
                       "result_verdict_file": "result_verdict.json", "figures": figures}
    except UserError as exc:
        message = f"{phase_label} failed: {exc}"
        frame.update_metadata(leaf, stamp, {"status": "failed", "message": message,
                                            "failure": {"phase": phase_label, "hosts": [launcher],
                                                        "lost_hosts": [], "reason": str(exc)}}, BENCHMARK)
        return {**out, "status": "failed", "message": message, "go_on": False}
    frame.update_metadata(leaf, stamp, changes, BENCHMARK)
    return {**out, "figures": figures, "go_on": True}


def _load_record(path: Path) -> dict:
    from mlps.jsonio import load_json  # noqa: PLC0415

    if not path.is_file():
        raise UserError(f"{path.name} is missing from {path.parent} (the driver wrote none; see its stderr log)")
    data = load_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


# --- the workload's figures ----------------------------------------------------------------------
def write_results_json(workload: Path) -> dict:
    """results.json beside the run folder: the v3.0 VDB figures of the workload's completed runs."""
    from mlps.results.figures import vdb_results  # noqa: PLC0415 - the reader pulls in yaml
    from mlps.results.reader import read_tree  # noqa: PLC0415

    runs = [leaf for wl in read_tree(workload).workloads for leaf in wl.runs
            if not isinstance(leaf.metadata, dict) or leaf.metadata.get("status", "completed") == "completed"]
    if not runs:
        raise UserError(f"{workload}: no completed vector_database run leaf to compute results.json from")
    document = {"schema": "mlps-vector_database-results/1", "toolkit_version": __version__,
                "runs": [leaf.name for leaf in runs], "results": vdb_results(runs), "generated_at": frame.utc_now()}
    frame.write_json_atomic(Path(workload) / "results.json", document)
    return document
