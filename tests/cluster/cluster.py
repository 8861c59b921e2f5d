"""A multi-host cluster on one machine: network namespaces on a bridge, one sshd per host.

Library:   with Cluster("/tmp/mlps-cluster", hosts=3) as c: c.ssh("h2", ["hostname"])
CLI:       python -m tests.cluster.cluster up --hosts 3 --dir /tmp/mlps-cluster
           python -m tests.cluster.cluster status [--dir DIR]
           python -m tests.cluster.cluster down --dir /tmp/mlps-cluster
           python -m tests.cluster.cluster gc        # tear down clusters whose owner is gone

Every cluster registers itself under /run/mlps-cluster/ before it creates anything, so a run that
crashes half-way is still found and cleaned by the next `up` (or `gc`). Clusters whose owner
process still runs, or that were started from the CLI and still have their directory, are left
alone. See README.md next to this file.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.cluster import netns, procs, registry, slurm, sshd
from tests.cluster.netns import ClusterError
from tests.cluster.procs import Owner

SCHEMA = "mlps-test-cluster/1"
DEFAULT_DIR = "/tmp/mlps-cluster"
DEFAULT_PRIVATE_PATH = "/mnt/mlps-local"
# tmpfs takes memory only for what is written; the cap stops a runaway test filling RAM.
DEFAULT_PRIVATE_SIZE = "512m"
REQUIRED_TOOLS = ("ip", "unshare", "ssh", "ssh-keygen", "mount", "hostname")
MAX_HOSTS = 200


@dataclass
class Host:
    name: str
    ip: str
    netns: str
    sshd_pid: int | None = None
    slurmd_pid: int | None = None


def find_python() -> str:
    """The machine's python3 (not a venv's, not a pyenv shim), as an absolute path."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("python3")
    if not found:
        raise ClusterError("no python3 on this machine: install python3 or pass python_interpreter")
    return os.path.realpath(found)


def require_environment(*, slurm_tools: bool = False) -> None:
    if not netns.is_root():
        raise ClusterError(
            "the test cluster needs root (network namespaces, bridge, sshd): "
            "run it as root, e.g. `sudo make integration`"
        )
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if not os.access(sshd.SSHD, os.X_OK):
        missing.append(sshd.SSHD)
    if slurm_tools:
        missing += slurm.missing_tools()
    if missing:
        raise ClusterError(f"missing tools for the test cluster: {', '.join(missing)}: run `make system-deps` as root")


# --- the cluster -----------------------------------------------------------------------------


class Cluster:
    """N hosts h1..hN, each a network namespace with its own hostname and sshd.

    `owner` ties the cluster's lifetime to a process (the pytest session): once it is gone, the
    next `up` anywhere on the machine sweeps the leftovers. Without an owner (the CLI) the cluster
    lives until `down`, or until its directory disappears.
    """

    def __init__(
        self,
        directory: str | Path = DEFAULT_DIR,
        hosts: int = 3,
        *,
        subnet: str | None = None,
        pool: str = netns.DEFAULT_POOL,
        private_mounts: bool = False,
        private_path: str = DEFAULT_PRIVATE_PATH,
        private_size: str = DEFAULT_PRIVATE_SIZE,
        owner: Owner | None = None,
        python_interpreter: str | None = None,
        slurm: bool = False,
    ) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ClusterError(f"hosts={hosts} is out of range: pass 1 to {MAX_HOSTS}")
        if private_mounts and not private_path.startswith("/"):
            raise ClusterError(f"private_path {private_path!r} must be absolute, such as {DEFAULT_PRIVATE_PATH}")
        if not re.fullmatch(r"[1-9][0-9]*[kmg]?", private_size):
            raise ClusterError(f"private_size {private_size!r} is not a tmpfs size such as 512m or 2g")
        self.dir = Path(directory).absolute()
        self.count = hosts
        self.subnet_arg = subnet
        self.pool = pool
        self.private_path = private_path if private_mounts else None
        self.private_size = private_size
        self.owner = owner
        self.python = python_interpreter
        self.slurm = slurm
        self.slurm_info: dict | None = None
        self.id: str | None = None
        self.subnet: str | None = None
        self.controller_ip: str | None = None
        self.hosts: list[Host] = []
        self.state = "new"
        self._children: list[subprocess.Popen[bytes]] = []
        sshd.check_control_dir(self.control_dir)

    # Paths, all inside the cluster dir.
    control_dir = property(lambda self: self.dir / "cm")
    ssh_config = property(lambda self: self.dir / "ssh_config")
    inventory = property(lambda self: self.dir / "hosts.ini")
    hosts_file = property(lambda self: self.dir / "hosts")
    known_hosts = property(lambda self: self.dir / "known_hosts")
    identity = property(lambda self: self.dir / "id_ed25519")
    authorized_keys = property(lambda self: self.dir / "authorized_keys")
    json_path = property(lambda self: self.dir / "cluster.json")
    slurm_paths = property(lambda self: slurm.Paths(self.dir))

    @property
    def launcher(self) -> Host:
        return self.hosts[0]

    @property
    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise ClusterError(f"no host {name!r} in cluster {self.id}: hosts are {', '.join(self.names)}")

    # --- lifecycle ---

    def up(self) -> Cluster:
        require_environment(slurm_tools=self.slurm)
        with registry.lock():
            _cleaned, errors = registry.gc_locked()
            for error in errors:  # another run's mess must not stop this one; say it loudly
                warnings.warn(f"stale test cluster not fully cleaned: {error}", stacklevel=2)
            self._reclaim_dir()
            self._allocate()
            try:
                self._build()
            except BaseException:
                with contextlib.suppress(ClusterError):
                    registry.teardown(self.id, self.dir, self._children)
                self.state = "down"
                raise
        return self

    def down(self) -> None:
        """Stop and delete everything this cluster created; safe to call any number of times."""
        if self.id is None:
            return
        require_environment()
        with registry.lock():
            registry.teardown(self.id, self.dir, self._children)
        self._children = []
        self.state = "down"

    def leftovers(self) -> list[str]:
        return registry.leftovers_of(self.id, self.dir) if self.id else []

    def __enter__(self) -> Cluster:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _reclaim_dir(self) -> None:
        """A cluster described by this dir is stale unless another live process owns it."""
        data = registry.read_json(self.json_path)
        if not data or data.get("state") == "down" or "id" not in data:
            return
        owner = Owner.from_json(data.get("owner"))
        if owner is not None and owner.alive() and owner != self.owner:
            raise ClusterError(f"cluster dir {self.dir} is in use by running process {owner.pid}: pick another --dir")
        registry.teardown(data["id"], self.dir)

    def _allocate(self) -> None:
        taken = netns.cluster_ids_present() | set(registry.registered())
        self.id = next(cid for cid in iter(lambda: secrets.token_hex(3), None) if cid not in taken)
        net = netns.check_subnet(self.subnet_arg, self.count) if self.subnet_arg else netns.pick_subnet(self.pool)
        self.subnet, self.controller_ip = str(net), str(netns.controller_ip(net))
        cid = self.id
        self.hosts = [
            Host(f"h{i}", str(netns.host_ip(net, i)), netns.netns_name(cid, i)) for i in range(1, self.count + 1)
        ]
        self.python = self.python or find_python()
        self.dir.mkdir(parents=True, exist_ok=True)
        # Register before creating anything, owned by this process until up() returns, so a crash
        # half-way is swept by the next run.
        registry.register(self.id, self.dir)
        self.state = "starting"
        self._save(owner=Owner.current())

    def _build(self) -> None:
        net = ipaddress.IPv4Network(self.subnet)
        hosts_text = self._hosts_text()
        self.hosts_file.write_text(hosts_text)
        netns.create_switch(self.id, net)
        for i in range(1, self.count + 1):
            netns.create_host_netns(self.id, i, net, hosts_text)
        self._write_ssh_files()
        started = {}
        for host in self.hosts:
            hdir = self.dir / "sshd" / host.name
            proc = sshd.start(
                netns=host.netns,
                hostname=host.name,
                config=hdir / "sshd_config",
                log=hdir / "sshd.log",
                private_path=self.private_path,
                private_size=self.private_size,
            )
            self._children.append(proc)
            started[host.name] = (host.ip, proc, hdir / "sshd.log")
        sshd.wait_ready(started)
        for host in self.hosts:
            pid_text = (self.dir / "sshd" / host.name / "sshd.pid").read_text().strip()
            host.sshd_pid = int(pid_text)
        self._check_logins()
        if self.slurm:
            self._start_slurm()
        self.state = "up"
        self._save(owner=self.owner)

    def _start_slurm(self) -> None:
        port = slurm.ctld_port(self.subnet)
        if not slurm.port_free(port):
            raise ClusterError(f"slurmctld port {port} (for subnet {self.subnet}) is in use: pick another --subnet")
        paths, pairs = self.slurm_paths, [(host.name, host.ip) for host in self.hosts]
        info = slurm.write_files(paths, cluster_id=self.id, controller_ip=self.controller_ip, port=port, hosts=pairs)
        children = slurm.start(paths, pairs, {host.name: host.netns for host in self.hosts})
        self._children += children
        slurm.wait_idle(paths, self.names, children)
        pids = slurm.daemon_pids(paths, self.names)
        for host in self.hosts:
            host.slurmd_pid = pids["slurmd"][host.name]
        self.slurm_info = {**info, "munged_pid": pids["munged"], "slurmctld_pid": pids["slurmctld"]}

    def _hosts_text(self) -> str:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{host.ip}\t{host.name}" for host in self.hosts]
        lines.append(f"{self.controller_ip}\tmlps-controller")
        return "\n".join(lines) + "\n"

    def _write_ssh_files(self) -> None:
        self.control_dir.mkdir(mode=0o700, exist_ok=True)
        sshd.keygen(self.identity, f"mlps-cluster-{self.id}")
        self.authorized_keys.write_text(self.identity.with_name("id_ed25519.pub").read_text())
        known = []
        for host in self.hosts:
            hdir = self.dir / "sshd" / host.name
            hdir.mkdir(parents=True, exist_ok=True)
            for stale in ("sshd.pid", "sshd.log"):
                (hdir / stale).unlink(missing_ok=True)
            key = hdir / "ssh_host_ed25519_key"
            sshd.keygen(key, f"{host.name}-{self.id}")
            pub = key.with_name(key.name + ".pub").read_text().split()
            known.append(f"{host.name},{host.ip} {pub[0]} {pub[1]}")
            (hdir / "sshd_config").write_text(
                sshd.sshd_config(
                    listen=host.ip,
                    host_key=key,
                    pid_file=hdir / "sshd.pid",
                    authorized_keys=self.authorized_keys,
                    set_env={"SLURM_CONF": str(self.slurm_paths.conf)} if self.slurm else None,
                )
            )
        # Host keys are known up front; accept-new only matters for names added by hand.
        self.known_hosts.write_text("\n".join(known) + "\n")
        self.ssh_config.write_text(
            sshd.ssh_config(
                hosts={host.name: host.ip for host in self.hosts},
                identity=self.identity,
                known_hosts=self.known_hosts,
                control_dir=self.control_dir,
            )
        )
        self.inventory.write_text(self._inventory_text())

    def _inventory_text(self) -> str:
        lines = ["# Test cluster " + str(self.id) + "; the first client is the launcher.", "[clients]"]
        lines += [f"{host.name} ansible_host={host.ip}" for host in self.hosts]
        common_args = shlex.join(["-F", str(self.ssh_config)])
        lines += [
            "",
            "[clients:vars]",
            "ansible_user=root",
            f"ansible_ssh_common_args='{common_args}'",
            # Ansible adds its own ControlPath; keep its masters in our dir so teardown finds them.
            f"ansible_control_path_dir={self.control_dir}",
            f"ansible_python_interpreter={self.python}",
            # mpirun reaches the other test hosts with the same ssh settings.
            f"mlps_mpi_rsh_agent='ssh -F {self.ssh_config}'",
        ]
        return "\n".join(lines) + "\n"

    def _check_logins(self) -> None:
        """Log in to every host once (in parallel) and check it reports its own hostname."""
        running = {host.name: self._popen_ssh(host.name, ["hostname"]) for host in self.hosts}
        for name, proc in running.items():
            try:
                out, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise ClusterError(f"ssh to {name} timed out after 20s") from None
            if proc.returncode != 0 or out.strip() != name:
                detail = err.strip() or repr(out.strip())
                raise ClusterError(f"ssh to {name} failed ({proc.returncode}): {detail}")

    def _save(self, owner: Owner | None) -> None:
        registry.write_json(
            self.json_path,
            {
                "schema": SCHEMA,
                "id": self.id,
                "state": self.state,
                "dir": str(self.dir),
                "subnet": self.subnet,
                "switch_netns": netns.switch_netns(self.id),
                "controller": {"link": netns.controller_link(self.id), "ip": self.controller_ip},
                "private_path": self.private_path,
                "private_size": self.private_size,
                "python_interpreter": self.python,
                "owner": owner.to_json() if owner else None,
                "ssh_config": str(self.ssh_config),
                "inventory": str(self.inventory),
                "hosts_file": str(self.hosts_file),
                "launcher": self.hosts[0].name,
                "slurm": self.slurm_info if self.slurm else None,
                "hosts": [asdict(host) for host in self.hosts],
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> Cluster:
        """The cluster a directory describes (e.g. one started by the CLI), to inspect or tear down."""
        path = Path(directory).absolute() / "cluster.json"
        data = registry.read_json(path)
        if not data or data.get("schema") != SCHEMA:
            raise ClusterError(f"{path} is missing or not a test-cluster description: run `up` first")
        cluster = cls(
            data["dir"],
            max(1, len(data["hosts"])),
            private_mounts=data["private_path"] is not None,
            private_path=data["private_path"] or DEFAULT_PRIVATE_PATH,
            private_size=data.get("private_size", DEFAULT_PRIVATE_SIZE),
            owner=Owner.from_json(data["owner"]),
            python_interpreter=data["python_interpreter"],
            slurm=bool(data.get("slurm")),
        )
        cluster.slurm_info = data.get("slurm")
        cluster.id, cluster.state = data["id"], data["state"]
        cluster.subnet, cluster.controller_ip = data["subnet"], data["controller"]["ip"]
        cluster.hosts = [Host(**host) for host in data["hosts"]]
        return cluster

    # --- using the hosts ---

    def ssh_argv(self, host: str, argv: list[str]) -> list[str]:
        """ssh argv running `argv` on `host`; ssh joins words with spaces, so quote each one."""
        return ["ssh", "-F", str(self.ssh_config), host, shlex.join(argv)]

    def _popen_ssh(self, host: str, argv: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.ssh_argv(host, argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ssh(
        self, host: str, argv: list[str], *, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` on `host` from the root namespace; raise ClusterError on failure if `check`."""
        proc = subprocess.run(
            self.ssh_argv(host, argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise ClusterError(f"on {host}: {shlex.join(argv)} exited {proc.returncode}: {detail}")
        return proc

    def status(self) -> dict:
        """Health of every host: namespace present, sshd running and answering."""
        present = set(netns.netns_list())
        hosts = []
        for host in self.hosts:
            running = host.sshd_pid is not None and procs.exists(host.sshd_pid)
            hosts.append(
                {
                    "name": host.name,
                    "ip": host.ip,
                    "netns": host.netns in present,
                    "sshd_running": running,
                    "sshd_answering": running and sshd.banner_ready(host.ip),
                }
            )
        healthy = self.state == "up" and all(h["netns"] and h["sshd_answering"] for h in hosts)
        report = {"id": self.id, "dir": str(self.dir), "state": self.state, "healthy": healthy, "hosts": hosts}
        if self.slurm:  # idle or busy nodes are fine; down, drained or unlisted ones are not
            report["slurm_nodes"] = states = slurm.node_states(self.slurm_paths)
            usable = ("idle", "mixed", "allocated", "completing")
            report["healthy"] = healthy and all(states.get(name) in usable for name in self.names)
        return report


if __name__ == "__main__":  # the CLI lives in cli.py; `python -m tests.cluster.cluster` still runs it
    from tests.cluster.cli import main

    sys.exit(main())
