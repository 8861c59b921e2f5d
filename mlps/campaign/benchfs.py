"""BenchFS with IOR on the campaign frame: the sweep plan (transfer size x block size x ranks per client),
the rendered daemon configuration, and one phase per sweep point whose leaf holds IOR's JSON summary, its
stdout/stderr, the TOML the daemons ran with, the daemons' logs of that run and the samplers' series.

BenchFS is an ad-hoc file system started for the job, not an MLPerf Storage benchmark: every leaf is OPEN
(no rule book section covers it). Layout: `<results>/open/<org>/results/<system>/benchfs/ior/<stamp>/`,
with `results.json` beside the leaves (one entry per sweep).

Pure Python (no Ansible): the mlps_benchfs_campaign action plugin calls it, unit tests cover it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlps import __version__, inputs, jsonio
from mlps.campaign import frame, phase
from mlps.errors import UserError
from mlps.natural_order import natural_sorted

BENCHMARK = "benchfs"
WORKLOAD = "ior"
DIVISION = "open"
OPEN_REASON = ("BenchFS with IOR is not an MLPerf Storage benchmark: its results are OPEN "
               "(no rule book section covers it)")
LOG_PREFIX = "ior"
SUMMARY = "ior.json"
CONFIG_FILE = "benchfs.toml"
DAEMON_DIR = "daemon"
# What a run's clients may send back (IOR's summary and logs) and what the server hosts may send back of
# the daemons (their per-rank logs, mpirun's log, the state file, the stats/trace files the config enabled).
OUTPUT_NAMES = re.compile(r"^(?:ior\.json|ior\.std(?:out|err)\.log)$")
DAEMON_NAMES = re.compile(r"^daemon/(?:rank_\d{1,6}\.log|mpirun\.log|daemon\.json|benchfs\.toml"
                          r"|stats/rank_\d{1,6}/[A-Za-z0-9._-]{1,100})$")
_SIZE = re.compile(r"^[1-9][0-9]{0,12}[kKmMgG]?$")
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def workload_dir(results_dir, org: str, system: str) -> Path:
    return frame.workload_dir(results_dir, DIVISION, org, system, BENCHMARK, WORKLOAD, prefix="mlps_benchfs")


def size_bytes(name: str, value) -> int:
    """IOR's size form (4096, 64k, 1m, 2g) in bytes; UserError naming the setting otherwise."""
    text = str(value).strip()
    if not _SIZE.match(text):
        raise UserError(f"{name}={inputs.shown(value)}: expected a size like 4096, 64k, 1m or 2g")
    unit = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1].lower(), 1)
    return int(text.rstrip("kKmMgG")) * unit


def _whole(name: str, value, minimum: int) -> int:
    number, problem = inputs.whole_number(name, value, minimum)
    if problem:
        raise UserError(problem)
    return number


def _toml_value(where: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(_toml_value(where, v) for v in value) + "]"
    raise UserError(f"mlps_benchfs_config.{where}: {type(value).__name__} values are not supported; use strings, "
                    "numbers, booleans, lists of those, or one level of tables")


def render_toml(config: dict) -> str:
    """The daemon's configuration from the inventory's mapping: top-level keys, then one level of tables."""
    if not isinstance(config, dict):
        raise UserError("mlps_benchfs_config: expected a mapping of settings (tables of keys)")
    top, tables = [], []
    for key, value in config.items():
        if not _KEY.match(str(key)):
            raise UserError(f"mlps_benchfs_config key {inputs.shown(key)}: use letters, digits, '_' or '-'")
        if isinstance(value, dict):
            lines = [f"[{key}]"]
            for inner, item in value.items():
                if not _KEY.match(str(inner)):
                    raise UserError(f"mlps_benchfs_config.{key} key {inputs.shown(inner)}: use letters, digits, "
                                    "'_' or '-'")
                lines.append(f"{inner} = {_toml_value(f'{key}.{inner}', item)}")
            tables.append("\n".join(lines))
        else:
            top.append(f"{key} = {_toml_value(key, value)}")
    return "# rendered by mlps from mlps_benchfs_config\n" + "\n\n".join(["\n".join(top)] * bool(top) + tables) + "\n"


def _path(name: str, value) -> str:
    problem = inputs.check_path(name, value)
    if problem or not str(value).startswith("/"):
        raise UserError(problem or f"{name}={inputs.shown(value)}: expected an absolute path")
    return str(value)


def plan_campaign(*, clients: list, servers: list, ranks_per_server, results_dir, org: str = "mlps",
                  system: str = "mlps-system", registry_dir: str, data_dir: str, chunk_size, config: dict,
                  transfer_sizes: list, block_sizes: list, ranks_per_client: list, ior_args: list | None = None,
                  backend_options: dict | None = None, run_timeout=600) -> dict:
    """The sweep, every point checked before anything starts; UserError with the value and the fix."""
    if not clients:
        raise UserError("mlps_benchfs_clients is empty; name the hosts that run IOR (hosts of the play)")
    if not servers:
        raise UserError("mlps_benchfs_servers is empty; name the hosts that run the BenchFS daemons")
    for name, hosts, ranks in (("mlps_benchfs_clients", clients, "mlps_benchfs_ranks_per_client"),
                               ("mlps_benchfs_servers", servers, "mlps_benchfs_ranks_per_server")):
        twice = natural_sorted({h for h in hosts if hosts.count(h) > 1})
        if twice:
            raise UserError(f"{name} names {', '.join(twice)} more than once; list each host once "
                            f"(more ranks on a host: {ranks})")
    per_server = _whole("mlps_benchfs_ranks_per_server", ranks_per_server, 1)
    sweep = {"transfer_size": [str(t) for t in transfer_sizes], "block_size": [str(b) for b in block_sizes],
             "ranks_per_client": [_whole("mlps_benchfs_ranks_per_client", r, 1) for r in ranks_per_client]}
    for key, values in sweep.items():
        if not values:
            raise UserError(f"mlps_benchfs_{key}s is empty; give at least one value to sweep")
    runs = []
    for t in sweep["transfer_size"]:
        for b in sweep["block_size"]:
            tb, bb = size_bytes("mlps_benchfs_transfer_sizes", t), size_bytes("mlps_benchfs_block_sizes", b)
            if bb % tb:
                raise UserError(f"mlps_benchfs_block_sizes {b} is not a multiple of transfer size {t} (IOR refuses "
                                "it); pick block sizes that are whole multiples of every transfer size")
            for r in sweep["ranks_per_client"]:
                runs.append({"transfer_size": t, "block_size": b, "ranks_per_client": r, "np": r * len(clients)})
    for i, run in enumerate(runs, 1):
        run.update(index=i, label=f"run {i}/{len(runs)} (-t {run['transfer_size']} -b {run['block_size']}, "
                   f"{run['ranks_per_client']} per client)")
    backend = {"registry": "--benchfs.registry", "data_dir": "--benchfs.datadir",
               "chunk_size": "--benchfs.chunk-size", **(backend_options or {})}
    return {
        "benchmark": BENCHMARK, "workload_dir": str(workload_dir(results_dir, org, system)),
        "clients": list(clients), "servers": list(servers), "ranks_per_server": per_server,
        "server_np": per_server * len(servers), "placement": "shared" if set(clients) & set(servers) else "separate",
        "registry_dir": _path("mlps_benchfs_registry_dir", registry_dir),
        "data_dir": _path("mlps_benchfs_data_dir", data_dir),
        "chunk_size": size_bytes("mlps_benchfs_chunk_size", chunk_size), "config": dict(config or {}),
        "config_text": render_toml(config or {}), "sweep": sweep, "runs": runs, "backend_options": backend,
        "ior_args": [str(a) for a in ior_args or []],
        "run_timeout": _whole("mlps_benchfs_run_timeout", run_timeout, 1), "division": DIVISION,
        "division_expected": DIVISION, "open_reasons": [OPEN_REASON], "toolkit_version": __version__,
    }


def ior_command(plan: dict, run: dict, ior: str, output: str) -> list:
    """IOR's argv: the BenchFS backend with its registry, data folder and chunk size, the run's sizes,
    write then read, and the JSON summary into the phase's output folder."""
    opts = plan["backend_options"]
    return [ior, "-a", "BENCHFS", f"{opts['registry']}={plan['registry_dir']}",
            f"{opts['data_dir']}={plan['data_dir']}", f"{opts['chunk_size']}={plan['chunk_size']}",
            "-t", run["transfer_size"], "-b", run["block_size"], "-w", "-r",
            *plan["ior_args"], "-O", "summaryFormat=JSON", "-O", f"summaryFile={output}/{SUMMARY}"]


def start_phase(*, plan: dict, index: int, staging_dir: str, ior: str, daemon: str, mpi: dict, context: dict,
                files: dict, copies: dict, check: bool = False) -> dict:
    """The leaf, IOR's and the daemons' mpirun argv, and the leaf recorded as running."""
    if not 1 <= index <= len(plan["runs"]):
        raise UserError(f"run {index}: the sweep has runs 1-{len(plan['runs'])}")
    run = plan["runs"][index - 1]
    leaf, stamp = phase.open_leaf(plan["workload_dir"], None, check)
    names = phase.stage_names(staging_dir, "ior", stamp, LOG_PREFIX)
    names["log"] = names["stdout"]
    argv = ior_command(plan, run, ior, names["output"])
    cmd, slots = phase.mpirun_command(argv, run["np"], dict(mpi, hosts=plan["clients"]))
    daemon_mpirun = phase.mpirun_command([daemon], plan["server_np"], dict(mpi, hosts=plan["servers"]))[0][:-1]
    folder = f"{names['stage']}/benchfs/{DAEMON_DIR}"  # packed as benchfs/: lands in the leaf as daemon/
    names.update({"leaf": str(leaf), "stamp": stamp, "label": run["label"], "prefix": LOG_PREFIX, "rank_argv": argv,
                  "cmd": cmd, "placement": slots, "np": run["np"], "mpi_hosts": plan["clients"],
                  "timeout": plan["run_timeout"], "metadata_file": frame.metadata_name(stamp, BENCHMARK),
                  "daemon": {"folder": folder, "logs": folder, "config": f"{folder}/{CONFIG_FILE}",
                             "state": f"{folder}/daemon.json", "run_id": Path(names["stage"]).name,
                             "mpirun": daemon_mpirun, "np": plan["server_np"], "launcher": plan["servers"][0]}})
    if check:
        return {**names, "changed": False}
    record = {
        **context, "benchmark": BENCHMARK, "benchmark_type": BENCHMARK, "model": WORKLOAD, "command": None,
        "timestamp": stamp, "run_datetime": stamp, "run_index": index, "status": "running",
        "started_at": frame.utc_now(), "division": DIVISION, "division_expected": DIVISION,
        "open_reasons": [OPEN_REASON], "not_mlperf_storage": True,
        "parameters": {k: run[k] for k in ("transfer_size", "block_size", "ranks_per_client")}
        | {"np": run["np"], "chunk_size": plan["chunk_size"], "registry_dir": plan["registry_dir"],
           "data_dir": plan["data_dir"]},
        "servers": {"hosts": plan["servers"], "ranks_per_host": plan["ranks_per_server"], "np": plan["server_np"],
                    "placement": plan["placement"], "executed_command": [*daemon_mpirun, daemon]},
        "num_processes": run["np"], "ranks_per_host": dict(slots), "executed_command": cmd, "rank_argv": argv,
        "config_file": CONFIG_FILE, "summary_file": SUMMARY, "daemon_logs": DAEMON_DIR,
        "timeseries": phase.series_dir(BENCHMARK, stamp), "stdout_log": f"{LOG_PREFIX}.stdout.log",
        "stderr_log": f"{LOG_PREFIX}.stderr.log",
        "cluster_info": "cluster_info.json" if "cluster_info.json" in copies else None,
    }
    frame.update_metadata(leaf, stamp, record, BENCHMARK)
    phase.write_inputs(leaf, files, copies)
    jsonio.write_text_atomic(Path(leaf) / CONFIG_FILE, plan["config_text"])
    named = phase.write_provenance(leaf, benchmark=BENCHMARK, command="run", stamp=stamp, context=context,
                                   config={"run": record["parameters"], "benchfs": plan["config"]})
    frame.update_metadata(leaf, stamp, named, BENCHMARK)
    return {**names, "changed": True}


def ior_figures(document) -> dict:
    """Bandwidth (MiB/s) and IOPS per operation from IOR's JSON summary ("summary": one entry per operation)."""
    rows = document.get("summary") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{SUMMARY} has no \"summary\" entries (IOR writes one per operation with "
                        "-O summaryFormat=JSON); see the run's ior.stderr.log")
    figures = {}
    for row in rows:
        op = row.get("operation") if isinstance(row, dict) else None
        if not isinstance(op, str):
            raise UserError(f"{SUMMARY}: a summary entry without an operation")
        figures[op] = {key: phase.number(row.get(field)) for key, field in (
            ("bw_max_MiBps", "bwMaxMIB"), ("bw_mean_MiBps", "bwMeanMIB"), ("bw_min_MiBps", "bwMinMIB"),
            ("iops_mean", "OPsMean"), ("iops_max", "OPsMax"), ("mean_time_s", "MeanTime"))}
        figures[op].update(num_tasks=row.get("numTasks"), transfer_size=row.get("transferSize"),
                           block_size=row.get("blockSize"))
    return figures


def daemon_record(leaf: Path, np: int, started: dict, stops: dict) -> dict:
    """What the leaf says of the daemons: ready time, how the stop went on every server host, and the
    ranks whose log is missing or has no shutdown line."""
    logs = leaf / DAEMON_DIR
    missing = [r for r in range(np) if not (logs / f"rank_{r}.log").is_file()]
    stop = stops.get("stop") or {}
    reaped = {h: r for h, r in (stops.get("reap") or {}).items() if isinstance(r, dict)}
    left = {h: r.get("left_pids") for h, r in reaped.items() if r.get("left_pids")}
    killed = {h: r.get("found") for h, r in reaped.items() if r.get("found")}
    return {"np": np, "ready_seconds": started.get("ready_seconds"), "wiped": started.get("wiped"),
            "stop_forced": bool(stop.get("forced")) or bool(killed), "stop_seconds": stop.get("stop_seconds"),
            "killed_after_stop": killed, "left_pids": left, "logs_missing": missing,
            "shutdown_missing": sorted(set(stop.get("shutdown_missing") or []) | set(missing)),
            "stopped": bool(stop) and not left and not stop.get("left_pids")}


def end_phase(*, plan: dict, leaf, stamp: str, label: str, hosts: list, launcher: str, archives: dict,
              daemon_archives: dict, daemon_started: dict, daemon_stops: dict, job: dict, waited: dict,
              samples: dict, unreachable: list) -> dict:
    """The daemons' files first (their archives are not the frame's), then the frame's end, then the
    figures from IOR's summary. A run whose daemons did not stop cleanly is failed, naming the hosts."""
    leaf = Path(leaf)
    order = [(h, p) for h, p in daemon_archives.items() if Path(p).is_file()]
    try:
        _, refused = frame.extract_outputs(order, leaf, routes={"benchfs": "."}, names=DAEMON_NAMES)
    finally:
        for _, path in order:
            Path(path).unlink(missing_ok=True)
    daemons = daemon_record(leaf, plan["server_np"], daemon_started or {}, daemon_stops or {})
    if refused:
        daemons["refused_archives"] = refused
    ended = phase.end(benchmark=BENCHMARK, leaf=leaf, stamp=stamp, label=label, hosts=hosts, launcher=launcher,
                      archives=archives, job=job, waited=waited, samples=samples, unreachable=unreachable,
                      record={"daemons": daemons}, output_names=OUTPUT_NAMES)
    out = {**ended, "figures": {}, "daemons": daemons}
    if ended["status"] != "completed":
        return out
    try:
        figures = ior_figures(jsonio.load_json(leaf / SUMMARY)) if (leaf / SUMMARY).is_file() else None
        if figures is None:
            raise UserError(f"{SUMMARY} is missing (IOR wrote no summary; see the run's ior.stderr.log)")
        if not daemons["stopped"] or daemons["left_pids"]:
            raise UserError(f"BenchFS daemons left running after the stop: {daemons['left_pids'] or 'unknown'}")
    except (UserError, jsonio.ReadError) as exc:
        message = f"{label} failed: {exc}"
        frame.update_metadata(leaf, stamp, {"status": "failed", "message": message, "failure": {
            "phase": label, "hosts": [launcher], "lost_hosts": [], "reason": str(exc)}}, BENCHMARK)
        return {**out, "status": "failed", "message": message}
    frame.update_metadata(leaf, stamp, {"figures": figures}, BENCHMARK)
    return {**out, "figures": figures}


def write_results_json(workload, leaves: list) -> dict:
    """results.json beside the leaves: this sweep's runs and figures under its first leaf's stamp,
    earlier sweeps kept as they were."""
    workload = Path(workload)
    path = workload / "results.json"
    document = jsonio.load_json(path) if path.is_file() else {}
    if not isinstance(document, dict) or document.get("schema") != "mlps-benchfs-results/1":
        document = {"schema": "mlps-benchfs-results/1", "sweeps": {}}
    runs, found = [], {leaf.name: meta for leaf, meta in frame.leaves_with_metadata(workload, BENCHMARK)}
    for name in leaves:
        meta = found.get(name)
        if meta is None:
            continue
        runs.append({"leaf": name, "status": meta.get("status"), "parameters": meta.get("parameters"),
                     "figures": meta.get("figures") or {}})
    if not runs:
        raise UserError(f"{workload}: none of the sweep's leaves ({', '.join(leaves) or 'none'}) has its metadata")
    document["sweeps"][runs[0]["leaf"]] = {"runs": runs, "division": DIVISION, "open_reasons": [OPEN_REASON],
                                           "toolkit_version": __version__, "generated_at": frame.utc_now()}
    frame.write_json_atomic(path, document)
    return document
