#!/usr/bin/env python3
"""Start, watch and stop the BenchFS daemons (`benchfsd_mpi`) of one job under mpirun.

On the launcher: `start --state F --run-id ID --np N --daemon BIN --registry DIR --config TOML --logs DIR
[--ready-timeout S --settle S --stop-timeout S] -- MPIRUN...`, `status --state F`, `stop --state F
[--timeout S --shutdown-pattern RE]`. On every server host: `term --run-id ID`, `reap --run-id ID
[--timeout S]`, and `rank ...`, which mpirun runs for each rank.

Each rank registers `<registry>/node_<rank>.addr` and never removes it, so `start` first removes the
registry's `node_*` files (a failed rank leaves stale ones). The `rank` step sends the rank's output to
`<logs>/rank_<rank>.log`, exports BENCHFS_CONFIG (the daemon's runtime settings; its server settings
come from the positional argument) and MLPS_BENCHFS_RUN=<run id>, the mark by which `term` and `reap`
find the job's daemons on a host, and execs the daemon (same pid). Ready = one `node_*.addr` per rank
AND mpirun still runs: when it dies, `start` fails at once with the rank logs' last lines.

Stopping: `term` on every server host sends SIGTERM to the job's daemons there; `stop` on the launcher
does the same for its own, waits up to --timeout for mpirun and them to end, then SIGTERMs mpirun and
SIGKILLs its group and this host's daemons; `reap` on every server host SIGKILLs what is left there.
mpirun may exit non-zero after a requested stop: not a failure; what counts is that nothing is left
and every rank logged its shutdown.

`start` writes and prints the state file (schema, pid, pgid, run_id, np, registry, logs, argv,
ready_seconds, ...). Nothing here deletes a folder. Exit codes: 0 ok, 1 failed (one line on stderr;
what start launched is stopped), 2 bad input. Pure stdlib, Python 3.8 syntax.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

PROG = "mlps_benchfs_daemon"
STATE_SCHEMA = "mlps-benchfs-daemon/1"
RUN_MARK = "MLPS_BENCHFS_RUN"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT_SHUTDOWN = r"(?i)shutdown complete"


class UsageError(Exception):
    """Something the user can fix: one line, exit 2."""


class StartError(Exception):
    """The daemons did not become ready: one line, exit 1."""


def proc_row(pid: int):
    """(ppid, pgid, start ticks) of a live (not zombie) process, else None."""
    try:
        with open("/proc/{}/stat".format(pid), "rb") as handle:
            text = handle.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2]), int(fields[19])


def marked(run_id: str) -> list:
    """Pids of this host's processes that carry the job's mark in their environment."""
    needle = "{}={}".format(RUN_MARK, run_id).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/{}/environ".format(name), "rb") as handle:
                env = handle.read(1 << 20).split(b"\0")
        except OSError:
            continue
        if needle in env and proc_row(int(name)) is not None:
            found.append(int(name))
    return sorted(found)


def group(pgid: int) -> list:
    out = []
    for name in os.listdir("/proc"):
        row = proc_row(int(name)) if name.isdigit() else None
        if row is not None and row[1] == pgid:
            out.append(int(name))
    return sorted(out)


def signal_all(pids, signum) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


def tail_lines(path: str, lines: int = 2) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[-300:] or "(empty)"


def rank_logs(logs: str, np: int) -> str:
    """One line naming every rank's last log lines (the logs visible on this host)."""
    parts = []
    for rank in range(np):
        path = os.path.join(logs, "rank_{}.log".format(rank))
        if os.path.exists(path):
            parts.append("rank {}: {}".format(rank, tail_lines(path)))
    parts.append("mpirun: {}".format(tail_lines(os.path.join(logs, "mpirun.log"))))
    return "; ".join(parts)[-1500:]


def registered(registry: str) -> list:
    try:
        names = os.listdir(registry)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith("node_") and n.endswith(".addr"))


def wipe_registry(registry: str) -> list:
    """Remove the registry's node_* files (regular files only: never a folder, never a link's target)."""
    removed = []
    for name in sorted(os.listdir(registry)):
        path = os.path.join(registry, name)
        if name.startswith("node_") and (os.path.islink(path) or os.path.isfile(path)):
            os.unlink(path)
            removed.append(name)
    return removed


def write_json_atomic(path: str, data: dict) -> None:
    tmp = "{}.tmp{}".format(path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_state(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(1 << 20).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError("--state {}: no such file; give the state file `start` wrote".format(path)) from None
    except (OSError, ValueError) as exc:
        raise UsageError("--state {}: not readable ({}); give the file `start` wrote".format(path, exc)) from None
    if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA:
        raise UsageError("--state {}: not a {} state file; give the file `start` wrote".format(path, PROG))
    return data


def alive(state: dict) -> bool:
    row = proc_row(state.get("pid", -1)) if isinstance(state.get("pid"), int) else None
    return row is not None and row[2] == state.get("pid_start_ticks")


def shutdown_logged(logs: str, np: int, pattern: str) -> dict:
    """rank -> whether its log (when this host sees it) has the daemon's shutdown line."""
    regex = re.compile(pattern)
    seen = {}
    for rank in range(np):
        path = os.path.join(logs, "rank_{}.log".format(rank))
        if os.path.exists(path):
            seen[str(rank)] = bool(regex.search(tail_lines(path, 50)))
    return seen


def check_run_id(run_id: str) -> None:
    if not _RUN_ID.match(run_id):
        raise UsageError("--run-id {!r}: use 1-64 letters, digits, '.', '_' or '-'".format(run_id))


# --- subcommands ----------------------------------------------------------------------------------
def cmd_start(args) -> dict:
    check_run_id(args.run_id)
    if args.np < 1:
        raise UsageError("--np {}: must be at least 1 rank".format(args.np))
    if args.ready_timeout <= 0 or args.settle < 0:
        raise UsageError("--ready-timeout must be > 0 and --settle >= 0 seconds")
    if not args.mpirun:
        raise UsageError("no mpirun command after --; give the mpirun argv that places the ranks")
    for name, path in (("--daemon", args.daemon), ("--config", args.config)):
        if not os.path.isfile(path):
            raise UsageError("{} {}: no such file; give the path on the server hosts".format(name, path))
    if not os.path.isdir(args.registry):
        raise UsageError("--registry {}: not a folder; create it on a filesystem every host sees".format(
            args.registry))
    if shutil.which(args.mpirun[0]) is None:
        raise UsageError("mpirun {}: not found or not executable; give the launcher's mpirun".format(args.mpirun[0]))
    earlier = None
    if os.path.exists(args.state):
        with contextlib.suppress(UsageError):
            earlier = read_state(args.state)
    if earlier and alive(earlier):
        raise UsageError("--state {}: its daemons (mpirun pid {}) still run; stop them first".format(
            args.state, earlier["pid"]))
    os.makedirs(args.logs, exist_ok=True)
    wiped = wipe_registry(args.registry)
    rank_argv = [args.rank_python, os.path.abspath(__file__), "rank", "--run-id", args.run_id, "--logs",
                 os.path.abspath(args.logs), "--config", args.config, "--", args.daemon, args.registry, args.config]
    argv = list(args.mpirun) + rank_argv
    began = time.monotonic()
    with open(os.path.join(args.logs, "mpirun.log"), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    state = {"schema": STATE_SCHEMA, "pid": proc.pid, "pgid": proc.pid, "run_id": args.run_id, "np": args.np,
             "registry": args.registry, "logs": os.path.abspath(args.logs), "argv": argv, "wiped": wiped,
             "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stop_timeout": args.stop_timeout,
             "pid_start_ticks": (proc_row(proc.pid) or (0, 0, None))[2]}
    try:
        wait_ready(proc, args, began)
        state["ready_seconds"] = round(time.monotonic() - began, 3)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=args.settle)  # the settle delay: ends early only when mpirun dies
        if proc.returncode is not None:
            raise StartError("the daemons' mpirun exited with status {} during the {:g} s settle delay".format(
                proc.returncode, args.settle))
    except BaseException as exc:
        kill_job(state, min(args.stop_timeout, 5))
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if isinstance(exc, StartError):
            raise StartError("{}; {}".format(exc, rank_logs(args.logs, args.np))) from None
        raise
    state["registered"] = registered(args.registry)
    write_json_atomic(args.state, state)
    return state


def wait_ready(proc, args, began: float) -> None:
    while True:
        if proc.poll() is not None:
            raise StartError("the daemons' mpirun exited with status {} after {:.1f} s with {} of {} ranks "
                             "registered".format(proc.returncode, time.monotonic() - began,
                                                 len(registered(args.registry)), args.np))
        count = len(registered(args.registry))
        if count == args.np:
            return
        if count > args.np:
            raise StartError("the registry {} holds {} node_*.addr files for {} ranks: another BenchFS job uses "
                             "it; give each job its own registry".format(args.registry, count, args.np))
        if time.monotonic() - began > args.ready_timeout:
            raise StartError("{} of {} ranks registered within {:g} s".format(count, args.np, args.ready_timeout))
        time.sleep(0.05)


def kill_job(state: dict, timeout: float) -> bool:
    """SIGTERM this host's daemons and wait for them and mpirun to end; past `timeout`, SIGTERM mpirun,
    then SIGKILL its group and this host's daemons. True when the graceful path did not end the job.

    The daemons get SIGTERM from us, not through mpirun: Open MPI's mpirun follows a forwarded SIGTERM
    with SIGKILL within about a second, too soon for a daemon that flushes its state."""
    pgid, run_id = state["pgid"], state["run_id"]
    signal_all(marked(run_id), signal.SIGTERM)

    def gone() -> bool:
        return not alive(state) and not marked(run_id)

    if wait_until(gone, timeout):
        return False
    if alive(state):
        signal_all([state["pid"]], signal.SIGTERM)
        wait_until(gone, 2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    signal_all(marked(run_id), signal.SIGKILL)
    wait_until(lambda: not group(pgid) and not marked(run_id), 5)
    return True


def cmd_stop(args) -> dict:
    state = read_state(args.state)
    timeout = args.timeout if args.timeout is not None else state.get("stop_timeout", 30)
    already = not alive(state) and not marked(state["run_id"]) and not group(state["pgid"])
    began = time.monotonic()
    forced = False if already else kill_job(state, timeout)
    left = sorted(set(marked(state["run_id"])) | set(group(state["pgid"])))
    logged = shutdown_logged(state["logs"], state["np"], args.shutdown_pattern)
    return {"stopped": not left, "already": already, "forced": forced, "left_pids": left,
            "stop_seconds": round(time.monotonic() - began, 3), "shutdown_logged": logged,
            "shutdown_missing": sorted(int(r) for r, ok in logged.items() if not ok)}


def cmd_status(args) -> dict:
    state = read_state(args.state)
    return {"running": alive(state), "pid": state["pid"], "np": state["np"],
            "registered": len(registered(state["registry"])), "daemons_here": marked(state["run_id"])}


def cmd_term(args) -> dict:
    """SIGTERM this host's daemons of the job (every server host, just before `stop` on the launcher)."""
    check_run_id(args.run_id)
    found = marked(args.run_id)
    signal_all(found, signal.SIGTERM)
    return {"signalled": found}


def cmd_reap(args) -> dict:
    check_run_id(args.run_id)
    found = marked(args.run_id)
    if found:
        signal_all(found, signal.SIGTERM)
        if not wait_until(lambda: not marked(args.run_id), args.timeout):
            signal_all(marked(args.run_id), signal.SIGKILL)
            wait_until(lambda: not marked(args.run_id), 5)
    left = marked(args.run_id)
    return {"found": found, "left_pids": left, "stopped": not left}


def cmd_rank(args) -> int:
    """On each rank: log to rank_<rank>.log, export the config and the job's mark, exec the daemon."""
    check_run_id(args.run_id)
    rank = next((int(os.environ[n]) for n in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")
                 if os.environ.get(n, "").isdigit()), None)
    if rank is None:
        raise UsageError("no MPI rank in the environment (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK); "
                         "the rank step runs under mpirun")
    if not args.command:
        raise UsageError("no daemon command after --")
    os.makedirs(args.logs, exist_ok=True)
    fd = os.open(os.path.join(args.logs, "rank_{}.log".format(rank)), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ["BENCHFS_CONFIG"] = args.config
    os.environ[RUN_MARK] = args.run_id
    os.execv(args.command[0], args.command)  # noqa: S606 - an argv list; exec keeps the pid mpirun signals
    return 1  # not reached


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description="BenchFS daemons under mpirun.")
    sub = parser.add_subparsers(dest="command_name", required=True)
    steps = {name: sub.add_parser(name) for name in ("start", "stop", "status", "term", "reap", "rank")}
    for step, names in (("start", ("--state", "--run-id", "--daemon", "--registry", "--config", "--logs")),
                        ("stop", ("--state",)), ("status", ("--state",)), ("term", ("--run-id",)),
                        ("reap", ("--run-id",)), ("rank", ("--run-id", "--logs", "--config"))):
        for name in names:
            steps[step].add_argument(name, required=True)
    start = steps["start"]
    start.add_argument("--np", required=True, type=int)
    start.add_argument("--ready-timeout", type=float, default=60.0)
    start.add_argument("--settle", type=float, default=10.0)
    start.add_argument("--stop-timeout", type=float, default=30.0)
    start.add_argument("--rank-python", default=sys.executable)
    start.add_argument("mpirun", nargs=argparse.REMAINDER)
    steps["stop"].add_argument("--timeout", type=float)
    steps["stop"].add_argument("--shutdown-pattern", default=DEFAULT_SHUTDOWN)
    steps["reap"].add_argument("--timeout", type=float, default=5.0)
    steps["rank"].add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    for name in ("mpirun", "command"):
        if getattr(args, name, None) and getattr(args, name)[0] == "--":
            setattr(args, name, getattr(args, name)[1:])
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handlers = {"start": cmd_start, "stop": cmd_stop, "status": cmd_status, "term": cmd_term, "reap": cmd_reap,
                "rank": cmd_rank}
    try:
        result = handlers[args.command_name](args)
    except UsageError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 2
    except StartError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
