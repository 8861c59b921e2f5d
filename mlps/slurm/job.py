"""A campaign as a Slurm batch job: the job folder, its batch script, sbatch's argv, and the job's
record (scontrol and sacct) written beside the results.

The batch script is fixed text: the playbook and every ansible-playbook argument reach it as its
own arguments ("$@"), the paths it needs as environment variables, so no shell line is ever built
from a value the user gave."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from mlps import inputs
from mlps.errors import UserError
from mlps.jsonio import ReadError, parse_yaml, write_json_atomic, write_text_atomic

RECORD_SCHEMA = "mlps-slurm-job/1"
INVENTORY_NAME = "allocation.mlps_slurm.yml"
SCRIPT_NAME = "job.sh"
RECORD_NAME = "slurm_job.json"
OUTPUT_LIMIT = 256 * 1024            # bytes of scontrol/sacct output kept
COMMAND_TIMEOUT = 60
SACCT_FIELDS = "JobID,JobName,State,ExitCode,Elapsed,Start,End,NodeList,AllocCPUS,AllocNodes,MaxRSS,MaxDiskRead," \
               "MaxDiskWrite"
# sacct -c reads the job completion log (JobCompType=jobcomp/filetxt) where there is no accounting
# storage (slurmdbd); it knows fewer fields
COMPLETION_FIELDS = "JobID,JobName,State,Elapsed,Start,End,NodeList"
_TIME = re.compile(r"^(?:\d+-)?\d{1,3}(?::\d{1,2}){0,2}$|^UNLIMITED$", re.IGNORECASE)
_JOB_ID = re.compile(r"^[0-9]{1,12}$")

# Runs on the job's first node. A TERM (scancel) reaches ansible-playbook too, which ends the
# campaign as Ctrl-C does; the trap only keeps this shell alive until then, so the record is written.
BATCH_SCRIPT = """#!/usr/bin/env bash
# An mlps campaign as a Slurm job (written by `mlps slurm submit`): ansible-playbook runs on the
# job's first node with the allocation as its inventory; the job's record is written when it ends.
set -u
trap 'echo "mlps: the job was signalled; the campaign stops as after Ctrl-C" >&2' TERM INT
"$MLPS_ANSIBLE_PLAYBOOK" -i "$MLPS_SLURM_JOB_DIR/allocation.mlps_slurm.yml" "$@"
rc=$?
"$MLPS_CLI" slurm record --job "$SLURM_JOB_ID" --into "$MLPS_SLURM_JOB_DIR" --rc "$rc"
exit "$rc"
"""


def check_request(playbook: Path, nodes: int, partition: str | None, time_limit: str | None,
                  account: str | None) -> None:
    """Every problem with the request, before anything is written or submitted."""
    if not playbook.is_file():
        raise UserError(f"playbook {playbook}: no such file; give a playbook such as playbooks/run_training.yml")
    if nodes < 1:
        raise UserError(f"--nodes {nodes}: expected a whole number of nodes, at least 1")
    for name, value in (("--partition", partition), ("--account", account)):
        problem = value and inputs.check_plain_name(name, value)
        if problem:
            raise UserError(problem)
    if time_limit and not _TIME.match(time_limit):
        raise UserError(f"--time {time_limit!r}: expected a Slurm time limit such as 30, 1:30:00 or 2-00:00:00")


def make_job_dir(results_dir: Path, playbook: Path) -> Path:
    """<results>/slurm/<UTC stamp>-<playbook>/, new: an existing folder is never reused."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    base = results_dir / "slurm"
    base.mkdir(parents=True, exist_ok=True)
    for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
        folder = base / f"{stamp}-{playbook.stem}{suffix}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise UserError(f"{base}: 99 job folders for {stamp} exist already; wait a second and submit again")


def inventory_text(inventory_config: Path | None) -> str:
    """The allocation's inventory: the user's mlps_slurm plugin file, or the plain default."""
    if not inventory_config:
        return "plugin: mlps_slurm\n"
    try:
        text = inventory_config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--inventory-config {inventory_config}: {getattr(exc, 'strerror', None) or exc}; give a "
                        "readable mlps_slurm inventory file") from exc
    try:
        document = parse_yaml(text, str(inventory_config))
    except ReadError:
        document = None
    if not isinstance(document, dict) or document.get("plugin") != "mlps_slurm":
        raise UserError(f"--inventory-config {inventory_config}: expected a YAML mapping with "
                        "`plugin: mlps_slurm`; see the README's Slurm section")
    return text


def write_job_files(job_dir: Path, inventory: str) -> None:
    """The batch script and the allocation's inventory."""
    write_text_atomic(job_dir / SCRIPT_NAME, BATCH_SCRIPT)  # sbatch reads it: no exec bit needed
    write_text_atomic(job_dir / INVENTORY_NAME, inventory)


def sbatch_argv(*, sbatch: str, job_dir: Path, workdir: Path, playbook: Path, nodes: int, partition: str | None,
                time_limit: str | None, account: str | None, wait: bool, sbatch_args: list[str],
                playbook_args: list[str]) -> list[str]:
    argv = [sbatch, "--parsable", "--job-name", f"mlps-{playbook.stem}", "--nodes", str(nodes),
            "--output", str(job_dir / "slurm-%j.out"), "--chdir", str(workdir)]
    for flag, value in (("--partition", partition), ("--time", time_limit), ("--account", account)):
        if value:
            argv += [flag, value]
    if wait:
        argv.append("--wait")
    return [*argv, *sbatch_args, str(job_dir / SCRIPT_NAME), str(playbook), *playbook_args]


def job_environment(job_dir: Path, bin_dir: Path, workdir: Path) -> dict:
    """What the batch script reads (sbatch hands its whole environment to the job)."""
    return dict(os.environ, MLPS_SLURM_JOB_DIR=str(job_dir), MLPS_ANSIBLE_PLAYBOOK=str(bin_dir / "ansible-playbook"),
                MLPS_CLI=str(bin_dir / "mlps"), ANSIBLE_CONFIG=str(workdir / "ansible.cfg"))


def submit(argv: list[str], env: dict) -> tuple[str, int]:
    """(job id, sbatch's exit code): with --wait the code is the job's."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise UserError(f"cannot run {argv[0]}: {exc.strerror}; install Slurm's client commands (slurm-client) "
                        "or give --sbatch PATH", exit_code=4) from exc
    job = proc.stdout.strip().split(";")[0].splitlines()[0] if proc.stdout.strip() else ""
    if not _JOB_ID.match(job):
        said = (proc.stderr.strip() or proc.stdout.strip() or "nothing").splitlines()[-1][:300]
        raise UserError(f"sbatch did not submit the job: {said}; check the partition, time and node count",
                        exit_code=4)
    return job, proc.returncode


def _run(argv: list[str]) -> tuple[int | None, str]:
    """(exit code, bounded output) of a Slurm query; (None, why) when it could not run."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr)[:OUTPUT_LIMIT]


def parse_scontrol(text: str) -> dict:
    """`scontrol show job -o` (one line of Key=Value words) as a dict; values with spaces keep only
    their first word, which none of the recorded fields has."""
    fields = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep and key and key not in fields:
            fields[key] = value
    return fields


def parse_sacct(text: str, fields: str = SACCT_FIELDS) -> list[dict]:
    names = fields.split(",")
    rows = [line.split("|") for line in text.splitlines() if line.count("|") == len(names) - 1]
    return [dict(zip(names, row, strict=True)) for row in rows]


def record(job: str, into: Path, rc: int | None, name: str = RECORD_NAME) -> Path:
    """scontrol's view and sacct's accounting of `job`, written once into `into`."""
    if not _JOB_ID.match(str(job)):
        raise UserError(f"--job {job!r}: expected a Slurm job id (digits)")
    target = into / name
    if target.exists():
        raise UserError(f"{target} exists already; the record of a job is written once")
    scontrol_rc, scontrol = _run([shutil.which("scontrol") or "scontrol", "show", "job", "-o", job])
    sacct_cmd = [shutil.which("sacct") or "sacct", "-j", job, "--parsable2", "--noheader"]
    fields = SACCT_FIELDS
    sacct_rc, sacct = _run([*sacct_cmd, f"--format={fields}"])
    if sacct_rc != 0:   # no accounting storage: the completion log, where Slurm keeps one
        fields = COMPLETION_FIELDS
        completion_rc, completion = _run([*sacct_cmd, "--completion", f"--format={fields}"])
        if completion_rc == 0:
            sacct_rc, sacct = completion_rc, completion
    document = {"schema": RECORD_SCHEMA, "job_id": job, "playbook_rc": rc,
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "scontrol": parse_scontrol(scontrol) if scontrol_rc == 0 else {"error": scontrol.strip()[:500]},
                "sacct": parse_sacct(sacct, fields) if sacct_rc == 0 else {"error": sacct.strip()[:500]}}
    return write_json_atomic(target, document)
