"""The benchmark frame, leaf side: every campaign's results-tree leaves and their metadata lifecycle.

A leaf is one folder per invocation, created with an exclusive mkdir and named after the second it
was made; its metadata file `<benchmark>_<stamp>_metadata.json` says `running` first, then
`completed`, `failed`, `timed_out`, `interrupted` or `skipped`. What the clients staged is unpacked
into it here. Pure Python (no Ansible): the campaign action plugins call it, unit tests cover it.
Layout (the published v3.0 tree, rule book §2.1):
`<results>/<division>/<org>/results/<system>/<benchmark>/<model>/[<command>/]<YYYYMMDD_HHMMSS>/`.
"""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

from mlps.campaign import archive_intake
from mlps.errors import UserError
from mlps.jsonio import load_json
from mlps.jsonio import write_json_atomic as _write_json_atomic

STATUSES = ("running", "completed", "failed", "timed_out", "interrupted", "skipped")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
STAMP = "%Y%m%d_%H%M%S"


# --- names and paths ----------------------------------------------------------------------------
def check_name(what: str, value) -> str:
    """A results-tree path segment: plain letters, digits, '.', '_' or '-' (no '/', no '..')."""
    text = str(value)
    if not PLAIN_NAME.match(text) or text in (".", ".."):
        raise UserError(f"{what}={value!r}: expected a plain name of letters, digits, '.', '_' or '-' "
                        f"(it becomes a folder of the results tree); set {what} to such a name")
    return text


def workload_dir(results_dir, division: str, org: str, system: str, benchmark: str, model: str,
                 prefix: str = "mlps") -> Path:
    """The workload folder; `prefix` names the variables in messages (`mlps_training` -> mlps_training_org)."""
    division = check_name(f"{prefix}_division", division)
    if division not in ("closed", "open"):
        raise UserError(f"{prefix}_division={division!r}: expected closed or open")
    return (Path(results_dir) / division / check_name(f"{prefix}_org", org) / "results"
            / check_name(f"{prefix}_system", system) / check_name("benchmark", benchmark)
            / check_name(f"{prefix}_model", model))


def metadata_name(stamp: str, benchmark: str) -> str:
    """`<benchmark>_<stamp>_metadata.json`, the metadata file of a leaf of that benchmark."""
    return f"{check_name('benchmark', benchmark)}_{stamp}_metadata.json"


def allocate_leaf(workload: Path, command: str | None, *, commands=("datasize", "datagen", "run"), clock=None,
                  sleep=time.sleep, tries: int = 30) -> tuple[Path, str]:
    """Create a new leaf folder named after the current second and return (path, stamp).

    The leaf goes under `<workload>/<command>/`, or directly into the workload folder when command
    is None (checkpointing leaves have no command segment, rule book §2.1). mkdir is exclusive, so
    two campaigns never share a leaf and an earlier leaf is never reused; when the second is taken,
    wait for the next one.
    """
    if command is not None and command not in commands:
        raise UserError(f"command {command!r}: expected one of {', '.join(commands)}")
    clock = clock or datetime.datetime.now
    parent = Path(workload) / command if command is not None else Path(workload)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {parent} ({exc.strerror}); make the results directory writable "
                        "on the controller or set mlps_results_dir") from exc
    for _ in range(tries):
        now = clock()
        stamp = now.strftime(STAMP)
        try:
            (parent / stamp).mkdir()
            return parent / stamp, stamp
        except FileExistsError:
            sleep(max(0.05, 1 - now.microsecond / 1e6))
    raise UserError(f"no free leaf name under {parent} after {tries} tries; is another campaign writing there?")


def write_json_atomic(path, data) -> Path:
    """Write JSON to a temporary file beside `path`, then rename it over: readers never see half a file."""
    return _write_json_atomic(path, data, sort_keys=True, default=str)


def read_metadata(leaf, stamp: str, benchmark: str) -> dict:
    """The leaf's metadata ({} when it has none yet)."""
    path = Path(leaf) / metadata_name(stamp, benchmark)
    current = load_json(path) if path.is_file() else {}
    if not isinstance(current, dict):
        raise UserError(f"{path}: expected a JSON object of run metadata, found {type(current).__name__}; "
                        "restore the file or move the leaf aside")
    return current


def update_metadata(leaf, stamp: str, changes: dict, benchmark: str) -> dict:
    """Merge `changes` into the leaf's metadata (top-level keys replaced) and write it atomically;
    a new file gets the schema `mlps-<benchmark>-metadata/1`."""
    path = Path(leaf) / metadata_name(stamp, benchmark)
    current = read_metadata(leaf, stamp, benchmark)
    if changes.get("status") is not None and changes["status"] not in STATUSES:
        raise UserError(f"status {changes['status']!r}: expected one of {', '.join(STATUSES)}")
    current.update(changes)
    current.setdefault("schema", f"mlps-{benchmark}-metadata/1")
    current["updated_at"] = utc_now()
    write_json_atomic(path, current)
    return current


def leaves_with_metadata(folder, benchmark: str) -> list[tuple[Path, dict]]:
    """The leaves directly under `folder` (never through a link) whose metadata reads as an object,
    oldest first; a leaf without readable metadata is left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for leaf in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
        try:
            meta = load_json(leaf / metadata_name(leaf.name, benchmark))
        except UserError:
            continue
        if isinstance(meta, dict):
            found.append((leaf, meta))
    return found


def close_if_running(leaf, stamp: str, status: str, message: str, benchmark: str | None = None) -> bool:
    """Give a leaf still saying `running` its final status (a campaign that stopped without recording it).

    benchmark None: the leaf's own metadata file says which (the callback plugin serves every benchmark).
    """
    if benchmark is None:
        suffix = f"_{stamp}_metadata.json"
        found = sorted(p.name for p in Path(leaf).glob(f"*{suffix}"))
        if len(found) != 1:
            return False
        benchmark = found[0][: -len(suffix)]
    path = Path(leaf) / metadata_name(stamp, benchmark)
    try:
        current = load_json(path)
    except UserError:
        return False
    if not isinstance(current, dict) or current.get("status") != "running":
        return False
    update_metadata(leaf, stamp, {"status": status, "message": message, "ended_at": utc_now()}, benchmark)
    return True


def probed_folder(setting: str, path: str, host: str, probe: dict | None) -> dict:
    """The probe entry (mlps_preflight_probe's `paths`) of a folder a benchmark writes on the storage under
    test, refused with the fix when the host could not probe it or cannot create it."""
    entry = ((probe or {}).get("paths") or {}).get(path) or {}
    if entry.get("error") or entry.get("free_bytes") is None:
        raise UserError(f"{setting}={path} on {host}: cannot be probed ({entry.get('error') or 'no probe'}); "
                        "point it at a folder on the storage under test")
    if not entry.get("is_dir", True) or not entry.get("writable", True):
        raise UserError(f"{setting}={path} cannot be created on {host}: {entry.get('probed')} is not a "
                        f"{'writable ' if entry.get('is_dir') else ''}folder; point it at a folder on the storage "
                        "under test")
    return entry


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- collecting outputs --------------------------------------------------------------------------
def extract_outputs(archives: list, leaf, routes: dict, limits: dict | None = None,
                    names=archive_intake.DLIO_OUTPUTS) -> tuple[list[str], dict]:
    """Unpack the per-host staging archives ((host, path) pairs) into the leaf, in order (the
    launcher's last, so its summary and log win); `routes` maps each top folder of an archive to
    its folder under the leaf. Each archive is checked before it is unpacked
    (mlps.campaign.archive_intake: size and count caps, plain files only, only the names that
    host's phase writes: `names`, the benchmark's pattern). Returns the files written and
    {host: reason} for every archive refused."""
    written, refused = set(), {}
    for host, archive in archives:
        try:
            written.update(archive_intake.unpack(archive, host, leaf, routes, limits, names))
        except archive_intake.ArchiveRefused as exc:
            refused[host] = str(exc)
    return sorted(written), refused


