"""The KV-cache benchmark on the campaign frame: the plan (Options, client layout, memory and folder
checks before any I/O), one run leaf holding every Option's trials, each trial a phase whose ranks
write `option_<O>/trial_<T>/rank_<N>/`, and the leaf's summary.json at the end.

Pure Python (no Ansible): the mlps_kvcache_campaign action plugin calls it, unit tests cover it.
Layout (published v3.0 trees, rule book §6.3.4): one leaf per run, under the 8B model's folder even
though Option 3 runs the 70B model:
`<results>/<division>/<org>/results/<system>/kv_cache/llama3.1-8b/run/<YYYYMMDD_HHMMSS>/`.
One module per benchmark on the frame (mlps.campaign.frame, .phase): its checks, plan, trials and
results.json, which share the plan's shape.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlps import __version__, inputs
from mlps.campaign import frame, phase, resume
from mlps.errors import UserError
from mlps.rulebook.workloads import (
    KV_BYTES_PER_TOKEN,
    KV_GENERATION_MODES,
    KV_LOCKS,
    KV_RESULTS_MODEL,
    get_kv_option,
)

BENCHMARK = "kv_cache"
ENGINE_CHOICES = ("auto", "native", "mlcommons")
LOG_PREFIX = "kvcache_run"
NESTED = "trials"                      # metadata key of the per-trial phase records
GIB = 1 << 30
NOISE_BYTES = 256 << 20                # the engine's noise buffer, at most
MAX_CONTEXT_TOKENS = 25_000            # the largest context of the user profiles (coding)
MAX_WORKERS = 500                      # kv-cache.py's worker pool bound: min(users, 500)
MLCOMMONS_SCRIPT = "kv-cache.py"
# What a rank may send back: its results (or its failure record) and the trial's logs.
OUTPUT_NAMES = re.compile(
    r"^option_[1-9]/trial_\d{1,3}/(?:rank_\d{1,6}/kvcache_(?:results|failure)_\d{8}_\d{6}\.json"
    rf"|kvcache\.log|{LOG_PREFIX}\.std(?:out|err)\.log)$")


def workload_dir(results_dir, division: str, org: str, system: str) -> Path:
    return frame.workload_dir(results_dir, division, org, system, BENCHMARK, KV_RESULTS_MODEL, prefix="mlps_kvcache")


def label(option: int, trial: int) -> str:
    """`option_<O>/trial_<T>`: the trial's folder in the leaf and its key in the metadata."""
    return f"option_{int(option)}/trial_{int(trial)}"


# --- the plan -----------------------------------------------------------------------------------
def _whole(name: str, value, minimum: int) -> int:
    number, problem = inputs.whole_number(name, value, minimum)
    if problem:
        raise UserError(problem)
    return number


def _fraction(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not 0 < number <= 1:
        raise UserError(f"{name}={value!r}: expected a number in (0, 1] (1 = the rules' value)")
    return number


def parse_options(value) -> list[int]:
    """`1,2,3` (text or list) -> [1, 2, 3]; the rule book runs them in that order (§6.3.1.1)."""
    items = value if isinstance(value, list | tuple) else str(value).replace(" ", "").split(",")
    options = []
    for item in items:
        if str(item).strip() == "":
            continue
        try:
            options.append(get_kv_option(item).option)
        except UserError:
            raise UserError(f"mlps_kvcache_options={value!r}: option {item!r} is unknown; expected a list of "
                            "1, 2 and 3 (Table KVCache-1), e.g. 1,2,3") from None
    if not options:
        raise UserError(f"mlps_kvcache_options={value!r}: no option given; expected e.g. 1,2,3")
    if options != sorted(set(options)):
        raise UserError(f"mlps_kvcache_options={value!r}: each option once, in ascending order (the rule book "
                        "runs 1 -> 2 -> 3); e.g. 1,2,3 or 2,3")
    return options


def client_layout(hosts: list, num_processes, npernode) -> tuple[int, int]:
    """(ranks, ranks per host) as the rule book's client rules say (§6.3.3.1-2)."""
    return phase.client_layout(hosts, num_processes, npernode, prefix="mlps_kvcache")


def option_parameters(option: int, *, model: str = "", users=0, duration_scale: float = 1.0, seed=None,
                      generation_mode: str = "") -> dict:
    """What every rank is given for one Option: Table KVCache-1's values, with the overrides a
    campaign asked for (any of them makes the result OPEN, rule book §6.6)."""
    row = get_kv_option(option)
    model = model or row.model
    if model not in KV_BYTES_PER_TOKEN:
        raise UserError(f"mlps_kvcache_model={model!r}: expected one of {', '.join(KV_BYTES_PER_TOKEN)} "
                        "(empty = each Option's own model)")
    mode = generation_mode or row.generation_mode
    if mode not in KV_GENERATION_MODES:
        raise UserError(f"mlps_kvcache_generation_mode={mode!r}: expected one of {', '.join(KV_GENERATION_MODES)}")
    users = _whole("mlps_kvcache_users", users or 0, 0) or row.users
    return {"model": model, "num_users": users, "duration": max(1, round(row.duration * duration_scale)),
            "gpu_mem_gb": row.gpu_mem_gb, "cpu_mem_gb": row.cpu_mem_gb,
            "max_concurrent_allocs": row.max_concurrent_allocs, "generation_mode": mode,
            "seed": KV_LOCKS["seed"] if seed in (None, "") else _whole("mlps_kvcache_seed", seed, 0)}


def rank_memory_bytes(params: dict, size_scale: float) -> int:
    """What one rank can hold at once: its in-flight entries (at most max-concurrent-allocs, else one
    per worker) of the largest context, the noise buffer, and its GPU and CPU tiers (in host memory
    here)."""
    largest = int(MAX_CONTEXT_TOKENS * KV_BYTES_PER_TOKEN[params["model"]] * size_scale)
    in_flight = params["max_concurrent_allocs"] or min(params["num_users"], MAX_WORKERS)
    tiers = int((float(params["gpu_mem_gb"]) + float(params["cpu_mem_gb"])) * GIB)
    return in_flight * largest + min(NOISE_BYTES, largest) + tiers


def check_memory(parameters: dict, per_host: int, probes: dict, size_scale: float) -> list[dict]:
    """Stop before any I/O when a host's ranks could need more memory than it has."""
    rows, short = [], []
    for option, params in parameters.items():
        need = rank_memory_bytes(params, size_scale) * per_host
        for host, probe in probes.items():
            have = (probe or {}).get("memory_bytes")
            rows.append({"option": option, "host": host, "need_bytes": need, "memory_bytes": have})
            if have and need > have:
                short.append(f"Option {option} on {host}: {per_host} rank(s) x "
                             f"{params['max_concurrent_allocs'] or 'one per worker'} concurrent allocations of up to "
                             f"{MAX_CONTEXT_TOKENS} tokens of {params['model']} need {need / GIB:.1f} GiB, the host "
                             f"has {have / GIB:.1f} GiB")
    if short:
        raise UserError(f"more concurrent allocations than memory can hold: {'; '.join(short)}. Lower "
                        "mlps_kvcache_npernode, add memory, or (OPEN only) lower mlps_kvcache_size_scale")
    return rows


def check_folders(cache_dir: str, stage_root: str, probes: dict, results: dict | None = None) -> dict:
    """The cache folder must be creatable on every host and on another filesystem than what the
    ranks' results land on (the staging folder; the controller's results folder when the controller
    is that host) - rule book §6.4.1. Returns the evidence recorded in the leaf."""
    same = []
    for host, probe in probes.items():
        cache = frame.probed_folder("mlps_kvcache_cache_dir", cache_dir, host, probe)
        stage = ((probe or {}).get("paths") or {}).get(stage_root) or {}
        if stage.get("dev") is not None and stage.get("dev") == cache.get("dev"):
            same.append(f"{host}: the staging folder {stage_root}")
    if results and results.get("dev") is not None:
        for host, probe in probes.items():
            cache = ((probe or {}).get("paths") or {}).get(cache_dir) or {}
            if results.get("host") == host and cache.get("dev") == results["dev"]:
                same.append(f"{host}: the results folder {results.get('path')}")
    if same:
        raise UserError(f"mlps_kvcache_cache_dir={cache_dir} is on the same filesystem as the results "
                        f"({'; '.join(same)}); the rule book (§6.4.1) wants them apart: put the cache on the "
                        "storage under test and the results elsewhere (mlps_results_dir, mlps_kvcache_staging_dir)")
    return {"cache_dir": cache_dir, "results_dir": (results or {}).get("path"), "staging_dir": stage_root,
            "same_filesystem": False, "method": "st_dev of both paths (or their nearest existing parents) per host"}


def resolve_engine(requested: str, mlcommons_dir: str, probe: dict | None) -> tuple[str, str]:
    """(engine, why): MLCommons' kv-cache.py when a checkout is given and found on the launcher,
    else the native engine (OPEN only: rule KV-ENGINE)."""
    if requested not in ENGINE_CHOICES:
        raise UserError(f"mlps_kvcache_engine={requested!r}: expected one of {', '.join(ENGINE_CHOICES)}")
    found = bool(mlcommons_dir) and bool((probe or {}).get("is_file"))
    where = f"{mlcommons_dir}/{MLCOMMONS_SCRIPT}"
    if requested == "mlcommons":
        if not found:
            raise UserError(f"mlps_kvcache_engine=mlcommons: {where if mlcommons_dir else 'no checkout given'} "
                            "is not a file on the launcher; set mlps_kvcache_mlcommons_dir to a checkout of "
                            "MLCommons' kv_cache_benchmark, or mlps_kvcache_engine=auto or native")
        return "mlcommons", f"MLCommons' {where}"
    if requested == "native":
        return "native", "mlps_kvcache_engine=native (results OPEN only)"
    if found:
        return "mlcommons", f"MLCommons' {where}"
    return "native", ("no MLCommons kv_cache_benchmark checkout (mlps_kvcache_mlcommons_dir): the native engine "
                      "(results OPEN only)")


def plan_campaign(*, options, hosts: list, cache_dir: str, stage_root: str, host_probes: dict,
                  results_dir, results_probe: dict | None = None, division: str = "closed", org: str = "mlps",
                  system: str = "mlps-system", num_processes=0, npernode=0, trials=None, inter_option_delay=None,
                  duration_scale=1.0, size_scale=1.0, users=0, model: str = "", seed=None,
                  generation_mode: str = "", engine: str = "auto", mlcommons_dir: str = "",
                  mlcommons_probe: dict | None = None) -> dict:
    """Everything decided before any I/O; UserError (with the numbers and the fix) for input that
    cannot run."""
    if not hosts:
        raise UserError("the clients group is empty; list the client hosts in the inventory's [clients] group")
    if not str(cache_dir).startswith("/"):
        raise UserError(f"mlps_kvcache_cache_dir={cache_dir!r}: expected an absolute path on the storage under test")
    chosen = parse_options(options)
    np, per_host = client_layout(hosts, num_processes, npernode)
    duration_scale = _fraction("mlps_kvcache_duration_scale", duration_scale)
    size_scale = _fraction("mlps_kvcache_size_scale", size_scale)
    trials = _whole("mlps_kvcache_trials", KV_LOCKS["trials"] if trials in (None, "") else trials, 1)
    delay = _whole("mlps_kvcache_inter_option_delay",
                   KV_LOCKS["inter_option_delay"] if inter_option_delay in (None, "") else inter_option_delay, 0)
    parameters = {str(o): option_parameters(o, model=model, users=users, duration_scale=duration_scale, seed=seed,
                                            generation_mode=generation_mode) for o in chosen}
    probes = {h: p for h, p in (host_probes or {}).items() if h in hosts}
    memory = check_memory(parameters, per_host, probes, size_scale)
    separation = check_folders(cache_dir, stage_root, probes, results_probe)
    used, why = resolve_engine(engine, mlcommons_dir, mlcommons_probe)
    if used == "mlcommons" and size_scale != 1:
        raise UserError(f"mlps_kvcache_size_scale={size_scale:g}: MLCommons' kv-cache.py has no size scale; set it "
                        "to 1, or mlps_kvcache_engine=native for a scaled run (OPEN only)")
    open_reasons = [text for cond, text in (
        (used == "native", "the native KV-cache engine (KV-ENGINE)"),
        (duration_scale != 1 or size_scale != 1,
         f"duration scale {duration_scale:g}, size scale {size_scale:g} (KV-SCALE)"),
        (chosen != [1, 2, 3], f"Options {chosen} (CLOSED runs 1, 2 and 3: KV-OPTIONS)"),
        (trials != KV_LOCKS["trials"] or delay != KV_LOCKS["inter_option_delay"]
         or any(p["seed"] != KV_LOCKS["seed"] for p in parameters.values()),
         f"trials {trials}, delay {delay} s, seed (locked: 3, 90 s, 42: KV-LOCKS)"),
        (bool(users or model or generation_mode), "users, model or generation mode changed (KV-CLOSED-IMMUTABLE)"),
    ) if cond]
    return {
        "benchmark": BENCHMARK, "options": chosen, "trials": trials, "inter_option_delay": delay,
        "parameters": parameters, "num_processes": np, "npernode": per_host, "hosts": list(hosts),
        "ranks_per_host": {h: per_host for h in hosts}, "cache_dir": cache_dir, "staging_dir": stage_root,
        "duration_scale": duration_scale, "size_scale": size_scale, "engine": used, "engine_requested": engine,
        "engine_reason": why,
        "mlcommons_script": f"{mlcommons_dir}/{MLCOMMONS_SCRIPT}" if used == "mlcommons" else None,
        "memory": memory, "fs_separation": separation, "division_expected": "open" if open_reasons else division,
        "open_reasons": open_reasons, "division": division,
        "workload_dir": str(workload_dir(results_dir, division, org, system)),
        "phases": [{"option": o, "trial": t, "label": label(o, t), "last_of_option": t == trials,
                    "delay_after": delay if (t == trials and o != chosen[-1]) else 0}
                   for o in chosen for t in range(1, trials + 1)],
        "toolkit_version": __version__,
    }


# --- the run leaf --------------------------------------------------------------------------------
def open_run(*, plan: dict, context: dict, files: dict, copies: dict, check: bool = False) -> dict:
    """The run leaf (`run/<stamp>/`), its inputs and its `running` metadata with every Option's
    parameters, before the first trial."""
    # an earlier run leaf still saying running was left by a campaign that died: say so first
    marked = [] if check else resume.mark_stale(plan["workload_dir"], benchmark=BENCHMARK, commands=("run",))
    leaf, stamp = phase.open_leaf(plan["workload_dir"], "run", check)
    out = {"leaf": str(leaf), "stamp": stamp, "metadata_file": frame.metadata_name(stamp, BENCHMARK),
           "marked_interrupted": marked}
    if check:
        return {**out, "changed": False}
    frame.update_metadata(leaf, stamp, {
        **context, "benchmark": BENCHMARK, "benchmark_type": BENCHMARK, "command": "run", "timestamp": stamp,
        "run_datetime": stamp, "status": "running", "started_at": frame.utc_now(), "engine": plan["engine"],
        "engine_reason": plan["engine_reason"], "options": plan["options"], "trials_per_option": plan["trials"],
        "seed": next(iter(plan["parameters"].values()))["seed"], "inter_option_delay": plan["inter_option_delay"],
        "duration_scale": plan["duration_scale"], "size_scale": plan["size_scale"],
        "parameters": plan["parameters"], "autoscaling": False, "config": None, "hosts": plan["hosts"],
        "host_count": len(plan["hosts"]), "npernode": plan["npernode"], "num_processes": plan["num_processes"],
        "ranks_per_host": plan["ranks_per_host"], "cache_dir": plan["cache_dir"],
        "fs_separation": plan["fs_separation"], "division_expected": plan["division_expected"],
        "open_reasons": plan["open_reasons"], "timeseries": phase.series_dir(BENCHMARK, stamp), NESTED: {},
    }, BENCHMARK)
    phase.write_inputs(leaf, files, copies)          # after the running record, as every benchmark's leaf
    named = phase.write_provenance(leaf, benchmark=BENCHMARK, command="run", stamp=stamp, context=context,
                                   config={"options": plan["options"], "parameters": plan["parameters"]})
    frame.update_metadata(leaf, stamp, named, BENCHMARK)
    return {**out, "changed": True, "opens_leaf": True}


def rank_command(plan: dict, params: dict, results_dir: str, log: str, trial_label: str, engine: dict) -> list:
    """One rank's argv: the native engine, or the native engine handing each rank to MLCommons'
    kv-cache.py (it sets the rank's seed, cache folder and output file, as MLCommons' wrapper does)."""
    argv = [engine["python"], engine["engine_file"]]
    if plan["engine"] == "mlcommons":
        argv += ["--delegate", plan["mlcommons_script"]]
    argv += ["--model", params["model"], "--num-users", str(params["num_users"]),
             "--duration", str(params["duration"]), "--gpu-mem-gb", f"{float(params['gpu_mem_gb']):g}",
             "--cpu-mem-gb", f"{float(params['cpu_mem_gb']):g}",
             "--max-concurrent-allocs", str(params["max_concurrent_allocs"]),
             "--generation-mode", params["generation_mode"], "--seed", str(params["seed"]),
             "--cache-dir", plan["cache_dir"], "--results-dir", results_dir,
             "--progress-log", log, "--label", trial_label.replace("/", " ").replace("_", " ")]
    if plan["size_scale"] != 1:
        argv += ["--size-scale", f"{plan['size_scale']:g}"]
    return argv


def start_trial(*, plan: dict, leaf: str, stamp: str, option: int, trial: int, staging_dir: str, engine: dict,
                mpi: dict, dropped: dict | None = None, check: bool = False) -> dict:
    """The names and command lines of one trial (a phase of the run leaf) and its `running` record;
    `dropped`: each host's cache-drop evidence before this trial."""
    key = label(option, trial)
    params = plan["parameters"][str(option)]
    names = phase.stage_names(staging_dir, f"option{option}-trial{trial}", stamp, LOG_PREFIX)
    inner = f"{names['output']}/{key}"
    names.update({"log": f"{inner}/kvcache.log", "stdout": f"{inner}/{LOG_PREFIX}.stdout.log",
                  "stderr": f"{inner}/{LOG_PREFIX}.stderr.log"})
    argv = rank_command(plan, params, inner, names["log"], key, engine)
    cmd, slots = phase.mpirun_command(argv, plan["num_processes"], mpi)
    names.update({"leaf": leaf, "stamp": stamp, "label": key, "rank_argv": argv, "cmd": cmd, "placement": slots,
                  "option": int(option), "trial": int(trial)})
    if check:
        return {**names, "changed": False}
    trials = frame.read_metadata(leaf, stamp, BENCHMARK).get(NESTED) or {}
    trials[key] = {"status": "running", "started_at": frame.utc_now(), "option": int(option), "trial": int(trial),
                   "executed_command": cmd, "rank_argv": argv, "ranks_per_host": dict(slots),
                   "drop_caches": dropped or "not dropped"}
    frame.update_metadata(leaf, stamp, {NESTED: trials}, BENCHMARK)
    return {**names, "changed": True}


def rank_hosts(placement: list) -> dict:
    """rank -> host for mpirun's by-slot mapping (consecutive ranks per host, in placement order)."""
    out, rank = {}, 0
    for host, count in placement:
        for _ in range(int(count)):
            out[rank] = host
            rank += 1
    return out


def rank_outcome(leaf: Path, key: str, placement: list) -> dict:
    """Which ranks left a results file for the trial, and which did not (with their host and, when
    the rank's supervisor recorded it, why)."""
    from mlps.jsonio import load_json  # noqa: PLC0415 - only the end of a trial reads rank records

    hosts = rank_hosts(placement)
    done, missing = [], []
    for rank, host in hosts.items():
        folder = Path(leaf) / key / f"rank_{rank}"
        if folder.is_dir() and any(folder.glob("kvcache_results_*.json")):
            done.append(rank)
            continue
        entry = {"rank": rank, "host": host}
        failures = sorted(folder.glob("kvcache_failure_*.json")) if folder.is_dir() else []
        if failures:
            try:
                record = load_json(failures[-1])
                entry["reason"] = str(record.get("reason") or record)[:500]
            except UserError as exc:
                entry["reason"] = str(exc)
        missing.append(entry)
    return {"ranks_done": done, "missing_ranks": missing}


def end_trial(*, leaf, stamp: str, label: str, placement: list, hosts: list, launcher: str, archives: dict,
              job: dict, waited: dict, samples: dict, unreachable: list) -> dict:
    """The frame's end of a phase, nested in the run leaf, plus which ranks wrote results: a trial
    whose launch ended but some rank wrote nothing is partial (KV-PARTIAL), naming rank and host."""
    changes = {}

    def judge(record: dict) -> dict:
        outcome = rank_outcome(Path(leaf), label, placement)
        changes.update(outcome, partial=bool(outcome["missing_ranks"]) and bool(outcome["ranks_done"]))
        if outcome["missing_ranks"]:
            named = ", ".join(f"rank {m['rank']} on {m['host']}" + (f" ({m['reason']})" if m.get("reason") else "")
                              for m in outcome["missing_ranks"])
            changes["message"] = f"{label} {'partial' if changes['partial'] else 'failed'}: no results from {named}"
            if record["status"] == "completed":
                changes["status"] = "failed"
        return changes

    ended = phase.end(benchmark=BENCHMARK, leaf=leaf, stamp=stamp, label=label, hosts=hosts, launcher=launcher,
                      archives=archives, job=job, waited=waited, samples=samples, unreachable=unreachable,
                      what="trial", output_names=OUTPUT_NAMES, series_sub=label, nest=NESTED, judge=judge)
    # `leaf_open`: the run leaf stays running between trials (callback_plugins/mlps_leaves.py).
    return {**ended, "partial": changes["partial"], "leaf_open": True,
            "go_on": ended["status"] == "completed" or changes["partial"]}


def finish(*, leaf, stamp: str, stopped: str = "") -> dict:
    """summary.json from the rank files and the run leaf's final status: completed when every trial
    ran to its end (partial trials included, the summary flags them), else the first trial's status
    that stopped the campaign."""
    from mlps.results import kv_cache as kv_results  # noqa: PLC0415 - the reader pulls in yaml

    current = frame.read_metadata(leaf, stamp, BENCHMARK)
    trials = current.get(NESTED) or {}
    stopping = [(k, t) for k, t in trials.items() if t.get("status") != "completed" and not t.get("partial")]
    summary = kv_results.write_summary(Path(leaf), current)
    if stopping:
        key, first = stopping[0]
        status = first.get("status") if first.get("status") in frame.STATUSES else "failed"
        status = "failed" if status == "running" else status
        message = first.get("message") or f"{key} {status}"
    elif stopped:
        status, message = "failed", stopped
    else:
        partial = [k for k, t in trials.items() if t.get("partial")]
        status = "completed"
        message = f"partial trials: {', '.join(partial)}" if partial else ""
    frame.update_metadata(leaf, stamp, {"status": status, "message": message, "ended_at": frame.utc_now(),
                                        "summary_file": "summary.json"}, BENCHMARK)
    return {"leaf": str(leaf), "status": status, "message": message, "summary": summary}


def write_results_json(workload: Path) -> dict:
    """results.json beside the run folder: the per-Option figures of the workload's latest clean run."""
    from mlps.results.figures import kv_results  # noqa: PLC0415 - the reader pulls in yaml
    from mlps.results.reader import read_tree  # noqa: PLC0415

    runs = [leaf for wl in read_tree(workload).workloads for leaf in wl.runs]
    figures = kv_results(runs)
    if not figures:
        raise UserError(f"{workload}: no kv_cache run leaf with a summary to compute results.json from")
    document = {"schema": "mlps-kv_cache-results/1", "toolkit_version": __version__,
                "runs": [leaf.name for leaf in runs], "results": figures, "generated_at": frame.utc_now()}
    frame.write_json_atomic(Path(workload) / "results.json", document)
    return document
