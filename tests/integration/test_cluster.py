"""The multi-host test cluster itself: real namespaces, sshd, Ansible and Open MPI across hosts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster import netns, procs
from tests.cluster.cluster import Cluster
from tests.cluster.fixtures import BASE_DIR
from tests.cluster.registry import leftovers_of
from tests.integration.playbook import ADHOC_RESULT, controller_tool

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]


def _ansible(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }
    argv = [controller_tool("ansible"), "-i", str(cluster.inventory), "clients", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def _adhoc_results(stdout: str) -> dict[str, tuple[str, dict]]:
    """host -> (status, result) from the ad-hoc `minimal` output with JSON result format."""
    decoder = json.JSONDecoder()
    return {
        match.group(1): (match.group(2), decoder.raw_decode(stdout, match.end())[0])
        for match in ADHOC_RESULT.finditer(stdout)
    }


def test_every_host_reports_its_own_hostname(cluster3: Cluster) -> None:
    assert cluster3.names == ["h1", "h2", "h3"]
    for host in cluster3.hosts:
        assert cluster3.ssh(host.name, ["hostname"]).stdout.strip() == host.name
        # Its only IPv4 address is its own, and there is no default route (no DNS waits).
        addrs = cluster3.ssh(host.name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"inet {host.ip}/24" in addrs
        assert cluster3.ssh(host.name, ["ip", "route", "show", "default"]).stdout.strip() == ""


def test_hosts_reach_each_other_by_name(cluster3: Cluster) -> None:
    config = str(cluster3.ssh_config)
    expected = [[host.ip, host.name] for host in cluster3.hosts]
    for src in cluster3.hosts:
        resolved = cluster3.ssh(src.name, ["getent", "hosts", *cluster3.names]).stdout.splitlines()
        assert [line.split()[:2] for line in resolved] == expected
        for dst in cluster3.hosts:
            if dst is not src:
                hop = cluster3.ssh(src.name, ["ssh", "-F", config, dst.name, "hostname"])
                assert hop.stdout.strip() == dst.name
    # The controller reaches the hosts by name through the ssh_config aliases.
    assert cluster3.ssh("h3", ["cat", "/proc/sys/kernel/hostname"]).stdout.strip() == "h3"


def test_inventory_and_cluster_json_describe_the_hosts(cluster3: Cluster) -> None:
    described = json.loads(cluster3.json_path.read_text())
    assert described["state"] == "up"
    assert described["launcher"] == "h1"
    assert [(h["name"], h["ip"]) for h in described["hosts"]] == [(h.name, h.ip) for h in cluster3.hosts]
    for host in described["hosts"]:
        assert procs.exists(host["sshd_pid"])
        assert host["netns"] in netns.netns_list()
    inventory = cluster3.inventory.read_text()
    first_client = inventory.split("[clients]\n", 1)[1].splitlines()[0]
    assert first_client == f"h1 ansible_host={cluster3.hosts[0].ip}"
    assert f"ansible_ssh_common_args='-F {cluster3.ssh_config}'" in inventory
    interpreter = re.search(r"^ansible_python_interpreter=(\S+)$", inventory, re.MULTILINE).group(1)
    assert Path(interpreter).is_absolute() and os.access(interpreter, os.X_OK)


def test_ansible_ping_and_command_on_all_hosts(cluster3: Cluster) -> None:
    proc = _ansible(cluster3, "-m", "ansible.builtin.ping")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = _adhoc_results(proc.stdout)
    assert set(results) == {"h1", "h2", "h3"}
    assert all(status == "SUCCESS" and result["ping"] == "pong" for status, result in results.values())

    facts = _ansible(cluster3, "-m", "ansible.builtin.setup", "-a", "filter=ansible_hostname")
    assert facts.returncode == 0, facts.stdout + facts.stderr
    hostnames = {
        name: res["ansible_facts"]["ansible_hostname"] for name, (_, res) in _adhoc_results(facts.stdout).items()
    }
    assert hostnames == {"h1": "h1", "h2": "h2", "h3": "h3"}
    # Ansible's own control masters live in the cluster dir, where teardown closes them.
    assert any(sock.is_socket() and len(sock.name) == 10 for sock in cluster3.control_dir.iterdir())


def test_mpirun_from_launcher_spans_all_hosts(cluster3: Cluster, cluster_venv: Path) -> None:
    mpirun = cluster_venv / "bin" / "mpirun"
    # What works with the Open MPI 5 wheel: run as root, explicit slots and one rank per node; the
    # absolute mpirun path lets the remote prted be found without --prefix.
    argv = [
        str(mpirun),
        "--allow-run-as-root",
        "--oversubscribe",
        "--host", "h1:1,h2:1,h3:1",
        "-np", "3",
        "--map-by", "node",
        "--mca", "plm_rsh_agent", f"ssh -F {cluster3.ssh_config}",
        "hostname",
    ]  # fmt: skip
    proc = cluster3.ssh(cluster3.launcher.name, argv, timeout=120)
    assert sorted(proc.stdout.split()) == ["h1", "h2", "h3"]


def test_private_mount_is_local_to_each_host(cluster_factory) -> None:
    cluster = cluster_factory(2, private_mounts=True)
    local = cluster.private_path
    marker = f"{local}/marker-{cluster.id}"
    cluster.ssh("h1", ["sh", "-c", 'echo from-h1 > "$1"', "sh", marker])
    assert cluster.ssh("h1", ["cat", marker]).stdout.strip() == "from-h1"
    assert cluster.ssh("h2", ["test", "-e", marker], check=False).returncode == 1
    assert not Path(marker).exists()  # nor in the controller's namespace
    # Two different filesystems, while the rest (e.g. the cluster dir) stays shared.
    devices = {h: cluster.ssh(h, ["stat", "-c", "%d", local]).stdout.strip() for h in ("h1", "h2")}
    assert devices["h1"] != devices["h2"]
    shared = cluster.dir / f"shared-{cluster.id}"
    cluster.ssh("h1", ["touch", str(shared)])
    assert cluster.ssh("h2", ["test", "-e", str(shared)], check=False).returncode == 0
    cluster.down()


def _pids_in_cluster_namespaces(cluster: Cluster) -> set[int]:
    pids = set()
    for host in cluster.hosts:
        listed = subprocess.run(["ip", "netns", "pids", host.netns], capture_output=True, text=True, check=True)
        pids |= {int(pid) for pid in listed.stdout.split()}
    return pids


def _assert_nothing_left(cluster: Cluster, pids: set[int], sockets: list[Path]) -> None:
    """Check with the plain tools, independently of the library's own leftover scan."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"mlps-{cluster.id}-" not in namespaces
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    assert f"mlps{cluster.id}" not in links
    assert not [h for h in cluster.hosts if Path("/etc/netns", h.netns).exists()]
    assert [pid for pid in pids if procs.exists(pid)] == []
    assert [sock for sock in sockets if sock.exists()] == []
    mine = f"{cluster.dir}/"
    assert [p for p in procs.all_pids() if any(mine in arg for arg in procs.cmdline(p))] == []
    assert leftovers_of(cluster.id, cluster.dir) == []


def test_down_leaves_nothing_behind_and_is_idempotent(cluster_factory) -> None:
    cluster = cluster_factory(2)
    config = str(cluster.ssh_config)
    # Masters from the controller, from Ansible, and one inside h1 (to h2); a process on h2.
    cluster.ssh("h1", ["ssh", "-F", config, "h2", "true"])
    assert _ansible(cluster, "-m", "ansible.builtin.ping").returncode == 0
    cluster.ssh("h2", ["sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 &"])
    pids = _pids_in_cluster_namespaces(cluster) | {h.sshd_pid for h in cluster.hosts}
    sockets = [sock for sock in cluster.control_dir.iterdir() if sock.is_socket()]
    assert len(sockets) >= 5  # controller x2, Ansible x2, h1->h2
    assert any("sleep" in " ".join(procs.cmdline(pid)) for pid in pids)

    started = time.monotonic()
    cluster.down()
    assert time.monotonic() - started < 30  # a hang here means a process ignored SIGKILL
    _assert_nothing_left(cluster, pids, sockets)
    assert json.loads(cluster.json_path.read_text())["state"] == "down"
    cluster.down()  # idempotent
    _assert_nothing_left(cluster, pids, sockets)


def test_leftovers_of_a_killed_owner_are_swept_by_the_next_up(cluster_factory) -> None:
    crashed_dir = BASE_DIR / f"crash-{os.getpid()}"
    script = (
        "import os, sys\n"
        "from tests.cluster.cluster import Cluster, Owner\n"
        "c = Cluster(sys.argv[1], 2, owner=Owner.current()).up()\n"
        "c.ssh('h1', ['true'])\n"
        "print(c.id, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(crashed_dir)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert proc.returncode == -9, proc.stderr
    stale_id = proc.stdout.strip()
    stale = Cluster.load(crashed_dir)
    assert stale.id == stale_id and stale.state == "up"
    stale_pids = _pids_in_cluster_namespaces(stale)
    assert stale_pids, "the crashed run should have left its sshds running"

    fresh = cluster_factory(1)
    assert fresh.id != stale_id
    _assert_nothing_left(stale, stale_pids, [])
    fresh.down()
    shutil.rmtree(crashed_dir, ignore_errors=True)


def test_cli_up_status_down_and_reuse_of_a_dir() -> None:
    directory = str(BASE_DIR / f"cli-{os.getpid()}")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "tests.cluster.cluster", *args]
        return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)

    try:
        first = cli("up", "--hosts", "2", "--dir", directory)
        assert first.returncode == 0, first.stderr
        first_id = Cluster.load(directory).id
        status = cli("status", "--dir", directory)
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True
        # A CLI cluster has no owner process, so it outlives the CLI ...
        assert Cluster.load(directory).owner is None
        assert netns.objects_of(first_id)["netns"]
        # ... until `up` on the same dir replaces it.
        second = cli("up", "--hosts", "2", "--dir", directory)
        assert second.returncode == 0, second.stderr
        second_cluster = Cluster.load(directory)
        assert second_cluster.id != first_id
        assert leftovers_of(first_id, None) == []
        assert cli("down", "--dir", directory).returncode == 0
        assert leftovers_of(second_cluster.id, Path(directory)) == []
        unhealthy = cli("status", "--dir", directory)
        assert unhealthy.returncode == 1 and json.loads(unhealthy.stdout)["state"] == "down"
        bad = cli("up", "--hosts", "0", "--dir", directory)
        assert bad.returncode == 1
        assert bad.stderr.startswith("error: hosts=0 is out of range") and "Traceback" not in bad.stderr
        too_long = cli("up", "--dir", "/tmp/" + "d" * 60)
        assert too_long.returncode == 1 and "too long for ssh control sockets" in too_long.stderr
        taken = cli("up", "--subnet", "127.0.0.0/24", "--dir", directory)
        assert taken.returncode == 1 and "overlaps" in taken.stderr
    finally:
        cli("down", "--dir", directory)
        shutil.rmtree(directory, ignore_errors=True)


def test_parallel_clusters_get_distinct_names_and_subnets(cluster3: Cluster, cluster_factory) -> None:
    other = cluster_factory(1)
    assert other.id != cluster3.id and other.subnet != cluster3.subnet
    assert other.hosts[0].netns.startswith(f"mlps-{other.id}-")
    assert cluster3.ssh("h1", ["hostname"]).stdout.strip() == "h1"  # untouched by the second up
    other.down()
