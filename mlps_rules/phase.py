"""One DLIO invocation of a training campaign (datagen or one run), controller side: the leaf, the
exact command lines and the `running` record before the launch; the outputs, the status and the
failure record after it.

Two calls per phase (start and end) instead of a dozen tasks keep the orchestration cost per run
low (benchmarks/bench_training.py). Pure Python: the mlps_campaign action plugin calls it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlps_module_utils.mlps_mpirun import MpirunError, build_argv, placement
from mlps_rules import campaign
from mlps_rules.errors import UserError

# Where each part of a client's staging folder lands in the leaf (see extract).
DLIO_PART, SERIES_PART = "dlio", "timeseries"


def label(command: str, index: int, runs: int) -> str:
    if command == "datagen":
        return "datagen"
    return f"run {index}/{runs}" + (" (warm-up)" if index == 1 else "")


def series_dir(stamp: str) -> str:
    return f"{campaign.BENCHMARK}_{stamp}_timeseries"


def start(*, workload_dir, command: str, index: int, runs: int, staging_dir: str, dlio: dict, mpi: dict,
          context: dict, files: dict, copies: dict, check: bool = False) -> dict:
    """Allocate the leaf, build DLIO's and mpirun's argv, and record the leaf as running.

    dlio: the keyword arguments of campaign.dlio_command except output_folder.
    mpi: mpirun, implementation, np, hosts, as_root, rsh_agent, prefix, mca, env (names).
    context: the campaign-wide part of the metadata (plan, versions, inventory, args...).
    """
    if check:
        stamp = "YYYYMMDD_HHMMSS"
        leaf = Path(workload_dir) / command / stamp
    else:
        leaf, stamp = campaign.allocate_leaf(Path(workload_dir), command)
    stage = f"{staging_dir}/{command}-{stamp}"
    prefix = f"{campaign.BENCHMARK}_{command}"
    dlio_argv, overrides = campaign.dlio_command(**dlio, output_folder=f"{stage}/{DLIO_PART}")
    try:
        argv = build_argv(dlio_argv, mpi["np"], mpi["hosts"], mpirun=mpi["mpirun"],
                          implementation=mpi["implementation"], as_root=mpi["as_root"],
                          mca={str(k): str(v) for k, v in (mpi.get("mca") or {}).items()},
                          env=sorted(mpi.get("env") or []), rsh_agent=mpi.get("rsh_agent"),
                          prefix=mpi.get("prefix"))
        slots = placement(mpi["np"], mpi["hosts"])
    except MpirunError as exc:
        raise UserError(f"cannot build the mpirun command: {exc}") from exc
    names = {
        "leaf": str(leaf), "stamp": stamp, "stage": stage, "label": label(command, index, runs),
        "prefix": prefix, "metadata_file": campaign.metadata_name(stamp), "dlio_argv": dlio_argv,
        "overrides": overrides, "cmd": argv, "placement": [list(pair) for pair in slots],
        "lease": f"{stage}/lease", "stop": f"{stage}/stop", "marker": f"{stage}/{DLIO_PART}",
        "series": f"{stage}/{SERIES_PART}", "log": f"{stage}/{DLIO_PART}/dlio.log",
        "stdout": f"{stage}/{DLIO_PART}/{prefix}.stdout.log", "stderr": f"{stage}/{DLIO_PART}/{prefix}.stderr.log",
    }
    if check:
        return {**names, "changed": False}
    for name, content in files.items():
        campaign.write_json_atomic(leaf / campaign.check_name("file name", name), content)
    for name, source in copies.items():
        if source and Path(source).is_file():
            shutil.copyfile(source, leaf / campaign.check_name("file name", name))
    record = {
        **context,
        "benchmark": campaign.BENCHMARK, "command": command, "timestamp": stamp, "run_index": index,
        "warmup": command == "run" and index == 1, "status": "running", "started_at": campaign.utc_now(),
        "ranks_per_host": dict(slots), "override_parameters": overrides, "extra_overrides": dlio.get("extra", {}),
        "argv": argv, "dlio_argv": dlio_argv,
        "timeseries": series_dir(stamp), "stdout_log": f"{prefix}.stdout.log", "stderr_log": f"{prefix}.stderr.log",
        "cluster_info": "cluster_info.json" if "cluster_info.json" in copies else None,
    }
    campaign.update_metadata(leaf, stamp, record)
    return {**names, "changed": True}


def extract(archives: list, leaf, stamp: str) -> tuple[list[str], dict]:
    """Unpack the clients' staging archives ((host, path) pairs) into the leaf: `dlio/...` at the
    leaf's root and `timeseries/<host>.jsonl` in its time-series folder (the launcher's archive
    given last wins). Returns the files written and {host: reason} for archives refused."""
    return campaign.extract_outputs(archives, leaf, routes={DLIO_PART: ".", SERIES_PART: series_dir(stamp)})


def collect(leaf: Path, hosts: list, launcher: str, archives: dict, unpack) -> tuple[list[str], dict]:
    """Unpack every host's archive with `unpack` (launcher last); the fetched archives never stay
    in the leaf, whatever happens, so a leaf never keeps a client's `.incoming-*` file."""
    order = [h for h in hosts if h != launcher and h in archives] + ([launcher] if launcher in archives else [])
    try:
        return unpack([(h, archives[h]) for h in order], leaf)
    finally:
        for path in [*archives.values(), *leaf.glob(".incoming-*")]:
            Path(path).unlink(missing_ok=True)


def refusal_failure(status: str, refused: dict, record: dict) -> str:
    """Record refused archives; a phase whose outputs were refused cannot count as completed."""
    if refused:
        record["refused_archives"] = refused
        if status == "completed":
            return "failed"
    return status


def _number(value):
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def status_of(job: dict) -> str:
    if not job:
        return "failed"
    if job.get("interrupted"):
        return "interrupted"
    if job.get("timed_out"):
        return "timed_out"
    if job.get("rc") == 0 and not job.get("failed"):
        return "completed"
    return "failed"


def end(*, leaf, stamp: str, phase_label: str, hosts: list, launcher: str, archives: dict, job: dict,
        waited: dict, samples: dict, drop_evidence: dict, unreachable: list) -> dict:
    """Collect what the clients sent, decide the status and write it; the failure names host and phase."""
    leaf = Path(leaf)
    files, refused = collect(leaf, hosts, launcher, archives, lambda pairs, into: extract(pairs, into, stamp))
    status = status_of(job)
    missing = [h for h in hosts if h not in archives]
    record = {
        "status": status, "ended_at": campaign.utc_now(), "message": job.get("msg", ""),
        "rc": None if job.get("rc") is None else int(job["rc"]),
        "timings": {"mpirun_start": job.get("start"), "mpirun_end": job.get("end"),
                    "mpirun_seconds": _number(job.get("delta")), "waited_seconds": _number(waited.get("waited"))},
        "progress": waited.get("progress", {}),
        "timeseries_hosts": {h: samples.get(h, 0) for h in hosts},
        "drop_caches": "drop_caches.json" if drop_evidence else "not dropped",
    }
    if missing:
        record["missing_hosts"] = missing
    launched = status
    status = record["status"] = refusal_failure(status, refused, record)
    if status != "completed":
        lost = list(job.get("lost_hosts") or []) or [h for h in unreachable if h in hosts]
        culprit = lost or (sorted(refused) if launched == "completed" else [launcher])
        reason = ("; ".join(refused[h] for h in sorted(refused)) if launched == "completed"
                  else job.get("msg") or waited.get("msg") or "no message")
        record["failure"] = {"phase": phase_label, "hosts": culprit, "lost_hosts": lost, "reason": reason}
        record["message"] = (f"{phase_label} {status} on {', '.join(culprit)}"
                             f"{' (host lost during the run)' if lost else ''}: {reason}")
    if drop_evidence:
        campaign.write_json_atomic(leaf / "drop_caches.json", {"version": 1, "hosts": drop_evidence})
    campaign.update_metadata(leaf, stamp, record)
    return {"leaf": str(leaf), "status": status, "message": record["message"], "files": files,
            "missing_hosts": missing}
