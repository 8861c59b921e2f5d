"""The benchmark frame, launch side: one phase of any campaign (an mpirun launch of a benchmark's
command), from its leaf and staging names to the status and failure record after it.

A benchmark builds its own command line and its own `running` record; everything else is here:
the staging folder (unique per campaign, so two campaigns never share one), the files the launch
and the clients use in it, the mpirun argv, the inputs copied into the leaf, unpacking what the
clients sent, the status, and the failure record that names the phase, the host(s) and the reason.
Two controller calls per phase (start and end) keep the orchestration cost per run low
(benchmarks/bench_training.py).
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from mlps import inputs
from mlps.campaign import archive_intake, frame, provenance
from mlps.errors import UserError
from mlps.natural_order import natural_sorted
from mlps_module_utils.mlps_mpirun import MpirunError, build_argv, placement

# Where each part of a client's staging folder lands in the leaf: the benchmark's own outputs at
# the leaf's root, the time series in the leaf's series folder.
OUTPUT_PART, SERIES_PART = "dlio", "timeseries"
CHECK_STAMP = "YYYYMMDD_HHMMSS"


def series_dir(benchmark: str, stamp: str) -> str:
    return f"{benchmark}_{stamp}_timeseries"


def open_leaf(workload, command: str | None, check: bool) -> tuple[Path, str]:
    """A new leaf (nothing is created in check mode: the names are shown with a placeholder stamp)."""
    if check:
        base = Path(workload) / command if command else Path(workload)
        return base / CHECK_STAMP, CHECK_STAMP
    return frame.allocate_leaf(Path(workload), command)


def stage_names(staging_dir: str, name: str, stamp: str, log_prefix: str) -> dict:
    """The phase's staging folder on the clients and the files the launch and the samplers use in it.

    A random part beside the stamp: two campaigns started in the same second (other results trees,
    same staging folder) never share a stage."""
    stage = f"{staging_dir}/{frame.check_name('phase name', name)}-{stamp}-{secrets.token_hex(4)}"
    output = f"{stage}/{OUTPUT_PART}"
    return {"stage": stage, "lease": f"{stage}/lease", "stop": f"{stage}/stop", "marker": output,
            "output": output, "series": f"{stage}/{SERIES_PART}", "log": f"{output}/dlio.log",
            "stdout": f"{output}/{log_prefix}.stdout.log", "stderr": f"{output}/{log_prefix}.stderr.log"}


def mpirun_command(rank_argv: list, np: int, mpi: dict) -> tuple[list, list]:
    """(mpirun argv, [(host, ranks)]) for one launch.

    mpi: mpirun, implementation, hosts, as_root, rsh_agent, prefix, mca, env (variable names only),
    launcher (mpirun | srun) and slurm (srun, mpi, job)."""
    slurm = mpi.get("slurm") or {}
    try:
        argv = build_argv(rank_argv, int(np), mpi["hosts"], mpirun=mpi["mpirun"],
                          implementation=mpi["implementation"], as_root=bool(mpi.get("as_root")),
                          mca={str(k): str(v) for k, v in (mpi.get("mca") or {}).items()},
                          env=sorted(mpi.get("env") or []), rsh_agent=mpi.get("rsh_agent"), prefix=mpi.get("prefix"),
                          launcher=mpi.get("launcher") or "mpirun", srun=slurm.get("srun") or "srun",
                          slurm_mpi=slurm.get("mpi") or "auto", slurm_job=slurm.get("job") or None)
        slots = placement(int(np), mpi["hosts"])
    except MpirunError as exc:
        raise UserError(f"cannot build the {mpi.get('launcher') or 'mpirun'} command: {exc}") from exc
    return argv, [list(pair) for pair in slots]


def client_layout(hosts: list, num_processes, npernode, prefix: str) -> tuple[int, int]:
    """(ranks, ranks per host) of a launch across `hosts`: only the process count -> it must split
    evenly; only per-node -> times the hosts; both -> they must agree; neither -> one rank per host.
    `prefix` names the settings in messages (`mlps_kvcache` -> mlps_kvcache_num_processes)."""
    n_hosts = len(hosts)
    np, problem = inputs.whole_number(f"{prefix}_num_processes", num_processes or 0, 0)
    per, problem2 = inputs.whole_number(f"{prefix}_npernode", npernode or 0, 0)
    if problem or problem2:
        raise UserError(problem or problem2)
    if np and per and np != per * n_hosts:
        raise UserError(f"{prefix}_num_processes={np} and {prefix}_npernode={per} disagree on "
                        f"{n_hosts} host(s) ({per} x {n_hosts} = {per * n_hosts}); set one of them")
    if np and not per:
        if np % n_hosts:
            raise UserError(f"{prefix}_num_processes={np} does not split evenly over {n_hosts} host(s); use a "
                            f"multiple of {n_hosts} or set {prefix}_npernode")
        per = np // n_hosts
    per = per or 1
    return per * n_hosts, per


def write_inputs(leaf, files: dict, copies: dict) -> None:
    """Files the controller puts into the leaf before the launch: JSON documents, and copies of
    controller files (facts snapshots, preflight report) under the names given."""
    for name, content in files.items():
        frame.write_json_atomic(Path(leaf) / frame.check_name("file name", name), content)
    for name, source in copies.items():
        if source and Path(source).is_file():
            shutil.copyfile(source, Path(leaf) / frame.check_name("file name", name))


def write_provenance(leaf, *, benchmark: str, command: str, stamp: str, context: dict, config: dict) -> dict:
    """provenance.json into the leaf; returns the metadata field that names it."""
    document = provenance.build(benchmark=benchmark, command=command, stamp=stamp, context=context, config=config)
    frame.write_json_atomic(Path(leaf) / provenance.FILE, document)
    return {"provenance_file": provenance.FILE}


def number(value):
    """A float from a job's text field, or None."""
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


def collect(leaf: Path, hosts: list, launcher: str, archives: dict, routes: dict,
            names=archive_intake.DLIO_OUTPUTS) -> tuple[list[str], dict]:
    """Unpack every host's archive (launcher last); the fetched archives never stay in the leaf,
    whatever happens, so a leaf never keeps a client's `.incoming-*` file."""
    order = [h for h in hosts if h != launcher and h in archives] + ([launcher] if launcher in archives else [])
    try:
        return frame.extract_outputs([(h, archives[h]) for h in order], leaf, routes, names=names)
    finally:
        for path in [*archives.values(), *Path(leaf).glob(".incoming-*")]:
            Path(path).unlink(missing_ok=True)


def end(*, benchmark: str, leaf, stamp: str, label: str, hosts: list, launcher: str, archives: dict, job: dict,
        waited: dict, samples: dict, unreachable: list, record: dict | None = None, what: str = "",
        output_names=archive_intake.DLIO_OUTPUTS, series_sub: str = "", nest: str = "", judge=None) -> dict:
    """Unpack what the clients sent (the launcher's last, so its summary and log win), decide the
    status and write it with the benchmark's own `record` fields; a failure names the host(s) and
    the phase (`what` is said after the label: "invocation" for checkpointing). An archive refused
    on intake fails a phase that otherwise completed, naming the host that sent it.

    A leaf that holds several phases (KV-cache: one run leaf, a phase per trial) passes `nest`: the
    phase's record then goes to `metadata[nest][label]` and the leaf's own status is left to the
    benchmark; `series_sub` keeps each phase's time series in its own folder under the leaf's.
    `judge(record)`, called once the files are in the leaf, returns the benchmark's changes to the
    phase's record (KV-cache: a trial some rank wrote nothing for), so the record is written once."""
    leaf = Path(leaf)
    series = series_dir(benchmark, stamp) + (f"/{series_sub}" if series_sub else "")
    files, refused = collect(leaf, hosts, launcher, archives, routes={OUTPUT_PART: ".", SERIES_PART: series},
                             names=output_names)
    launched = status_of(job)
    status = "failed" if refused and launched == "completed" else launched
    rc = None if job.get("rc") is None else int(job["rc"])
    out = {
        "status": status, "ended_at": frame.utc_now(), "message": job.get("msg", ""), "rc": rc,
        "timings": {"mpirun_start": job.get("start"), "mpirun_end": job.get("end"),
                    "mpirun_seconds": number(job.get("delta")), "waited_seconds": number(waited.get("waited"))},
        "progress": waited.get("progress", {}),
        "timeseries_hosts": {h: samples.get(h, 0) for h in hosts},
        **(record or {}),
    }
    if refused:
        out["refused_archives"] = refused
    missing = [h for h in hosts if h not in archives]
    if missing:
        out["missing_hosts"] = missing
    if status != "completed":
        lost = list(job.get("lost_hosts") or []) or [h for h in unreachable if h in hosts]
        culprit = lost or (natural_sorted(refused) if launched == "completed" else [launcher])
        reason = ("; ".join(refused[h] for h in natural_sorted(refused)) if launched == "completed"
                  else job.get("msg") or waited.get("msg") or "no message")
        out["failure"] = {"phase": label, "hosts": culprit, "lost_hosts": lost, "reason": reason}
        out["message"] = (f"{label}{' ' + what if what else ''} {status} on {', '.join(culprit)}"
                          f"{' (host lost during the run)' if lost else ''}: {reason}")
    if judge is not None:
        out.update(judge(out))
        status = out["status"]
    if nest:
        current = frame.read_metadata(leaf, stamp, benchmark)
        out = {nest: {**(current.get(nest) or {}), label: {**(current.get(nest) or {}).get(label, {}), **out}}}
    frame.update_metadata(leaf, stamp, out, benchmark)
    message = out[nest][label]["message"] if nest else out["message"]
    return {"leaf": str(leaf), "status": status, "message": message, "files": files, "missing_hosts": missing}
