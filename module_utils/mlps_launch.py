"""The launch supervisor: run one mpirun in its own process group and stop it on every host when
something goes wrong, without waiting for the timeout.

It stops the launch on the first of: a line of the output matching an abort pattern (a rank's
error), the timeout, a stale lease (the controller stopped following: ansible-playbook interrupted
or the controller lost), or a watched host that fails two checks in a row. The host watch checks
every host at once in each sweep (one `true` over mpirun's remote shell per host, all in flight
together), so a sweep takes one probe's time whatever the number of hosts.

Pure stdlib, Python 3.8 syntax: runs inside the mlps_mpirun module on the launcher, and is
unit-tested with real processes and no cluster.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time

TAIL = 65536
PROBE_TIMEOUT = 8


def tail(path, size=TAIL):
    """The last `size` bytes of a file as text ('' when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(0, end - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


class OutputScan:
    """New whole lines of the output files, checked against the abort patterns."""

    def __init__(self, paths, patterns):
        self.regexes = [re.compile(pattern) for pattern in patterns]
        self.offsets = dict.fromkeys(paths if self.regexes else [], 0)

    def match(self):
        for path in self.offsets:
            try:
                with open(path, "rb") as handle:
                    handle.seek(self.offsets[path])
                    chunk = handle.read()
            except OSError:
                continue
            complete = chunk[: chunk.rfind(b"\n") + 1]  # whole lines only; the rest is read next time
            self.offsets[path] += len(complete)
            for line in complete.decode("utf-8", "replace").splitlines():
                if any(regex.search(line) for regex in self.regexes):
                    return line.strip()
        return None


class HostWatch(threading.Thread):
    """Checks every watched host through the remote shell mpirun uses, all hosts at once; a host
    failing two sweeps in a row is lost. A thread, so a hanging ssh never delays the main loop."""

    def __init__(self, hosts, rsh_agent, interval, probe_timeout=PROBE_TIMEOUT):
        super().__init__(daemon=True)
        base = shlex.split(rsh_agent) if rsh_agent else ["ssh"]
        self.base = [*base, "-o", "BatchMode=yes", "-o", "ConnectTimeout={}".format(max(1, probe_timeout - 2))]
        self.hosts, self.interval, self.probe_timeout = list(hosts), interval, probe_timeout
        self.failures = dict.fromkeys(self.hosts, 0)
        self.lost = []
        self.sweeps = 0
        self.done = threading.Event()

    def sweep(self):
        """One check of every host, concurrently; returns {host: answered}."""
        running = {}
        for host in self.hosts:
            try:
                running[host] = subprocess.Popen([*self.base, host, "true"], stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                running[host] = None
        deadline = time.monotonic() + self.probe_timeout
        answered = {}
        for host, proc in running.items():
            ok = False
            if proc is not None:
                try:
                    ok = proc.wait(timeout=max(0.05, deadline - time.monotonic())) == 0
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            answered[host] = ok
        return answered

    def run(self):
        while not self.done.wait(self.interval):
            for host, ok in self.sweep().items():
                self.failures[host] = 0 if ok else self.failures[host] + 1
            self.sweeps += 1
            self.lost = [host for host in self.hosts if self.failures[host] >= 2]
            if self.lost:
                return


def lease_age(path):
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return float("inf")  # removed under us: nobody is keeping it


def stop(proc, grace):
    """SIGTERM to the launch's process group, SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def follow(proc, *, output_paths=(), abort_patterns=(), timeout=0, started=None, lease_file=None,
           lease_timeout=15, watch_hosts=(), rsh_agent=None, watch_interval=10, kill_grace=10):
    """Wait for the launch; stop it on an abort line, the timeout, a stale lease or a lost host.

    Returns (stdout, stderr, why) where why is None or (kind, detail) with kind one of abort,
    timeout, interrupted (stale lease) or lost (the hosts)."""
    started = time.monotonic() if started is None else started
    scan = OutputScan([path for path in output_paths if path], abort_patterns)
    watch = None
    if watch_hosts:
        watch = HostWatch(watch_hosts, rsh_agent, watch_interval)
        watch.start()
    out, err = [], []
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=1)
                out.append(stdout or b"")
                err.append(stderr or b"")
                line = scan.match()  # the last lines may hold the error that ended the launch
                return b"".join(out), b"".join(err), ("abort", line) if line else None
            except subprocess.TimeoutExpired:
                pass
            why = None
            line = scan.match()
            if line:
                why = ("abort", line)
            elif timeout and time.monotonic() - started > timeout:
                why = ("timeout", timeout)
            elif lease_file and lease_age(lease_file) > lease_timeout:
                why = ("interrupted", lease_timeout)
            elif watch is not None and watch.lost:
                why = ("lost", list(watch.lost))
            if why:
                stop(proc, 3 if why[0] in ("interrupted", "lost") else kill_grace)
                stdout, stderr = proc.communicate()
                return stdout or b"", stderr or b"", why
    finally:
        if watch is not None:
            watch.done.set()


def failure_message(kind, detail, lease_file=None):
    """The one-line message of a launch stopped for `kind` (None when it was not stopped)."""
    if kind == "abort":
        return "stopped on every host after a rank reported an error: {}".format(detail[:300])
    if kind == "timeout":
        return "mpirun passed its timeout of {} s and was stopped on every host".format(detail)
    if kind == "interrupted":
        return ("the controller stopped following the launch ({} not touched for {} s: ansible-playbook "
                "interrupted or the controller lost); stopped on every host".format(lease_file, detail))
    if kind == "lost":
        return ("host {} stopped answering during the launch (two failed checks through the remote shell); "
                "stopped it on every other host".format(", ".join(detail)))
    return None
