"""The controller side of a training campaign: the plan, the results-tree leaves, their metadata,
DLIO's overrides, collecting what the hosts wrote, and run/results.json.

Pure Python (no Ansible): the mlps_training role's action plugin calls it, unit tests cover it.
Layout (DESIGN.md section 4):
`<results>/<division>/<org>/results/<system>/training/<model>/<command>/<YYYYMMDD_HHMMSS>/`.
"""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

from mlps_rules import __version__, archive_intake, datasize, editions, inputs, report_math
from mlps_rules.cluster import ClusterInfo, read_cluster_info
from mlps_rules.errors import UserError
from mlps_rules.jsonio import load_json
from mlps_rules.jsonio import write_json_atomic as _write_json_atomic
from mlps_rules.workloads import DLIO_CONFIG_DIR, get_training_workload

BENCHMARK = "training"
COMMANDS = ("datasize", "datagen", "run")
STATUSES = ("running", "completed", "failed", "timed_out", "interrupted", "skipped")
METADATA_SCHEMA = "mlps-training-metadata/1"
PLAIN_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
STAMP = "%Y%m%d_%H%M%S"
# Keys the campaign sets itself on every DLIO call; a user override of them would be ignored.
CAMPAIGN_KEYS = frozenset({"dataset.data_folder", "dataset.num_files_train", "dataset.num_subfolders_train",
                           "checkpoint.checkpoint_folder", "output.folder"})


# --- names and paths ----------------------------------------------------------------------------
def check_name(what: str, value) -> str:
    """A results-tree path segment: plain letters, digits, '.', '_' or '-' (no '/', no '..')."""
    text = str(value)
    if not PLAIN_NAME.match(text) or text in (".", ".."):
        raise UserError(f"{what}={value!r}: expected a plain name of letters, digits, '.', '_' or '-' "
                        f"(it becomes a folder of the results tree); set {what} to such a name")
    return text


def workload_dir(results_dir, division: str, org: str, system: str, model: str) -> Path:
    division = check_name("mlps_training_division", division)
    if division not in ("closed", "open"):
        raise UserError(f"mlps_training_division={division!r}: expected closed or open")
    return (Path(results_dir) / division / check_name("mlps_training_org", org) / "results"
            / check_name("mlps_training_system", system) / BENCHMARK / check_name("mlps_training_model", model))


def metadata_name(stamp: str, benchmark: str = BENCHMARK) -> str:
    """`<benchmark>_<stamp>_metadata.json`, the metadata file of a leaf of that benchmark."""
    return f"{check_name('benchmark', benchmark)}_{stamp}_metadata.json"


def allocate_leaf(workload: Path, command: str | None, *, clock=None, sleep=time.sleep,
                  tries: int = 30) -> tuple[Path, str]:
    """Create a new leaf folder named after the current second and return (path, stamp).

    The leaf goes under `<workload>/<command>/`, or directly into the workload folder when command
    is None (checkpointing leaves have no command segment, RULES.md 7.1). mkdir is exclusive, so two
    campaigns never share a leaf and an earlier leaf is never reused; when the second is taken, wait
    for the next one.
    """
    if command is not None and command not in COMMANDS:
        raise UserError(f"command {command!r}: expected one of {', '.join(COMMANDS)}")
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


def update_metadata(leaf, stamp: str, changes: dict, benchmark: str = BENCHMARK) -> dict:
    """Merge `changes` into the leaf's metadata (top-level keys replaced) and write it atomically;
    a new file gets the schema `mlps-<benchmark>-metadata/1`."""
    path = Path(leaf) / metadata_name(stamp, benchmark)
    current = load_json(path) if path.is_file() else {}
    if not isinstance(current, dict):
        raise UserError(f"{path}: expected a JSON object of run metadata, found {type(current).__name__}; "
                        "restore the file or move the leaf aside")
    if changes.get("status") is not None and changes["status"] not in STATUSES:
        raise UserError(f"status {changes['status']!r}: expected one of {', '.join(STATUSES)}")
    current.update(changes)
    current.setdefault("schema", METADATA_SCHEMA if benchmark == BENCHMARK else f"mlps-{benchmark}-metadata/1")
    current["updated_at"] = utc_now()
    write_json_atomic(path, current)
    return current


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


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- the plan ------------------------------------------------------------------------------------
def plan_campaign(*, model: str, accelerator: str, accelerators_per_host: int, hosts: list, cluster_info,
                  num_files_train: int = 0, accept_undersized: bool = False,
                  edition: str = editions.CURRENT, extra: dict | None = None) -> dict:
    """The dataset size and rank placement for a campaign, from measured memory (cluster_info.json).

    A user num_files_train below what the rules need stops the campaign unless accept_undersized,
    in which case the run is recorded as knowingly undersized (OPEN/INVALID by TRAIN-DATASIZE).
    """
    workload = get_training_workload(model, accelerator)
    if workload.dlio_2_0_0_gap:
        raise UserError(f"{model}/{accelerator} cannot run on DLIO 2.0.0: {workload.dlio_2_0_0_gap}")
    if not hosts:
        raise UserError("the clients group is empty; list the client hosts in the inventory's [clients] group")
    if isinstance(accelerators_per_host, bool) or not isinstance(accelerators_per_host, int) \
            or accelerators_per_host < 1:
        raise UserError(f"mlps_training_accelerators_per_host={accelerators_per_host!r}: expected a whole "
                        "number of simulated accelerators per client, at least 1")
    # A --check run writes no snapshot and hands the cluster view over as a dict instead.
    info = ClusterInfo.from_dict(cluster_info) if isinstance(cluster_info, dict) else read_cluster_info(cluster_info)
    if not info.memory_complete:
        raise UserError(f"{cluster_info}: MemTotal unknown on some client; gather facts again before planning")
    num_accelerators = accelerators_per_host * len(hosts)
    plan = datasize.plan_datasize(workload, info.total_memory_bytes, num_accelerators)
    out = {
        "model": model, "accelerator": accelerator, "num_accelerators": num_accelerators,
        "accelerators_per_host": accelerators_per_host, "hosts": list(hosts),
        "ranks_per_host": {host: accelerators_per_host for host in hosts},
        "client_memory_bytes": info.total_memory_bytes, "num_client_hosts": info.num_hosts,
        "edition": edition, "plan": plan.to_dict(), "rule": datasize.RULE_TEXT,
        "accept_undersized": bool(accept_undersized), "undersized": False,
        "num_files_train": plan.num_files_train, "num_subfolders_train": plan.num_subfolders_train,
        "source": "planned from measured memory",
        "run_workload": workload.config_name, "datagen_workload": workload.datagen_config_name,
        "epochs": int((extra or {}).get("train.epochs", workload.epochs)),
        "format": (extra or {}).get("dataset.format", workload.format),
        "record_length": int((extra or {}).get("dataset.record_length", workload.record_length_bytes)),
        "record_length_stdev": int((extra or {}).get("dataset.record_length_stdev",
                                                     workload.record_length_bytes_stdev)),
        "toolkit_version": __version__,
    }
    # DLIO 2.0.0 splits the files over the ranks and fails (IndexError in get_global_map_index) when
    # they do not split evenly, so the planned count is rounded up to a multiple of the ranks.
    rounded = -(-plan.num_files_train // num_accelerators) * num_accelerators
    if rounded != plan.num_files_train:
        out["num_files_train"] = rounded
        out["num_subfolders_train"] = datasize.num_subfolders_train(rounded)
        out["rounded_for_ranks"] = f"{plan.num_files_train} rounded up to {rounded} ({num_accelerators} ranks)"
    if num_files_train and int(num_files_train) % num_accelerators:
        upper = -(-int(num_files_train) // num_accelerators) * num_accelerators
        raise UserError(f"mlps_training_num_files_train={num_files_train} does not split evenly over "
                        f"{num_accelerators} ranks (DLIO fails on a rank when it does not); use {upper}")
    if num_files_train:
        check = datasize.check_user_value(plan, int(num_files_train))
        out["check"] = check.to_dict()
        out["num_files_train"] = int(num_files_train)
        out["num_subfolders_train"] = datasize.num_subfolders_train(int(num_files_train))
        out["source"] = "user value (mlps_training_num_files_train)"
        if not check.ok:
            if not accept_undersized:
                raise UserError(
                    f"mlps_training_num_files_train={num_files_train} is below what the rules need: "
                    f"{check.message}. Rule ({datasize.RULE_ID}): {datasize.RULE_TEXT}. Use at least "
                    f"{plan.num_files_train} (or 0 to plan it), or set mlps_training_accept_undersized=true "
                    "for a run that is recorded as undersized (not submittable)")
            out["undersized"] = True
    out["total_disk_bytes"] = datasize.total_disk_bytes(out["num_files_train"], workload)
    return out


def datasize_metadata(campaign: dict, data_dir: str, stamp: str) -> dict:
    """Metadata of the datasize leaf, in the shape the verifier reads (parameters.dataset, args)."""
    return {
        "schema": METADATA_SCHEMA, "benchmark": BENCHMARK, "command": "datasize", "timestamp": stamp,
        "model": campaign["model"], "status": "completed", "toolkit_version": __version__,
        "parameters": {"dataset": {"num_files_train": campaign["num_files_train"],
                                   "num_subfolders_train": campaign["num_subfolders_train"],
                                   "total_disk_bytes": campaign["total_disk_bytes"]}},
        "args": {"model": campaign["model"], "accelerator_type": campaign["accelerator"],
                 "max_accelerators": campaign["num_accelerators"], "num_client_hosts": campaign["num_client_hosts"],
                 "client_host_memory_in_gb": round(campaign["client_memory_bytes"] / datasize.GIB
                                                   / max(1, campaign["num_client_hosts"]), 3),
                 "data_dir": data_dir},
        "plan": campaign,
    }


def record_skipped_datagen(workload: Path, dataset: dict, context: dict) -> Path | None:
    """A datagen leaf saying the dataset already there was reused (with the check's evidence), so the
    workload still has its one datagen leaf; None when it already has one that completed."""
    folder = Path(workload) / "datagen"
    for leaf in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            status = load_json(leaf / metadata_name(leaf.name)).get("status")
        except (UserError, AttributeError):
            continue
        if status in ("completed", "skipped"):
            return None
    leaf, stamp = allocate_leaf(Path(workload), "datagen")
    update_metadata(leaf, stamp, {
        **context, "benchmark": BENCHMARK, "command": "datagen", "timestamp": stamp, "status": "skipped",
        "message": "datagen skipped: the data folder already holds a dataset matching the plan (count and sizes)",
        "dataset_check": dataset, "started_at": utc_now(), "ended_at": utc_now()})
    return leaf


# --- DLIO's command line -------------------------------------------------------------------------
def _value_text(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def check_overrides(tunables: dict, extra: dict) -> list[str]:
    """Validate the user's DLIO overrides: tunables must be ones the rules allow (CLOSED or OPEN);
    extra ones (anything, for tiny test runs) are taken as given. Returns warnings."""
    allowed = editions.CLOSED_PARAMS | editions.OPEN_PARAMS
    for source, values in (("mlps_training_overrides", tunables), ("mlps_training_extra_overrides", extra)):
        # the same key and value checks as the preflight's (mlps_rules.inputs), for a skipped preflight
        problems = inputs.check_dlio_overrides(source, values)
        if problems:
            raise UserError(problems[0])
        for key in values:
            if key in CAMPAIGN_KEYS:
                raise UserError(f"{source}: {key} is set by the campaign itself; remove it")
    bad = sorted(set(tunables) - allowed)
    if bad:
        raise UserError(f"mlps_training_overrides: {', '.join(bad)} may not be changed under the rules "
                        f"(allowed: {', '.join(sorted(allowed))}); put test-only settings in "
                        "mlps_training_extra_overrides, which marks the runs as not submittable")
    return [f"{key}={_value_text(value)} is not a rules tunable: the run is for testing only"
            for key, value in sorted(extra.items())]


def dlio_command(*, dlio: str, config_dir: str, workload: str, data_folder: str, num_files_train: int,
                 num_subfolders_train: int, checkpoint_folder: str, output_folder: str,
                 tunables: dict, extra: dict) -> tuple[list[str], dict]:
    """(argv of one rank, the overrides as {dotted key: text}) for a DLIO call."""
    overrides = {"dataset.data_folder": data_folder, "dataset.num_files_train": num_files_train,
                 "dataset.num_subfolders_train": num_subfolders_train,
                 "checkpoint.checkpoint_folder": checkpoint_folder, "output.folder": output_folder}
    overrides.update(tunables)
    overrides.update(extra)
    texts = {key: _value_text(value) for key, value in overrides.items()}
    argv = [dlio, "--config-path", str(config_dir), f"workload={workload}",
            *(f"++workload.{key}={value}" for key, value in texts.items()), f"hydra.run.dir={output_folder}"]
    return argv, texts


def default_config_dir() -> str:
    return str(DLIO_CONFIG_DIR)


# --- collecting outputs --------------------------------------------------------------------------
def extract_outputs(archives: list, leaf, routes: dict, limits: dict | None = None) -> tuple[list[str], dict]:
    """Unpack the per-host staging archives ((host, path) pairs) into the leaf, in order (the
    launcher's last, so its summary and log win); `routes` maps each top folder of an archive to
    its folder under the leaf. Each archive is checked before it is unpacked
    (mlps_rules.archive_intake: size and count caps, plain files only, only the names that host's
    phase writes). Returns the files written and {host: reason} for every archive refused."""
    written, refused = set(), {}
    for host, archive in archives:
        try:
            written.update(archive_intake.unpack(archive, host, leaf, routes, limits))
        except archive_intake.ArchiveRefused as exc:
            refused[host] = str(exc)
    return sorted(written), refused


# --- the workload's figures ----------------------------------------------------------------------
def write_results_json(workload: Path) -> dict:
    """run/results.json: the v3.0 per-workload figures, computed from the run leaves (warm-up excluded)."""
    from mlps_rules.reader import read_tree  # noqa: PLC0415 - the reader pulls in yaml; only this needs it

    tree = read_tree(workload)
    # Leaves a campaign left failed or interrupted are kept as evidence but are not results.
    runs = [leaf for wl in tree.workloads for leaf in wl.runs
            if not isinstance(leaf.metadata, dict) or leaf.metadata.get("status", "completed") == "completed"]
    if not runs:
        raise UserError(f"{workload}: no run leaves to compute results.json from")
    edition = editions.get(editions.CURRENT)
    measured = runs[1:] if edition.warmup else runs
    figures = report_math.training_results(measured)
    document = {"schema": "mlps-training-results/1", "edition": edition.name, "toolkit_version": __version__,
                "warmup": runs[0].name if edition.warmup else None, "runs": [leaf.name for leaf in measured],
                "results": figures, "generated_at": utc_now()}
    (Path(workload) / "run").mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(workload) / "run" / "results.json", document)
    return document
