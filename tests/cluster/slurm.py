"""Slurm on the test cluster: one munged and slurmctld in the root namespace, one slurmd per host.

Everything lives in the cluster dir (munge key and socket, slurm.conf, state, spool, logs); the
machine's /etc/munge, /etc/slurm and /var/spool are never used. Teardown finds the daemons the way
it finds sshd: by namespace (slurmd, slurmstepd, job tasks) or by argv naming this cluster's files
(munged's socket, slurmctld's config). See the Slurm section of README.md next to this file.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.cluster.netns import ClusterError

TOOLS = ("munged", "slurmctld", "slurmd", "sinfo", "srun", "scontrol")
CONTROLLER_NAME = "mlps-controller"
BASE_PORT = 17000
SLURMD_PORT = 6818
# Short so a cancelled test job does not hold its nodes for the default 30 s.
KILL_WAIT = 5
READY_TIMEOUT = 30.0
# Same init as sshd's: name the host in its own UTS namespace, then become the daemon.
_HOST_INIT = 'hostname "$1" && shift && exec "$@"'


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool, path=_sbin_path()) is None]


def _sbin_path() -> str:
    return os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"


def _tool(name: str) -> str:
    found = shutil.which(name, path=_sbin_path())
    if found is None:
        raise ClusterError(f"{name} not found: run `make system-deps` as root (installs slurm-wlm and munge)")
    return found


def ctld_port(subnet: str) -> int:
    """Per-subnet port: clusters alive at once have different subnets, so (within a /12) different ports."""
    return BASE_PORT + ((int(ipaddress.IPv4Network(subnet).network_address) >> 8) & 0xFFF)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 - slurmctld binds all addresses too
        except OSError:
            return False
    return True


def memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterError("no MemTotal in /proc/meminfo")


class Paths:
    """Where one cluster's Slurm and munge files live."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.munge = directory / "munge"
        self.key = self.munge / "munge.key"
        self.socket = self.munge / "munge.socket"
        self.slurm = directory / "slurm"
        self.conf = self.slurm / "slurm.conf"
        self.env = directory / "slurm.env"
        self.ctld_log = self.slurm / "slurmctld.log"
        self.ctld_pid = self.slurm / "slurmctld.pid"

    def node(self, name: str) -> Path:
        return self.slurm / name

    def own_files(self) -> list[str]:
        """Paths only this cluster's daemons name in their argv (teardown matches on them)."""
        return [str(self.conf), str(self.socket)]


def slurm_conf(*, paths: Paths, cluster_id: str, controller_ip: str, port: int, hosts: list[tuple[str, str]],
               cpus: int, memory: int) -> str:  # fmt: skip
    s = paths.slurm
    lines = [
        f"ClusterName=mlps{cluster_id}",
        f"SlurmctldHost={CONTROLLER_NAME}({controller_ip})",
        f"SlurmctldPort={port}",
        f"SlurmdPort={SLURMD_PORT}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={paths.socket}",
        f"StateSaveLocation={s}/state",
        f"SlurmctldPidFile={paths.ctld_pid}",
        f"SlurmctldLogFile={paths.ctld_log}",
        f"SlurmdSpoolDir={s}/%n",
        f"SlurmdPidFile={s}/%n/slurmd.pid",
        f"SlurmdLogFile={s}/%n/slurmd.log",
        # srun --mpi=pmix makes its app dir under TmpFS; /tmp is shared by all hosts here.
        f"TmpFS={s}/%n/tmp",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "SchedulerType=sched/backfill",
        "MpiDefault=none",
        "ReturnToService=2",
        f"KillWait={KILL_WAIT}",
        "MailProg=/bin/true",
        "AccountingStorageType=accounting_storage/none",
        # 22.05 has no file-based accounting storage; job completion records give `sacct -c`.
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={s}/jobcomp.txt",
    ]
    lines += [f"NodeName={name} NodeAddr={ip} CPUs={cpus} RealMemory={memory} State=UNKNOWN" for name, ip in hosts]
    lines.append("PartitionName=mlps Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


def write_files(paths: Paths, *, cluster_id: str, controller_ip: str, port: int, hosts: list[tuple[str, str]]) -> dict:
    """Fresh munge key, slurm.conf, cgroup.conf and dirs (old state is wiped: job ids restart at 1)."""
    for old in (paths.munge, paths.slurm):
        shutil.rmtree(old, ignore_errors=True)
    # munged wants its socket dir searchable by all and its key readable by its user only.
    paths.munge.mkdir(mode=0o755, parents=True)
    paths.munge.chmod(0o755)
    fd = os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(1024))
    (paths.slurm / "state").mkdir(parents=True)
    for name, _ip in hosts:
        (paths.node(name) / "tmp").mkdir(parents=True)
    cpus, memory = os.cpu_count() or 1, max(1, memory_mib() // len(hosts))
    ctl = {"paths": paths, "cluster_id": cluster_id, "controller_ip": controller_ip, "port": port}
    paths.conf.write_text(slurm_conf(**ctl, hosts=hosts, cpus=cpus, memory=memory))
    # slurmd 22.05 always loads a cgroup plugin; inside `ip netns exec` /sys/fs/cgroup is empty, so
    # autodetection fails. Naming v1 skips it; with linuxproc and task/none nothing uses cgroups.
    (paths.slurm / "cgroup.conf").write_text("CgroupPlugin=cgroup/v1\n")
    paths.env.write_text(f"SLURM_CONF={paths.conf}\n")
    return {"conf": str(paths.conf), "env": str(paths.env), "port": port, "cpus": cpus, "real_memory": memory,
            "partition": "mlps"}  # fmt: skip


def _popen(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # A new session keeps the daemons out of the caller's terminal signals (Ctrl-C in pytest).
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=cwd,
                                start_new_session=True)  # fmt: skip


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


def client_env(paths: Paths) -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(paths.conf)}


def start(paths: Paths, hosts: list[tuple[str, str]], netns_of: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """munged, slurmctld, one slurmd per host; returns the launchers (the caller reaps them)."""
    children = []
    munge_log = paths.munge / "munged.log"
    children.append(_popen([
        _tool("munged"), "--foreground", f"--socket={paths.socket}", f"--key-file={paths.key}",
        f"--pid-file={paths.munge / 'munged.pid'}", f"--seed-file={paths.munge / 'munged.seed'}",
    ], munge_log, paths.munge))  # fmt: skip
    _wait_for(paths.socket.is_socket, children[0], munge_log, "munged socket", 10)
    init = ["unshare", "--uts", "--fork", "sh", "-c", _HOST_INIT, "mlps-host-init"]
    ctld_out = paths.slurm / "slurmctld.out"
    children.append(_popen([*init, CONTROLLER_NAME, _tool("slurmctld"), "-D", "-f", str(paths.conf)],
                           ctld_out, paths.slurm))  # fmt: skip
    slurmd = _tool("slurmd")
    for name, _ip in hosts:
        argv = ["ip", "netns", "exec", netns_of[name], *init, name, slurmd, "-D", "-N", name, "-f", str(paths.conf)]
        children.append(_popen(argv, paths.node(name) / "slurmd.out", paths.node(name)))
    return children


def _wait_for(ready, proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise ClusterError(f"{what}: process exited with {proc.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not ready after {timeout}s: see {log}")
        time.sleep(0.05)


def node_states(paths: Paths) -> dict[str, str]:
    argv = [_tool("sinfo"), "-h", "-N", "-o", "%N %T"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=client_env(paths), timeout=15, check=False)
    if proc.returncode != 0:
        return {}
    return dict(line.split(maxsplit=1) for line in proc.stdout.splitlines() if " " in line)


def wait_idle(paths: Paths, names: list[str], children: list[subprocess.Popen[bytes]],
              timeout: float = READY_TIMEOUT) -> None:  # fmt: skip
    """Until sinfo shows every node idle; fail at once when a daemon exits, naming its log."""
    logs = [paths.munge / "munged.log", paths.slurm / "slurmctld.out"] + [paths.node(n) / "slurmd.out" for n in names]
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while True:
        for proc, log in zip(children, logs, strict=True):
            if proc.poll() is not None:
                raise ClusterError(f"slurm daemon exited with {proc.returncode}: {_tail(log)} (log {log})")
        states = node_states(paths)
        if all(states.get(name) == "idle" for name in names):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    waiting = [name for name in names if states.get(name) != "idle"]
    detail = "; ".join(
        f"{name} is {states.get(name, 'not listed')}: see {paths.node(name) / 'slurmd.log'}" for name in waiting
    )
    raise ClusterError(f"slurm nodes not idle after {timeout}s: {detail} (controller log {paths.ctld_log})")


def read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


def daemon_pids(paths: Paths, names: list[str]) -> dict:
    return {
        "munged": read_pid(paths.munge / "munged.pid"),
        "slurmctld": read_pid(paths.ctld_pid),
        "slurmd": {name: read_pid(paths.node(name) / "slurmd.pid") for name in names},
    }


def remove_runtime(directory: Path, cluster_id: str) -> None:
    """After the daemons stopped: the munge key and socket, per-node scratch, slurm.env.

    Only when the dir's slurm.conf is this cluster's: a dir without Slurm keeps whatever it holds.
    """
    paths = Paths(directory)
    try:
        ours = f"ClusterName=mlps{cluster_id}\n" in paths.conf.read_text()
    except OSError:
        ours = False
    if not ours:
        return
    shutil.rmtree(paths.munge, ignore_errors=True)
    for tmp in paths.slurm.glob("*/tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    paths.env.unlink(missing_ok=True)
