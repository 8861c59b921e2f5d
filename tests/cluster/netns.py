"""Network side of the test cluster: names, a free subnet, namespaces, bridge, veth pairs.

Layout: the bridge lives in its own "switch" namespace mlps-<id>-sw; each host namespace
mlps-<id>-h<i> has an eth0 whose peer is a port of that bridge; the controller (root namespace)
joins through one veth, mlps<id>c, which holds the .1 address. Keeping the bridge out of the root
namespace keeps host-to-host traffic away from the machine's firewall: with br_netfilter loaded
(Docker loads it and sets FORWARD to DROP), bridged frames in the root namespace go through its
iptables FORWARD chain; in the switch namespace that hook is switched off (the sysctl is per
namespace). Every name carries the cluster id, so parallel clusters and leftovers are told apart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

NETNS_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")
SYS_NET = Path("/sys/class/net")
DEFAULT_POOL = "10.213.0.0/16"

_NS_RE = re.compile(r"^mlps-([0-9a-f]{6})-(?:h\d+|sw)$")
_LINK_RE = re.compile(r"^mlps([0-9a-f]{6})c$")
BRIDGE = "br0"  # inside the switch namespace, so it needs no unique name


class ClusterError(RuntimeError):
    """A cluster step failed; the message says which and what to do."""


def run(argv: list[str], *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise ClusterError(f"command failed ({proc.returncode}): {' '.join(argv)}: {detail}")
    return proc


def netns_name(cid: str, index: int) -> str:
    return f"mlps-{cid}-h{index}"


def switch_netns(cid: str) -> str:
    return f"mlps-{cid}-sw"


def controller_link(cid: str) -> str:
    """The root namespace's end of the controller veth (link names stay under 16 characters)."""
    return f"mlps{cid}c"


def netns_list() -> list[str]:
    try:
        return sorted(entry.name for entry in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def link_list() -> list[str]:
    """Links of the root namespace (the one this process runs in)."""
    return sorted(entry.name for entry in SYS_NET.iterdir())


def etc_netns_list() -> list[str]:
    try:
        return sorted(entry.name for entry in ETC_NETNS.iterdir())
    except FileNotFoundError:
        return []


def cluster_ids_present() -> set[str]:
    """Ids of every cluster that still owns a namespace, a link or an /etc/netns directory."""
    ids = set()
    for name in netns_list() + etc_netns_list():
        if match := _NS_RE.match(name):
            ids.add(match.group(1))
    for name in link_list():
        if match := _LINK_RE.match(name):
            ids.add(match.group(1))
    return ids


def objects_of(cid: str) -> dict[str, list[str]]:
    """What of cluster `cid` exists right now, by kind (empty lists when fully torn down)."""
    return {
        "netns": [n for n in netns_list() if n.startswith(f"mlps-{cid}-")],
        "links": [n for n in link_list() if n.startswith(f"mlps{cid}")],
        "etc_netns": [n for n in etc_netns_list() if n.startswith(f"mlps-{cid}-")],
    }


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    nets = []
    for argv in (["ip", "-j", "-4", "addr", "show"], ["ip", "-j", "-4", "route", "show", "table", "all"]):
        for entry in json.loads(run(argv).stdout or "[]"):
            if "addr_info" in entry:
                for info in entry["addr_info"]:
                    nets.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
            elif entry.get("dst") not in (None, "default"):
                nets.append(ipaddress.ip_network(entry["dst"], strict=False))
    return [net for net in nets if isinstance(net, ipaddress.IPv4Network)]


def pick_subnet(pool: str = DEFAULT_POOL) -> ipaddress.IPv4Network:
    """The first /24 of `pool` that overlaps no address or route of the root namespace."""
    try:
        pool_net = ipaddress.IPv4Network(pool)
    except ValueError as exc:
        raise ClusterError(f"subnet pool {pool!r} is not an IPv4 network such as 10.213.0.0/16") from exc
    used = _networks_in_use()
    candidates = pool_net.subnets(new_prefix=24) if pool_net.prefixlen <= 24 else [pool_net]
    for net in candidates:
        if not any(net.overlaps(other) for other in used):
            return net
    raise ClusterError(f"no free /24 left in subnet pool {pool}: tear down old clusters or pass another pool")


def check_subnet(subnet: str, hosts: int) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(subnet)
    except ValueError as exc:
        raise ClusterError(f"subnet {subnet!r} is not an IPv4 network such as 10.213.7.0/24") from exc
    if net.num_addresses < hosts + 12:
        raise ClusterError(f"subnet {subnet} is too small for {hosts} hosts: use a /24")
    clash = [str(other) for other in _networks_in_use() if net.overlaps(other)]
    if clash:
        raise ClusterError(f"subnet {subnet} overlaps {', '.join(clash)} already in use: pick another")
    return net


def controller_ip(net: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return net.network_address + 1


def host_ip(net: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    return net.network_address + 10 + index


def create_switch(cid: str, net: ipaddress.IPv4Network) -> None:
    """The switch namespace with its bridge, and the controller's veth holding the .1 address."""
    sw, ctl = switch_netns(cid), controller_link(cid)
    run(["ip", "netns", "add", sw])
    # Unknown keys (br_netfilter not loaded) are fine: then nothing filters bridged frames anyway.
    keys = [f"net.bridge.bridge-nf-call-{kind}=0" for kind in ("iptables", "ip6tables", "arptables")]
    run(["ip", "netns", "exec", sw, "sysctl", "-q", "-e", "-w", *keys])
    run(["ip", "-n", sw, "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "-n", sw, "link", "set", BRIDGE, "up"])
    run(["ip", "link", "add", ctl, "type", "veth", "peer", "name", "ctl", "netns", sw])
    run(["ip", "-n", sw, "link", "set", "ctl", "master", BRIDGE, "up"])
    run(["ip", "addr", "add", f"{controller_ip(net)}/{net.prefixlen}", "dev", ctl])
    run(["ip", "link", "set", ctl, "up"])


def create_host_netns(cid: str, index: int, net: ipaddress.IPv4Network, hosts_text: str) -> str:
    """A namespace whose eth0 is a port of the switch bridge, with lo up and no default route."""
    ns, sw, port = netns_name(cid, index), switch_netns(cid), f"h{index}"
    etc_dir = ETC_NETNS / ns
    etc_dir.mkdir(parents=True, exist_ok=True)
    # `ip netns exec` bind-mounts every file here over /etc/<file> inside the namespace.
    (etc_dir / "hosts").write_text(hosts_text)
    # Each test host is its own machine to the facts collector (hosts are deduplicated by machine-id).
    (etc_dir / "machine-id").write_text(uuid.uuid4().hex + "\n")
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "-n", sw, "link", "set", port, "master", BRIDGE, "up"])
    run(["ip", "-n", ns, "addr", "add", f"{host_ip(net, index)}/{net.prefixlen}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    return ns


def delete_network(cid: str) -> None:
    """Remove the controller link, namespaces and /etc/netns dirs of `cid`; absent ones are fine."""
    found = objects_of(cid)
    # Deleting one end removes the pair at once; a namespace's own cleanup is asynchronous.
    for link in found["links"]:
        run(["ip", "link", "delete", link], check=False)
    for ns in found["netns"]:
        run(["ip", "netns", "delete", ns], check=False)
    for ns in found["etc_netns"]:
        shutil.rmtree(ETC_NETNS / ns, ignore_errors=True)


def is_root() -> bool:
    return os.geteuid() == 0
