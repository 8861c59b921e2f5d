"""SSH side of the test cluster: keys, one sshd per namespace, the client ssh_config.

Nothing here reads or writes /root/.ssh: keys, authorized_keys, known_hosts and control sockets
all live in the cluster directory.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.cluster.netns import ClusterError, run

SSHD = "/usr/sbin/sshd"
# sshd's privilege-separation directory; Debian's service unit normally creates it.
PRIVSEP_DIR = Path("/run/sshd")
# ssh adds ".<16 random chars>" while binding a control socket; sun_path holds 107 bytes.
MAX_CONTROL_PATH = 107 - 17

# Run as the namespace's first process: name the host, optionally give it a private tmpfs,
# then become sshd. Variables arrive as positional arguments, never spliced into the script.
_HOST_INIT = 'hostname "$1" && shift && exec "$@"'
_HOST_INIT_PRIVATE = 'hostname "$1" && mkdir -p "$2" && mount -t tmpfs -o "$3" mlps-local "$2" && shift 3 && exec "$@"'


def keygen(path: Path, comment: str) -> None:
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def sshd_config(*, listen: str, host_key: Path, pid_file: Path, authorized_keys: Path,
                set_env: dict[str, str] | None = None) -> str:
    lines = [
        f"ListenAddress {listen}",
        "Port 22",
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        # Keys live in a temp dir whose modes are not sshd's business.
        "StrictModes no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        # Ansible forks and mpirun fan out over multiplexed sessions.
        "MaxSessions 64",
        "MaxStartups 64:30:128",
        "Subsystem sftp internal-sftp",
        "LogLevel INFO",
        # what a real node has in /etc (SLURM_CONF for a Slurm cluster), given to every session
        *(f"SetEnv {name}={value}" for name, value in sorted((set_env or {}).items())),
    ]
    return "\n".join(lines) + "\n"


def ssh_config(*, hosts: dict[str, str], identity: Path, known_hosts: Path, control_dir: Path) -> str:
    """Client config; the Host aliases make names work from the root namespace too."""
    blocks = [f"Host {name}\n    HostName {ip}\n" for name, ip in hosts.items()]
    common = [
        "Host *",
        "    User root",
        f"    IdentityFile {identity}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {known_hosts}",
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking accept-new",
        "    BatchMode yes",
        "    ConnectTimeout 10",
        "    ControlMaster auto",
        "    ControlPersist 60s",
        # %C hashes the local host too, so h1->h2 and controller->h2 get different masters.
        f"    ControlPath {control_dir}/%C",
        "    LogLevel ERROR",
    ]
    return "".join(blocks) + "\n".join(common) + "\n"


def check_control_dir(control_dir: Path) -> None:
    longest = len(str(control_dir)) + 1 + 40
    if longest > MAX_CONTROL_PATH:
        raise ClusterError(
            f"cluster dir {control_dir.parent} is too long for ssh control sockets "
            f"({longest} > {MAX_CONTROL_PATH} chars): use a shorter --dir such as /tmp/mlps-cluster"
        )


def start(
    *,
    netns: str,
    hostname: str,
    config: Path,
    log: Path,
    private_path: str | None,
    private_size: str = "512m",
) -> subprocess.Popen[bytes]:
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    unshare = ["unshare", "--uts", "--fork"]
    if private_path is None:
        script, args = _HOST_INIT, [hostname]
    else:
        unshare[1:1] = ["--mount", "--propagation", "private"]
        script, args = _HOST_INIT_PRIVATE, [hostname, private_path, f"mode=0755,size={private_size}"]
    argv = [
        "ip", "netns", "exec", netns, *unshare,
        "sh", "-c", script, "mlps-host-init", *args,
        SSHD, "-D", "-e", "-f", str(config),
    ]  # fmt: skip
    with log.open("ab") as out:
        # A new session keeps the sshd out of the caller's terminal signals (Ctrl-C in pytest).
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)


def banner_ready(ip: str, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((ip, 22), timeout=timeout) as conn:
            return conn.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def wait_ready(targets: dict[str, tuple[str, subprocess.Popen[bytes], Path]], timeout: float = 15) -> None:
    """Wait until every sshd answers with its banner; fail at once when one exits."""
    pending = dict(targets)
    deadline = time.monotonic() + timeout
    while pending:
        for name, (ip, proc, log) in list(pending.items()):
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise ClusterError(f"sshd of {name} exited with {proc.returncode}: {' | '.join(tail)}")
            if banner_ready(ip):
                del pending[name]
        if pending and time.monotonic() > deadline:
            names = ", ".join(sorted(pending))
            raise ClusterError(f"sshd of {names} not answering on port 22 after {timeout}s")
        if pending:
            time.sleep(0.02)


def close_masters(control_dir: Path) -> None:
    """`ssh -O exit` every control socket in the dir (ours and Ansible's both live there)."""
    if not control_dir.is_dir():
        return
    for sock in sorted(control_dir.iterdir()):
        if sock.is_socket():
            argv = ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "mlps-cluster-master"]
            run(argv, check=False, timeout=10)
