#!/usr/bin/python
"""Ansible module: start, check or stop the BenchFS daemons of one run (module_utils/mlps_benchfs_daemon.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_benchfs_daemon
short_description: Start, watch and stop BenchFS daemons (benchfsd_mpi) under mpirun
description:
  - Runs module_utils/mlps_benchfs_daemon.py (copied to every server host at the same path) with the
    host's Python.
  - V(start), on the daemons' launcher, removes the registry's stale C(node_*) files, starts the daemons
    under O(mpirun_argv) in their own session with one log per rank, and returns once every rank has
    registered its C(node_<rank>.addr) and mpirun still runs, after O(settle) seconds more; it fails at
    once, with the ranks' last log lines, when mpirun dies first, and stops what it started.
  - V(term), on every server host, sends SIGTERM to the run's daemons there (found by the run id in
    their environment). V(stop), on the launcher, waits up to O(timeout) for mpirun and its daemons to
    end, then sends SIGTERM to mpirun and SIGKILL to what is left; it reports which ranks' logs lack the
    shutdown line. V(reap), on every server host, kills what is left of the run there and says what.
version_added: "0.1.0"
author: mlps developers
options:
  op: {description: What to do., type: str, required: true, choices: [start, stop, status, term, reap]}
  script: {description: The copied mlps_benchfs_daemon.py on the host., type: path, required: true}
  python: {description: "The Python that runs the script (default: this module's).", type: str}
  state_file: {description: "Where start records the job (stop and status read it).", type: path}
  run_id: {description: "The run's id, in every daemon's environment (start, term, reap).", type: str}
  np: {description: Daemon ranks in all (start)., type: int}
  daemon: {description: "benchfsd_mpi's path on the server hosts (start).", type: path}
  registry: {description: "The registry folder every server and client sees (start).", type: path}
  config: {description: "The rendered TOML on every server host (start).", type: path}
  logs: {description: "The folder for rank_<N>.log and mpirun.log (start).", type: path}
  mpirun_argv: {description: "mpirun and its options, without the command (start).", type: list, elements: str}
  ready_timeout: {description: Seconds to wait for every rank to register (start)., type: float, default: 60}
  settle: {description: Seconds to wait once every rank registered (start)., type: float, default: 10}
  timeout: {description: "Seconds before SIGKILL (stop, reap).", type: float, default: 30}
  shutdown_pattern:
    description: "The regular expression of a rank's shutdown line in its log (stop)."
    type: str
    default: "(?i)shutdown complete"
attributes:
  check_mode:
    support: partial
    description: status runs; the others report the command they would run and change nothing.
"""

EXAMPLES = r"""
- name: Start 4 daemons on two hosts
  mlps_benchfs_daemon:
    op: start
    script: /var/tmp/mlps/benchfs/mlps_benchfs_daemon.py
    state_file: /var/tmp/mlps/benchfs/run-1/daemon.json
    run_id: run-1
    np: 4
    daemon: /opt/benchfs/bin/benchfsd_mpi
    registry: /shared/benchfs/registry
    config: /var/tmp/mlps/benchfs/run-1/benchfs.toml
    logs: /var/tmp/mlps/benchfs/run-1
    mpirun_argv: [mpirun, -np, "4", --host, "s1:2,s2:2"]
"""

RETURN = r"""
daemons: {description: "What the script printed (state, stop or reap result).", type: dict, returned: always}
cmd: {description: The script's argv., type: list, elements: str, returned: always}
"""

import json
import sys

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True, "choices": ["start", "stop", "status", "term", "reap"]},
    "script": {"type": "path", "required": True},
    "python": {"type": "str"},
    "state_file": {"type": "path"},
    "run_id": {"type": "str"},
    "np": {"type": "int"},
    "daemon": {"type": "path"},
    "registry": {"type": "path"},
    "config": {"type": "path"},
    "logs": {"type": "path"},
    "mpirun_argv": {"type": "list", "elements": "str"},
    "ready_timeout": {"type": "float", "default": 60},
    "settle": {"type": "float", "default": 10},
    "timeout": {"type": "float", "default": 30},
    "shutdown_pattern": {"type": "str", "default": "(?i)shutdown complete"},
}
REQUIRED_IF = [
    ("op", "start", ("state_file", "run_id", "np", "daemon", "registry", "config", "logs", "mpirun_argv")),
    ("op", "stop", ("state_file",)), ("op", "status", ("state_file",)), ("op", "term", ("run_id",)),
    ("op", "reap", ("run_id",)),
]


def argv_of(p: dict) -> list:
    argv = [p["python"] or sys.executable, p["script"], p["op"]]
    if p["op"] == "start":
        argv += ["--state", p["state_file"], "--run-id", p["run_id"], "--np", str(p["np"]), "--daemon", p["daemon"],
                 "--registry", p["registry"], "--config", p["config"], "--logs", p["logs"], "--ready-timeout",
                 str(p["ready_timeout"]), "--settle", str(p["settle"]), "--stop-timeout", str(p["timeout"]),
                 "--rank-python", p["python"] or sys.executable, "--", *p["mpirun_argv"]]
    elif p["op"] in ("stop", "status"):
        argv += ["--state", p["state_file"]]
        if p["op"] == "stop":
            argv += ["--timeout", str(p["timeout"]), "--shutdown-pattern", p["shutdown_pattern"]]
    else:
        argv += ["--run-id", p["run_id"]] + (["--timeout", str(p["timeout"])] if p["op"] == "reap" else [])
    return argv


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_if=REQUIRED_IF)
    p = module.params
    argv = argv_of(p)
    if module.check_mode and p["op"] != "status":
        module.exit_json(changed=False, daemons={}, cmd=argv)
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
    try:
        result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except ValueError:
        result = {}
    if rc != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        module.fail_json(msg=f"BenchFS daemons {p['op']} failed on this host: {last}", rc=rc, daemons=result,
                         cmd=argv)
    module.exit_json(changed=p["op"] not in ("status",), daemons=result, cmd=argv)


if __name__ == "__main__":
    main()
