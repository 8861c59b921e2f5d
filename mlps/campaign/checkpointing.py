"""The controller side of a checkpointing campaign: engine choice, the plan and its pre-I/O checks,
the invocations (one, or write then read), DLIO's and the native engine's command lines, the leaves,
their metadata and configs, and the workload's results.json.

Pure Python (no Ansible): the mlps_checkpointing role's action plugin calls it, unit tests cover it.
Layout (the published v3.0 tree, rule book §2.1: no command segment for checkpointing):
`<results>/<division>/<org>/results/<system>/checkpointing/<model>/<YYYYMMDD_HHMMSS>/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mlps import __version__, inputs
from mlps.campaign import frame, phase
from mlps.errors import UserError
from mlps.plan.checkpoint import CACHE_MULTIPLE, GIB, CheckpointPlan, plan_checkpoint
from mlps.results import figures
from mlps.rulebook.workloads import CHECKPOINT_COMMON, CHECKPOINT_CONFIG_DIR, get_checkpoint_model

BENCHMARK = "checkpointing"
METADATA_SCHEMA = "mlps-checkpointing-metadata/1"
RESULTS_SCHEMA = "mlps-checkpointing-results/1"
ENGINE_CHOICES = ("auto", "dlio", "native")
SPLIT_CHOICES = ("auto", "always", "never")
LOG_PREFIX = "checkpointing_run"                      # <prefix>.stdout.log / .stderr.log (CKPT-FILES)
CONFIG_DIR = "dlio_config"                            # where the native engine's leaf keeps its configs
# A DLIO build has the checkpoint-only workload when its config knows these keys (MLCommons' build
# does; the PyPI 2.0.0 release checkpoints only inside training and knows none of them).
DLIO_CHECKPOINT_KEYS = ("num_checkpoints_write", "num_checkpoints_read")


# --- names and paths ----------------------------------------------------------------------------
def workload_dir(results_dir, division: str, org: str, system: str, model: str) -> Path:
    return frame.workload_dir(results_dir, division, org, system, BENCHMARK, model, prefix="mlps_checkpointing")


# --- the engine ---------------------------------------------------------------------------------
def dlio_has_checkpoint_workload(probe: dict | None) -> tuple[bool, str]:
    """(usable, why) from the launcher's DLIO probe (`mlps_ckpt_native.py --probe-dlio`).

    Preflight can call this with the same probe to say, before anything runs, that a forced
    engine=dlio cannot work with the installed DLIO.
    """
    probe = probe or {}
    version = probe.get("dlio_version")
    if probe.get("error") or not version:
        return False, f"DLIO is not importable in the client venv ({probe.get('error') or 'not installed'})"
    missing = [key for key in DLIO_CHECKPOINT_KEYS if key not in (probe.get("config_keys") or [])]
    if missing:
        return False, (f"the installed DLIO {version} has no checkpoint-only workload (its config knows no "
                       f"{', '.join(missing)}); MLCommons' DLIO build has it")
    return True, f"the installed DLIO {version} has the checkpoint-only workload"


def resolve_engine(requested: str, probe: dict | None) -> tuple[str, str]:
    """(engine, why): auto takes DLIO when it can run the workload, else the native engine."""
    if requested not in ENGINE_CHOICES:
        raise UserError(f"mlps_checkpointing_engine={requested!r}: expected one of {', '.join(ENGINE_CHOICES)}")
    usable, why = dlio_has_checkpoint_workload(probe)
    if requested == "native":
        return "native", "mlps_checkpointing_engine=native"
    if requested == "dlio":
        if not usable:
            raise UserError(f"mlps_checkpointing_engine=dlio: {why}. Install MLCommons' DLIO build in the client "
                            "venv (mlps_env's DLIO package spec), or set mlps_checkpointing_engine=auto or native "
                            "(native results are OPEN only)")
        return "dlio", why
    return ("dlio", why) if usable else ("native", f"{why}: using the native engine (results OPEN only)")


# --- the plan -----------------------------------------------------------------------------------
def _whole(name: str, value, minimum: int) -> int:
    number, problem = inputs.whole_number(name, value, minimum)
    if problem:
        raise UserError(problem)
    return number


def folder_probes(raw: dict, folder: str) -> dict:
    """host -> {free_bytes, fs_key, memory_bytes, cpus} for the checkpoint folder, from each client's
    `mlps_ckpt_native.py --probe-folder` output (or {error} when the probe gave nothing usable)."""
    out = {}
    for host, probe in (raw or {}).items():
        if not isinstance(probe, dict):
            out[host] = {"free_bytes": None, "error": f"unreadable probe output {probe!r}"}
            continue
        path = (probe.get("paths") or {}).get(folder) or {}
        out[host] = {"free_bytes": path.get("free_bytes"), "fs_key": path.get("fs_key"), "dev": path.get("dev"),
                     "memory_bytes": probe.get("memory_bytes"), "cpus": probe.get("cpus"),
                     "hostname": probe.get("hostname"), "error": path.get("error") or probe.get("error")}
    return out


def check_placement(plan: CheckpointPlan, probes: dict, max_ranks_per_host: int) -> list[dict]:
    """Too few hosts for the ranks: a host may run at most max_ranks_per_host ranks (0 = its CPUs)."""
    rows, over = [], []
    for host, ranks in plan.hosts:
        cpus = (probes.get(host) or {}).get("cpus")
        limit = max_ranks_per_host or cpus
        rows.append({"host": host, "ranks": ranks, "limit": limit})
        if limit and ranks > limit:
            over.append(f"{host} would run {ranks} (limit {limit})")
    if over:
        limits = [r["limit"] for r in rows if r["limit"]]
        need = -(-plan.processes // min(limits)) if limits else len(plan.hosts)
        source = (f"mlps_checkpointing_max_ranks_per_host={max_ranks_per_host}" if max_ranks_per_host
                  else "each host's CPU count (mlps_checkpointing_max_ranks_per_host=0)")
        raise UserError(f"{plan.model.name} with {plan.processes} processes on {len(plan.hosts)} host(s): too few "
                        f"hosts for the ranks: {'; '.join(over)}, the limit being {source}. Add clients (at least "
                        f"{need} hosts) or raise mlps_checkpointing_max_ranks_per_host")
    return rows


def check_room(plan: CheckpointPlan, probes: dict, writes: int, folder: str) -> list[dict]:
    """Free space of the checkpoint folder against what lands on it: hosts that report the same
    filesystem identity share it, so their bytes add up (a conservative guess for look-alikes)."""
    per_host = dict(plan.bytes_per_host())
    groups: dict = {}
    for host, _ranks in plan.hosts:
        probe = probes.get(host) or {}
        if probe.get("free_bytes") is None:
            raise UserError(f"{folder} on {host}: its free space is unknown ({probe.get('error') or 'no probe'}); "
                            "check that the folder can be created there")
        key = json.dumps(probe.get("fs_key"), sort_keys=True) if probe.get("fs_key") else f"host:{host}"
        group = groups.setdefault(key, {"hosts": [], "free_bytes": probe["free_bytes"], "need_bytes": 0})
        group["hosts"].append(host)
        group["free_bytes"] = min(group["free_bytes"], probe["free_bytes"])
        group["need_bytes"] += per_host[host] * writes
    short = [g for g in groups.values() if g["need_bytes"] > g["free_bytes"]]
    if short:
        text = "; ".join(f"{', '.join(g['hosts'])}: {g['need_bytes']} bytes ({g['need_bytes'] / GIB:.3f} GiB) "
                         f"needed, {g['free_bytes']} bytes ({g['free_bytes'] / GIB:.3f} GiB) free" for g in short)
        raise UserError(f"checkpoint folder {folder} has no room for {writes} checkpoints of {plan.model.name} "
                        f"({plan.total_bytes} bytes each at scale {plan.scale:g}): {text}. Free space, point "
                        "mlps_checkpointing_folder elsewhere, or lower mlps_checkpointing_scale")
    return list(groups.values())


def cache_drop_hosts(plan: CheckpointPlan, probes: dict) -> list[str]:
    """Hosts whose bytes per checkpoint are not more than 3x their memory (CKPT-CACHE-RATIO): their page
    cache could serve the reads, so caches must be dropped between the writes and the reads."""
    out = []
    for host, written in plan.bytes_per_host():
        memory = (probes.get(host) or {}).get("memory_bytes")
        if not memory or written <= CACHE_MULTIPLE * memory:
            out.append(host)                          # unknown memory: drop, to be safe
    return out


def invocations(writes: int, reads: int, split: str, drop_needed: bool) -> list[dict]:
    """One invocation (writes then reads) or two (all writes, then all reads, caches dropped between)."""
    if split not in SPLIT_CHOICES:
        raise UserError(f"mlps_checkpointing_split={split!r}: expected one of {', '.join(SPLIT_CHOICES)}")
    if not writes and not reads:
        raise UserError("mlps_checkpointing_num_checkpoints_write=0 and _read=0: nothing to do")
    if writes and reads > writes:
        raise UserError(f"mlps_checkpointing_num_checkpoints_read={reads} > _write={writes}: the reads read back "
                        "checkpoints this campaign wrote; read at most as many as were written")
    do_split = writes > 0 and reads > 0 and (split == "always" or (split == "auto" and drop_needed))
    if do_split:
        return [{"name": "write", "writes": writes, "reads": 0, "drop_before": False},
                {"name": "read", "writes": 0, "reads": reads, "drop_before": True}]
    name = "write" if not reads else ("read" if not writes else "both")
    return [{"name": name, "writes": writes, "reads": reads, "drop_before": False}]


def plan_campaign(*, model: str, processes, hosts: list, scale=1.0, subset: bool = False, engine: str = "auto",
                  accelerator: str = "b200", writes=10, reads=10, split: str = "auto", max_ranks_per_host=0,
                  host_probes: dict | None = None, dlio_probe: dict | None = None, folder: str = "",
                  results_dir=None, division: str = "closed", org: str = "mlps", system: str = "mlps-system") -> dict:
    """Everything decided before any I/O; UserError (with the numbers) for input that cannot run."""
    if not hosts:
        raise UserError("the clients group is empty; list the client hosts in the inventory's [clients] group")
    ckpt = get_checkpoint_model(model)
    processes = _whole("mlps_checkpointing_processes", processes, 0) or ckpt.closed_processes
    writes = _whole("mlps_checkpointing_num_checkpoints_write", writes, 0)
    reads = _whole("mlps_checkpointing_num_checkpoints_read", reads, 0)
    max_ranks = _whole("mlps_checkpointing_max_ranks_per_host", max_ranks_per_host, 0)
    chosen, why = resolve_engine(engine, dlio_probe)
    if chosen == "dlio" and float(scale) != 1:
        raise UserError(f"mlps_checkpointing_scale={scale}: DLIO has no size scale, so a scaled run needs the native "
                        "engine; set mlps_checkpointing_engine=native (or auto), or scale 1")
    probes = host_probes or {}
    memories = [p.get("memory_bytes") for p in probes.values() if p and p.get("memory_bytes")]
    plan = plan_checkpoint(ckpt, processes, subset=bool(subset), scale=scale, engine=chosen, hosts=list(hosts),
                           host_memory_bytes=min(memories) if memories else None)
    placement_rows = check_placement(plan, probes, max_ranks)
    room = check_room(plan, probes, writes, folder) if writes else []
    drop_hosts = cache_drop_hosts(plan, probes)
    runs = invocations(writes, reads, split, bool(drop_hosts))
    return {
        "model": ckpt.name, "workload": _config_name(ckpt.name),
        "processes": processes, "hosts": list(hosts), "ranks_per_host": dict(plan.hosts),
        "accelerator": accelerator, "subset": bool(subset), "scale": plan.scale,
        "engine": chosen, "engine_requested": engine, "engine_reason": why,
        "writes": writes, "reads": reads, "split": split, "invocations": runs,
        "cache_drop_hosts": drop_hosts, "cache_drop_required": bool(drop_hosts),
        "bytes_per_checkpoint": plan.total_bytes, "checkpoint_size_GB": plan.checkpoint_size_gib,
        "bytes_per_host": dict(plan.bytes_per_host()), "placement": placement_rows, "room": room,
        "folder": folder, "division_expected": plan.division, "open_reasons": plan.open_reasons,
        "invalid_reasons": plan.invalid_reasons, "record": plan.run_record(),
        "workload_dir": str(workload_dir(results_dir, division, org, system, ckpt.name)) if results_dir else None,
        "plan": plan.to_dict(), "toolkit_version": __version__,
    }


def _config_name(model: str) -> str:
    """llama3-8b -> llama3_8b (the YAML's name under configs/checkpointing/workload/)."""
    return model.replace("-", "_")


def preflight_bytes(model: str, processes=0, *, scale=1.0, subset: bool = False, writes=10) -> int:
    """Bytes the checkpoint filesystem must hold for a campaign (the plan's bytes x writes), for
    mlps.preflight: the scale and subset mode change it, which the model's full size does not."""
    ckpt = get_checkpoint_model(model)
    processes = _whole("checkpoint processes", processes, 0) or ckpt.closed_processes
    return plan_checkpoint(ckpt, processes, subset=subset, scale=scale).total_bytes * _whole("writes", writes, 0)


# --- command lines ------------------------------------------------------------------------------
def _text(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def overrides_for(plan: dict, invocation: dict, folder: str, time_between=None) -> dict:
    """The DLIO overrides (dotted key -> text) of one invocation: the folder and the counts (what CLOSED
    allows), subset mode's two keys, and a time between checkpoints only when it is not the template's."""
    out = {"checkpoint.checkpoint_folder": folder,
           "checkpoint.num_checkpoints_write": invocation["writes"],
           "checkpoint.num_checkpoints_read": invocation["reads"]}
    if plan["subset"]:
        out["checkpoint.mode"] = "subset"
        out["model.parallelism.data"] = plan["plan"]["data_parallel"]
    if time_between is not None and float(time_between) != CHECKPOINT_COMMON["time_between_checkpoints"]:
        out["checkpoint.time_between_checkpoints"] = time_between
    return {key: _text(value) for key, value in out.items()}


def dlio_command(*, dlio: str, config_dir: str, plan: dict, invocation: dict, folder: str, output_folder: str,
                 time_between=None) -> tuple[list[str], dict]:
    """(argv of one rank, overrides) for MLCommons' DLIO checkpoint-only workload."""
    overrides = overrides_for(plan, invocation, folder, time_between)
    overrides["output.folder"] = output_folder
    argv = [dlio, "--config-path", str(config_dir), f"workload={plan['workload']}",
            *(f"++workload.{key}={value}" for key, value in overrides.items()), f"hydra.run.dir={output_folder}"]
    return argv, overrides


def native_command(*, python: str, engine: str, plan_file: str, plan: dict, invocation: dict, folder: str,
                   output_folder: str, transfer_size: str = "4MiB", odirect: bool = False, fsync: bool = True,
                   time_between=None) -> tuple[list[str], dict]:
    """(argv of one rank, the equivalent DLIO overrides) for module_utils/mlps_ckpt_native.py."""
    between = CHECKPOINT_COMMON["time_between_checkpoints"] if time_between is None else float(time_between)
    if between < 0:
        raise UserError(f"mlps_checkpointing_time_between_checkpoints={time_between}: expected 0 or more seconds")
    argv = [python, engine, "--plan", plan_file, "--folder", folder, "--output-folder", output_folder,
            "--writes", str(invocation["writes"]), "--reads", str(invocation["reads"]),
            "--transfer-size", str(transfer_size), "--time-between-checkpoints", f"{between:g}",
            "--log", f"{output_folder}/dlio.log"]
    if fsync:
        argv.append("--fsync")
    if odirect:
        argv.append("--odirect")
    return argv, overrides_for(plan, invocation, folder, time_between)


# --- what a native leaf keeps in place of DLIO's own configs ------------------------------------
def native_configs(plan: dict, invocation: dict, overrides: dict, fsync: bool, argv: list) -> dict:
    """dlio_config/{config,hydra,overrides}.yaml for a native leaf: the template with this invocation's
    overrides applied, in DLIO's shapes, so the checkpointing rules read both engines alike."""
    template = yaml.safe_load((CHECKPOINT_CONFIG_DIR / "workload" / f"{plan['workload']}.yaml").read_text())
    for key, value in overrides.items():
        node = template
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value) if key != "checkpoint.checkpoint_folder" else value
    template.setdefault("checkpoint", {})["fsync"] = bool(fsync)
    lines = [f"workload={plan['workload']}", *(f"++workload.{k}={v}" for k, v in overrides.items())]
    hydra = {"hydra": {"job": {"name": "mlps_ckpt_native"}, "runtime": {"engine": plan["engine"]},
                       "overrides": {"task": lines}, "executed_argv": list(argv)}}
    return {"config.yaml": yaml.safe_dump({"workload": template}, sort_keys=False),
            "hydra.yaml": yaml.safe_dump(hydra, sort_keys=False),
            "overrides.yaml": yaml.safe_dump(lines, default_flow_style=False)}


def write_configs(leaf, configs: dict) -> list[str]:
    folder = Path(leaf) / CONFIG_DIR
    folder.mkdir(exist_ok=True)
    for name, text in configs.items():
        target = folder / frame.check_name("config file", name)
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    return sorted(configs)


# --- the workload's figures ---------------------------------------------------------------------
def write_results_json(workload: Path) -> dict:
    """results.json beside the leaves: the v3.0 checkpointing figures from the run leaves."""
    from mlps.results.reader import read_tree  # noqa: PLC0415 - the reader pulls in yaml; only this needs it

    tree = read_tree(workload)
    runs = [leaf for wl in tree.workloads for leaf in wl.runs]
    if not runs:
        raise UserError(f"{workload}: no checkpointing leaves to compute results.json from")
    document = {"schema": RESULTS_SCHEMA, "toolkit_version": __version__, "runs": [leaf.name for leaf in runs],
                "results": figures.checkpoint_results(runs), "generated_at": frame.utc_now()}
    frame.write_json_atomic(Path(workload) / "results.json", document)
    return document


# --- one invocation, controller side (as mlps.campaign.phase does for a training phase) -------------
def engine_command(plan: dict, invocation: dict, output_folder: str, engine: dict) -> tuple[list, dict, dict]:
    """(argv of one rank, overrides, dlio_config texts) of DLIO or of the native engine.

    engine: dlio and config_dir (DLIO); python, engine_file, plan_file, transfer_size, odirect, fsync
    (native); time_between (both)."""
    between = engine.get("time_between")
    if plan.get("engine") == "dlio":
        argv, overrides = dlio_command(dlio=engine["dlio"], config_dir=engine["config_dir"], plan=plan,
                                       invocation=invocation, folder=plan["folder"], output_folder=output_folder,
                                       time_between=between)
        return argv, overrides, {}
    fsync = bool(engine.get("fsync", True))
    argv, overrides = native_command(
        python=engine["python"], engine=engine["engine_file"], plan_file=engine["plan_file"], plan=plan,
        invocation=invocation, folder=plan["folder"], output_folder=output_folder,
        transfer_size=engine.get("transfer_size", "4MiB"), odirect=bool(engine.get("odirect")), fsync=fsync,
        time_between=between)
    return argv, overrides, native_configs(plan, invocation, overrides, fsync, argv)


def start_invocation(*, plan: dict, invocation: dict, staging_dir: str, engine: dict, mpi: dict, context: dict,
                     files: dict, copies: dict, check: bool = False) -> dict:
    """Allocate the leaf, build the engine's and mpirun's argv, and record the leaf as running.

    mpi: mpirun, implementation, hosts, as_root, rsh_agent, prefix, mca, env (names only).
    context: the campaign-wide part of the metadata (versions, inventory, args, ...).
    The result carries `marker`, `leaf` and `stamp`: callback_plugins/mlps_leaves.py then marks the
    leaf interrupted should the campaign stop before start's matching end_invocation.
    """
    leaf, stamp = phase.open_leaf(plan["workload_dir"], None, check)
    names = phase.stage_names(staging_dir, frame.check_name("invocation name", invocation["name"]), stamp,
                              LOG_PREFIX)
    argv, overrides, configs = engine_command(plan, invocation, names["output"], engine)
    cmd, slots = phase.mpirun_command(argv, plan["processes"], mpi)
    logs = [f"{LOG_PREFIX}.stdout.log", f"{LOG_PREFIX}.stderr.log"]
    names.update({"leaf": str(leaf), "stamp": stamp, "label": invocation["name"],
                  "metadata_file": frame.metadata_name(stamp, BENCHMARK), "engine_argv": argv, "rank_argv": argv,
                  "overrides": overrides, "cmd": cmd, "placement": slots})
    if check:
        return {**names, "changed": False}
    # the running record first: a leaf is never without its status, whatever stops the writes after it
    record = {
        **context, **plan.get("record", {}),
        "benchmark": BENCHMARK, "benchmark_type": BENCHMARK, "command": "run", "timestamp": stamp,
        "run_datetime": stamp, "invocation": invocation, "status": "running", "started_at": frame.utc_now(),
        "ranks_per_host": dict(slots),
        "parameters": {"checkpoint": {"checkpoint_folder": plan["folder"],
                                      "num_checkpoints_write": invocation["writes"],
                                      "num_checkpoints_read": invocation["reads"],
                                      "mode": "subset" if plan.get("subset") else "default",
                                      "fsync": bool(engine.get("fsync", True))}},
        "override_parameters": overrides, "executed_command": cmd, "argv": cmd, "engine_argv": argv,
        "timeseries": phase.series_dir(BENCHMARK, stamp), "stdout_log": logs[0], "stderr_log": logs[1],
        "command_output_files": logs,
        "cluster_info": "cluster_info.json" if "cluster_info.json" in copies else None,
        "drop_caches": "drop_caches.json" if "drop_caches.json" in files else "not dropped",
    }
    frame.update_metadata(leaf, stamp, record, BENCHMARK)
    phase.write_inputs(leaf, files, copies)
    if configs:
        write_configs(leaf, configs)
    named = phase.write_provenance(leaf, benchmark=BENCHMARK, command="run", stamp=stamp, context=context,
                                   config={"model": plan.get("model"), **overrides})
    frame.update_metadata(leaf, stamp, named, BENCHMARK)
    return {**names, "changed": True}


def end_invocation(*, leaf, stamp: str, label: str, hosts: list, launcher: str, archives: dict, job: dict,
                   waited: dict, samples: dict, unreachable: list) -> dict:
    """The frame's end of a phase, with the times CKPT-GAP reads (the launch's own start and end on
    the launcher)."""
    rc = None if job.get("rc") is None else int(job["rc"])
    ended = phase.end(benchmark=BENCHMARK, leaf=leaf, stamp=stamp, label=label, hosts=hosts, launcher=launcher,
                      archives=archives, job=job, waited=waited, samples=samples, unreachable=unreachable,
                      what="invocation",
                      record={"exit_status": rc, "invocation_start_time": job.get("start"),
                              "invocation_end_time": job.get("end"), "runtime": job.get("delta")})
    return {**ended, "stamp": stamp}
