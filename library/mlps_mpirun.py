#!/usr/bin/python
"""Ansible module: launch a command over mpirun from the launcher host, with a hard timeout.

Thin: the argv is built by module_utils/mlps_mpirun.py, the launch is supervised (abort lines,
timeout, lease, host watch, process-group stop) by module_utils/mlps_launch.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_mpirun
short_description: Launch a command on several hosts with mpirun or Slurm's srun
description:
  - Builds the launch argv (mpirun of Open MPI or MPICH, or srun inside a Slurm allocation) from
    the ranks, hosts and options, runs it from this host, and returns the one result shape of mlps
    command modules (cmd, rc, stdout, stderr, start, end, delta).
  - Ranks are split evenly over O(hosts), the remainder going to the first hosts.
  - The whole process group is stopped when O(timeout) passes (SIGTERM, then SIGKILL after
    O(kill_grace) seconds); mpirun then stops the ranks on every host.
  - Output can be streamed to files so long runs can be followed while they go (use with async).
version_added: "0.1.0"
author: mlps developers
options:
  command:
    description: Argv of the program every rank runs.
    type: list
    elements: str
    required: true
  np:
    description: Number of ranks.
    type: int
    required: true
  hosts:
    description: Host names in launch order; the first gets the first ranks.
    type: list
    elements: str
    default: [localhost]
  mpirun:
    description: Path of mpirun (O(launcher=mpirun)).
    type: str
    default: mpirun
  launcher:
    description:
      - How ranks start. C(mpirun) reaches the hosts over its remote shell, or, given O(slurm_job),
        through Slurm (Open MPI C(plm slurm), MPICH C(-launcher slurm)), with the job's variables
        set for it. C(srun) starts them as a step of a Slurm job (all of O(hosts) must be in it),
        through the MPI plugin O(slurm_mpi).
    type: str
    choices: [mpirun, srun]
    default: mpirun
  srun:
    description: Path of srun (O(launcher=srun)).
    type: str
    default: srun
  slurm_mpi:
    description: srun's C(--mpi) plugin; C(auto) is pmix for Open MPI and pmi2 for MPICH.
    type: str
    default: auto
  slurm_job:
    description:
      - The Slurm job whose allocation the ranks run in (srun C(--jobid), or the job mpirun's
        Slurm support launches in); unset, srun's own environment names it and mpirun uses its
        remote shell.
    type: str
  implementation:
    description: MPI implementation of the launcher.
    type: str
    choices: [openmpi, mpich]
    default: openmpi
  as_root:
    description: Pass Open MPI's run-as-root flag; default is to pass it only when running as root.
    type: bool
  oversubscribe:
    description: Allow more ranks than cores on a host.
    type: bool
    default: true
  bind_to:
    description: Binding policy.
    type: str
    default: none
  map_by:
    description: Mapping policy (Open MPI).
    type: str
    default: slot
  mca:
    description: Extra MCA parameters (Open MPI).
    type: dict
    default: {}
  env:
    description:
      - Variables set for the launch and forwarded to every rank. Only their names reach the
        mpirun command line; the values travel in the environment.
    type: dict
    default: {}
  secret_env:
    description:
      - Like O(env), for values that must never be recorded (tokens, passwords) - Ansible hides them
        from every result and log (C(no_log)).
    type: dict
    default: {}
  rsh_agent:
    description: Remote shell command mpirun uses to reach other hosts (for example C(ssh -F /path/ssh_config)).
    type: str
  prefix:
    description: Open MPI install prefix on the remote hosts (the venv when MPI comes from the pip wheel).
    type: str
  extra_args:
    description: More mpirun arguments, placed before the command.
    type: list
    elements: str
    default: []
  chdir:
    description: Working directory for the launch.
    type: path
  timeout:
    description: Seconds before the launch is stopped; 0 means no limit.
    type: int
    default: 0
  kill_grace:
    description: Seconds between SIGTERM and SIGKILL when stopping.
    type: int
    default: 10
  stdout_path:
    description: Write standard output to this file as it comes (the result then holds its tail).
    type: path
  stderr_path:
    description: Write standard error to this file as it comes.
    type: path
  abort_patterns:
    description:
      - Regular expressions watched for in the output files while the launch runs (needs
        O(stdout_path) or O(stderr_path)). When one matches, the whole launch is stopped on every
        host and the task fails naming the line, because one crashed rank otherwise leaves the others
        waiting in a collective until the timeout.
    type: list
    elements: str
    default: []
  lease_file:
    description:
      - A file the controller touches while it follows the launch (see the mlps_training_poll
        module). When it is older than O(lease_timeout) seconds the controller is gone (an
        interrupted ansible-playbook, a lost controller), and the launch is stopped on every host
        instead of running on unwatched. The file is created at the start.
    type: path
  lease_timeout:
    description: Seconds without a touch of O(lease_file) before the launch is stopped.
    type: int
    default: 15
  watch_hosts:
    description:
      - Hosts to check while the launch runs, by running C(true) on each through O(rsh_agent) (or
        ssh) the way mpirun reaches them. A host that fails two checks in a row is lost; the launch
        is then stopped on every other host and the task fails naming it, instead of hanging in a
        collective until the timeout. Not with O(launcher=srun) - Slurm ends a step whose node is
        lost, and SSH between allocated nodes may not be allowed.
    type: list
    elements: str
    default: []
  watch_interval:
    description: Seconds between two checks of every watched host.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Returns the argv it would run and runs nothing.
"""

EXAMPLES = r"""
- name: Say hello from every rank
  mlps_mpirun:
    mpirun: /opt/mlps/venv/bin/mpirun
    np: 4
    hosts: [h1, h2]
    command: [/opt/mlps/venv/bin/python, -c, "import socket; print(socket.gethostname())"]

- name: The same as a step of Slurm job 4242 (run from a node of the allocation)
  mlps_mpirun:
    launcher: srun
    slurm_job: "4242"
    np: 4
    hosts: [node01, node02]
    command: [hostname]
"""

RETURN = r"""
cmd:
  description: The argv that ran (or would run in check mode); an argument over 4 KiB (the facts collector's
    source, which travels in the command) is shown as its size.
  type: list
  elements: str
  returned: always
rc:
  description: Exit code of mpirun (-15/-9 when stopped on timeout).
  type: int
  returned: when run
stdout:
  description: Standard output (last 64 KiB when written to a file).
  type: str
  returned: when run
stderr:
  description: Standard error (last 64 KiB when written to a file).
  type: str
  returned: when run
start:
  description: Start time (UTC).
  type: str
  returned: when run
end:
  description: End time (UTC).
  type: str
  returned: when run
delta:
  description: Wall time in seconds.
  type: float
  returned: when run
aborted_on:
  description: The output line that matched O(abort_patterns), when the launch was stopped for it.
  type: str
  returned: when stopped for a matching line
timed_out:
  description: Whether the launch was stopped by the timeout.
  type: bool
  returned: when run
interrupted:
  description: Whether the launch was stopped because O(lease_file) went stale (the controller left).
  type: bool
  returned: when run
lost_hosts:
  description: Watched hosts that stopped answering; the launch was stopped because of them.
  type: list
  elements: str
  returned: when run
placement:
  description: Ranks per host as [host, ranks] pairs.
  type: list
  returned: always
"""

import contextlib
import datetime
import os
import socket
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.mlps_launch import failure_message, follow, tail
from ansible.module_utils.mlps_mpirun import (
    MpirunError,
    build_argv,
    placement,
    slurm_env,
    slurm_mpi_plugins,
    slurm_plugin,
)
from ansible.module_utils.mlps_safepath import make_folder, replace_file, touch

SHOWN_ARGUMENT = 4096


def _shown(argv: list) -> list:
    """argv for the result: a failed launch prints it, and a source text carried as an argument would
    fill the screen."""
    return [a if len(a) <= SHOWN_ARGUMENT else f"<{len(a.encode())}-byte argument>" for a in argv]


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _slurm_problem(p: dict) -> str:
    """Why srun cannot start these ranks here, found before anything is started: no allocation to
    run in, no srun, or an MPI plugin this Slurm does not have. mpirun in an allocation needs srun
    too (for its daemons), not the plugin."""
    host = socket.gethostname()
    if not p["slurm_job"] and not os.environ.get("SLURM_JOB_ID"):
        return (f"srun needs a Slurm allocation: {host} has no SLURM_JOB_ID and mlps_slurm_job_id is unset; run "
                "the playbook inside salloc or sbatch with the mlps_slurm inventory, or set mlps_slurm_job_id")
    try:
        listed = subprocess.run([p["srun"], "--mpi=list"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {p['srun']} --mpi=list on {host}: {exc}; install Slurm's client commands or set mlps_srun"
    if p["launcher"] == "mpirun":
        return ""
    plugins = slurm_mpi_plugins(listed.stdout + listed.stderr)
    wanted = slurm_plugin(p["implementation"], p["slurm_mpi"])
    if wanted not in plugins:
        return (f"srun on {host} has no MPI plugin {wanted!r} (it lists: {', '.join(sorted(plugins)) or 'none'}); "
                f"set mlps_slurm_mpi to one that {p['implementation']} speaks, or use mlps_launch_with=mpirun")
    return ""


def _launch_env(p: dict, as_root: bool) -> dict:
    """The launcher's environment with the given variables, and what the launch itself needs."""
    env = dict(os.environ, LC_ALL="C", **{str(k): str(v) for k, v in {**p["env"], **p["secret_env"]}.items()})
    if as_root and p["implementation"] == "openmpi":
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if p["launcher"] == "mpirun" and p["slurm_job"]:
        env.update(slurm_env(p["np"], p["hosts"], p["slurm_job"]))
    return env


def main():
    module = AnsibleModule(
        argument_spec={
            "command": {"type": "list", "elements": "str", "required": True},
            "np": {"type": "int", "required": True},
            "hosts": {"type": "list", "elements": "str", "default": ["localhost"]},
            "mpirun": {"type": "str", "default": "mpirun"},
            "launcher": {"type": "str", "choices": ["mpirun", "srun"], "default": "mpirun"},
            "srun": {"type": "str", "default": "srun"},
            "slurm_mpi": {"type": "str", "default": "auto"},
            "slurm_job": {"type": "str"},
            "implementation": {"type": "str", "choices": ["openmpi", "mpich"], "default": "openmpi"},
            "as_root": {"type": "bool"},
            "oversubscribe": {"type": "bool", "default": True},
            "bind_to": {"type": "str", "default": "none"},
            "map_by": {"type": "str", "default": "slot"},
            "mca": {"type": "dict", "default": {}},
            "env": {"type": "dict", "default": {}},
            "secret_env": {"type": "dict", "default": {}, "no_log": True},
            "rsh_agent": {"type": "str"},
            "prefix": {"type": "str"},
            "extra_args": {"type": "list", "elements": "str", "default": []},
            "chdir": {"type": "path"},
            "timeout": {"type": "int", "default": 0},
            "kill_grace": {"type": "int", "default": 10},
            "stdout_path": {"type": "path"},
            "stderr_path": {"type": "path"},
            "abort_patterns": {"type": "list", "elements": "str", "default": []},
            "lease_file": {"type": "path"},
            "lease_timeout": {"type": "int", "default": 15},
            "watch_hosts": {"type": "list", "elements": "str", "default": []},
            "watch_interval": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    as_root = os.geteuid() == 0 if p["as_root"] is None else p["as_root"]
    try:
        argv = build_argv(
            p["command"], p["np"], p["hosts"], mpirun=p["mpirun"], implementation=p["implementation"],
            as_root=as_root, oversubscribe=p["oversubscribe"], bind_to=p["bind_to"], map_by=p["map_by"],
            mca={str(k): str(v) for k, v in p["mca"].items()}, env=sorted(set(p["env"]) | set(p["secret_env"])),
            rsh_agent=p["rsh_agent"],
            prefix=p["prefix"], extra_args=p["extra_args"], launcher=p["launcher"], srun=p["srun"],
            slurm_mpi=p["slurm_mpi"], slurm_job=p["slurm_job"],
        )
        slots = [list(pair) for pair in placement(p["np"], p["hosts"])]
    except MpirunError as exc:
        module.fail_json(msg=f"cannot build the {p['launcher']} command: {exc}")
    if module.check_mode:
        module.exit_json(changed=False, cmd=_shown(argv), placement=slots)
    through_slurm = p["launcher"] == "srun" or bool(p["slurm_job"])
    if through_slurm:
        problem = _slurm_problem(p)
        if problem:
            module.fail_json(msg=problem, cmd=_shown(argv), placement=slots)

    env = _launch_env(p, as_root)
    # Root writes here on hosts other people log into: folders checked from / down, files never
    # opened through a link (module_utils/mlps_safepath.py).
    try:
        for folder in {p["chdir"], *(os.path.dirname(x) for x in (p["stdout_path"], p["stderr_path"]) if x)} - {None}:
            make_folder(os.path.abspath(folder))
        if p["lease_file"]:
            touch(os.path.abspath(p["lease_file"]))
        with contextlib.ExitStack() as opening:
            outputs = [opening.enter_context(os.fdopen(replace_file(os.path.abspath(x)), "wb")) if x
                       else subprocess.PIPE for x in (p["stdout_path"], p["stderr_path"])]
            opening.pop_all()
    except OSError as exc:
        module.fail_json(msg=f"cannot prepare the launch folder: {exc.strerror or exc}", cmd=_shown(argv))
    start, started = _now(), time.monotonic()
    with contextlib.ExitStack() as files:
        out, err = (files.enter_context(x) if x is not subprocess.PIPE else x for x in outputs)
        try:
            # A new session makes mpirun and everything it starts one process group we can stop.
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=p["chdir"],
                                    env=env, start_new_session=True)
        except OSError as exc:
            hint = ("check the venv (playbooks/setup.yml)" if p["launcher"] == "mpirun"
                    else "install Slurm's client commands on the launcher or set mlps_srun")
            module.fail_json(msg=f"cannot start {argv[0]}: {exc}; {hint}", cmd=_shown(argv))
        stdout, stderr, why = follow(
            proc, output_paths=(p["stdout_path"], p["stderr_path"]), abort_patterns=p["abort_patterns"],
            timeout=p["timeout"], started=started, lease_file=p["lease_file"], lease_timeout=p["lease_timeout"],
            # through Slurm, Slurm watches its nodes (a lost node ends the step), and SSH between
            # allocated nodes may be barred: no watch of our own
            watch_hosts=[] if through_slurm else p["watch_hosts"], rsh_agent=p["rsh_agent"],
            watch_interval=p["watch_interval"],
            kill_grace=p["kill_grace"])
    end = _now()
    kind, detail = why or (None, None)
    result = {
        "changed": True, "cmd": _shown(argv), "rc": proc.returncode, "placement": slots, "timed_out": kind == "timeout",
        "interrupted": kind == "interrupted", "lost_hosts": detail if kind == "lost" else [],
        "start": start.isoformat(), "end": end.isoformat(), "delta": round(time.monotonic() - started, 3),
        "stdout": tail(p["stdout_path"]) if p["stdout_path"] else stdout.decode("utf-8", "replace"),
        "stderr": tail(p["stderr_path"]) if p["stderr_path"] else stderr.decode("utf-8", "replace"),
    }
    if kind == "abort":
        result["aborted_on"] = detail
    if kind:
        module.fail_json(msg=failure_message(kind, detail, p["lease_file"]), **result)
    if proc.returncode != 0:
        last = (result["stderr"].strip().splitlines() or result["stdout"].strip().splitlines() or ["no output"])[-1]
        module.fail_json(msg=f"{p['launcher']} exited with {proc.returncode}: {last[:300]}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
