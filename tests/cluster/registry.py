"""Which test cluster owns which names and processes, and tearing clusters down.

Every cluster registers /run/mlps-cluster/<id>.json (pointing at its dir) before it creates
anything. A cluster is alive while its dir's cluster.json names it, is not down, and its owner
process (if any) still runs; everything else is stale and `gc` removes it. One lock file
serialises up/down/gc of all clusters on the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.cluster import netns, procs, slurm, sshd
from tests.cluster.netns import ClusterError
from tests.cluster.procs import Owner

REGISTRY = Path("/run/mlps-cluster")


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """Serialise up/down/gc of all clusters on this machine (subnet choice, leftover sweep)."""
    REGISTRY.mkdir(mode=0o755, parents=True, exist_ok=True)
    with (REGISTRY / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def register(cid: str, directory: Path) -> None:
    write_json(REGISTRY / f"{cid}.json", {"dir": str(directory)})


def registered() -> dict[str, Path]:
    entries = {}
    if REGISTRY.is_dir():
        for path in REGISTRY.glob("*.json"):
            data = read_json(path)
            if data and "dir" in data:
                entries[path.stem] = Path(data["dir"])
    return entries


def is_alive(cid: str, directory: Path | None) -> bool:
    """A cluster lives while its dir describes it as not down and its owner (if any) runs."""
    if directory is None:
        return False
    data = read_json(directory / "cluster.json")
    if not data or data.get("id") != cid or data.get("state") == "down":
        return False
    owner = Owner.from_json(data.get("owner"))
    return owner is None or owner.alive()


def _own_dir(cid: str, directory: Path | None) -> Path | None:
    """`directory` if it may still hold files of `cid`, None once another cluster took it over."""
    if directory is None:
        return None
    data = read_json(directory / "cluster.json")
    return directory if data is None or data.get("id") == cid else None


def _own_files(directory: Path | None) -> list[str]:
    if directory is None:
        return []
    sshd_configs = [str(path) for path in directory.glob("sshd/*/sshd_config")]
    return sshd_configs + slurm.Paths(directory).own_files()


def _pids_of(cid: str, directory: Path | None) -> set[int]:
    directory = _own_dir(cid, directory)
    mux = f"{directory / 'cm'}/" if directory else None
    found = procs.pids_in_netns(netns.objects_of(cid)["netns"]) | procs.pids_naming(_own_files(directory), mux)
    # slurmctld's helper renames itself ": slurmscriptd": it is ours because its parent is.
    return found | procs.descendants(found)


def leftovers_of(cid: str, directory: Path | None) -> list[str]:
    """Everything of cluster `cid` still present: namespaces, links, dirs, processes, masters."""
    found = [f"{kind} {name}" for kind, names in netns.objects_of(cid).items() for name in names]
    for pid in sorted(_pids_of(cid, directory)):
        found.append(f"process {pid} {' '.join(procs.cmdline(pid))[:80]}")
    directory = _own_dir(cid, directory)
    control_dir = directory / "cm" if directory else None
    if control_dir and control_dir.is_dir():
        found += [f"ssh master socket {s}" for s in sorted(control_dir.iterdir()) if s.is_socket()]
    if (REGISTRY / f"{cid}.json").exists():
        found.append(f"registry entry {REGISTRY / f'{cid}.json'}")
    return found


def teardown(cid: str, directory: Path | None, children: list[subprocess.Popen[bytes]] = ()) -> None:
    """Stop and delete everything of `cid`; caller holds the registry lock. Idempotent."""
    directory = _own_dir(cid, directory)
    if directory is not None:
        sshd.close_masters(directory / "cm")
    for _ in range(3):  # sshd may fork a session between the scan and the kill; rescan
        pids = _pids_of(cid, directory)
        if not pids:
            break
        procs.terminate(pids)
    for child in children:  # reap our own launchers so no zombie is left in this process
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=2)
    netns.delete_network(cid)
    if directory is not None:
        slurm.remove_runtime(directory, cid)
    (REGISTRY / f"{cid}.json").unlink(missing_ok=True)
    if directory is not None:
        data = read_json(directory / "cluster.json")
        if data and data.get("id") == cid and data.get("state") != "down":
            data["state"] = "down"
            data["owner"] = None
            write_json(directory / "cluster.json", data)
    left = leftovers_of(cid, directory)
    if left:
        raise ClusterError(f"cluster {cid} teardown left {len(left)} object(s): {'; '.join(left)}")


def gc() -> tuple[list[str], list[str]]:
    """Tear down every cluster whose owner is gone or whose directory no longer describes it.

    Returns (ids cleaned, errors); one stubborn leftover does not stop the others being cleaned.
    """
    with lock():
        return gc_locked()


def gc_locked() -> tuple[list[str], list[str]]:
    entries = registered()
    cleaned, errors = [], []
    for cid in sorted(netns.cluster_ids_present() | set(entries)):
        directory = entries.get(cid)
        if is_alive(cid, directory):
            continue
        try:
            teardown(cid, directory)
            cleaned.append(cid)
        except ClusterError as exc:
            errors.append(str(exc))
    return cleaned, errors
