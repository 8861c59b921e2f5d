"""`systems/<system>.yaml` from the collected host facts, and a field-by-field diff against a
hand-written description.

Facts know the clients (CPU, memory, NICs, OS, kernel, the data directory's mount); they cannot
know the storage product, its rack units, capacity as sold, cost or availability. Those fields
hold a `TODO-FILL-IN: ...` placeholder saying what to write, so a reviewer sees at a glance what
is measured and what is still missing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mlps import __version__
from mlps.cluster import GIB, ClusterInfo
from mlps.jsonio import YAML_MAX_BYTES, ReadError, load_yaml, parse_json, read_bytes
from mlps.report.files import MARKER
from mlps.report.tables import PLACEHOLDER

SCHEMA = "mlps-system-description/1"
TIB = 2**40
# Filesystem type of the data mount -> the table's Access Protocol.
PROTOCOLS = {"nfs": "NFS", "nfs4": "NFS", "cifs": "SMB", "smb3": "SMB", "lustre": "Lustre", "gpfs": "GPFS",
             "beegfs": "BeeGFS", "ceph": "CephFS", "fuse.s3fs": "S3 (FUSE)", "fuse.mountpoint-s3": "S3 (FUSE)",
             "wekafs": "WekaFS", "xfs": "Block (local)", "ext4": "Block (local)", "btrfs": "Block (local)"}
UNKNOWN = {
    "name": f"{PLACEHOLDER}: the storage product's name as it should appear in the results table",
    "description": f"{PLACEHOLDER}: one sentence on the storage system (product, media, network)",
    "type": f"{PLACEHOLDER}: local storage | hyper-converged | remote (NAS, SAN, object, parallel fs)",
    "availability": f"{PLACEHOLDER}: available | preview | RDI",
    "rack_units": f"{PLACEHOLDER}: rack units of the storage system (a number)",
    "usable_capacity_tib": f"{PLACEHOLDER}: usable capacity in TiB (at least 1)",
    "int_client_store_tib": f"{PLACEHOLDER}: storage integrated in the clients, in TiB (0 if none)",
    "cost": f"{PLACEHOLDER}: list price and currency, or remove if not disclosed",
    "power": f"{PLACEHOLDER}: power supplies (count, rating W) of the storage system",
}


def _gib(value) -> float | None:
    return None if value is None else round(value / GIB, 1)


def client_entry(host, data_path: str | None) -> dict:
    facts = host.facts
    summary = (facts.get("cpuinfo") or {}).get("summary") or {}
    mtus = facts.get("net_mtu") or {}
    nics = [{"name": name, "mtu": mtus.get(name)} for name in sorted(set(mtus) | set(facts.get("net_dev") or {}))
            if name != "lo"]
    mount = host.path_mount(data_path)
    probe = (facts.get("paths") or {}).get(data_path or "") or {}
    entry = {
        "hostname": host.hostname,
        "cpu": {"model": summary.get("model"), "architecture": summary.get("architecture"),
                "sockets": summary.get("sockets"), "physical_cores": summary.get("physical_cores"),
                "logical_cpus": summary.get("logical_cpus")},
        "memory_gib": _gib(host.memory_total_bytes),
        "nics": nics,
        "os": host.os_name,
        "kernel": host.kernel_release,
        "data_mount": None,
    }
    if mount:
        entry["data_mount"] = {"path": data_path, "mountpoint": mount.get("mountpoint"),
                               "fstype": mount.get("fstype"), "device": mount.get("device"),
                               "options": ",".join(mount.get("options") or [])}
        if isinstance(probe.get("total_bytes"), int):
            entry["data_mount"]["size_tib"] = round(probe["total_bytes"] / TIB, 3)
    return entry


def describe(cluster: ClusterInfo | None, *, system: str, org: str | None, division: str | None,
             source: str | None) -> dict:
    """The system description: measured client facts plus placeholders for the rest."""
    solution = dict(UNKNOWN)
    clients = [client_entry(h, cluster.data_path) for h in cluster.hosts] if cluster else []
    fstypes = sorted({c["data_mount"]["fstype"] for c in clients if c["data_mount"]})
    if len(fstypes) == 1 and fstypes[0] in PROTOCOLS:
        solution["access_protocol"] = PROTOCOLS[fstypes[0]]
    else:
        shown = ", ".join(fstypes) or "unknown"
        solution["access_protocol"] = f"{PLACEHOLDER}: how clients reach the storage (data mount type: {shown})"
    doc = {
        "schema": SCHEMA,
        "system_name": system,
        "submitter": org,
        "division": (division or "").upper() or None,
        "solution": solution,
        "clients": {
            "count": len(clients),
            "total_memory_gib": _gib(cluster.total_memory_bytes) if cluster else None,
            "total_physical_cores": cluster.total_physical_cores if cluster else None,
            "data_path": cluster.data_path if cluster else None,
            "facts_from": source,
            "nodes": clients,
        },
    }
    if not clients:
        doc["clients"]["nodes"] = f"{PLACEHOLDER}: no host facts found; pass --system-from cluster_info.json"
    return doc


def to_yaml(doc: dict) -> str:
    header = (f"{MARKER} {__version__} from collected host facts.\n"
              f"# Fields starting {PLACEHOLDER} are what facts cannot know: replace them. Once you edit this\n"
              "# file, delete the first line: mlps report then leaves it alone and writes\n"
              "# <name>.generated.yaml beside it, with a diff.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)


# --- comparing with a hand-written description -----------------------------------------------------
def load_description(path: Path, root=None) -> object:
    """A hand-written systems file (YAML, or the JSON of older rounds), read below `root` when given
    (a symlink out of it is not read); a broken one reads as its error."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            return parse_json(read_bytes(path, max_bytes=YAML_MAX_BYTES, root=root), path)
        return load_yaml(path, root=root)
    except ReadError as exc:
        return {"(unreadable)": exc.detail}


def flatten(value, prefix: str = "") -> dict:
    """{dotted.path[index]: scalar} of a nested document."""
    out: dict = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "."] = value
    return out


def diff(hand: object, generated: dict) -> list[str]:
    """Field-by-field: `~` differs, `-` only in the hand-written file, `+` only in the generated one.
    Placeholders the hand-written file leaves out are not listed: facts had nothing to say there."""
    old, new = flatten(hand), flatten(generated)
    lines = []
    for key in sorted(old.keys() | new.keys()):
        if key in old and key in new:
            if old[key] != new[key]:
                lines.append(f"~ {key}: hand-written {old[key]!r}, from facts {new[key]!r}")
        elif key in old:
            lines.append(f"- {key}: {old[key]!r} (only in the hand-written file)")
        elif not (isinstance(new[key], str) and new[key].startswith(PLACEHOLDER)):
            lines.append(f"+ {key}: {new[key]!r} (only from facts)")
    return lines
