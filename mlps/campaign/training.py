"""The training benchmark on the campaign frame: the plan (dataset size from measured memory),
DLIO's command lines and overrides, one phase's start and end (datagen or a run), the reused-dataset
datagen leaf, and run/results.json.

Pure Python (no Ansible): the mlps_campaign action plugin calls it, unit tests cover it. Leaves go
to `<results>/<division>/<org>/results/<system>/training/<model>/<command>/<YYYYMMDD_HHMMSS>/`.
"""

from __future__ import annotations

from pathlib import Path

from mlps import __version__, inputs
from mlps.campaign import frame, phase
from mlps.cluster import ClusterInfo, read_cluster_info
from mlps.errors import UserError
from mlps.plan import datasize
from mlps.results import figures as report_math
from mlps.rulebook import editions
from mlps.rulebook.workloads import DLIO_CONFIG_DIR, get_training_workload

BENCHMARK = "training"
COMMANDS = ("datasize", "datagen", "run")
METADATA_SCHEMA = f"mlps-{BENCHMARK}-metadata/1"
# Keys the campaign sets itself on every DLIO call; a user override of them would be ignored.
CAMPAIGN_KEYS = frozenset({"dataset.data_folder", "dataset.num_files_train", "dataset.num_subfolders_train",
                           "checkpoint.checkpoint_folder", "output.folder"})


def workload_dir(results_dir, division: str, org: str, system: str, model: str) -> Path:
    return frame.workload_dir(results_dir, division, org, system, BENCHMARK, model, prefix="mlps_training")


def metadata_name(stamp: str) -> str:
    return frame.metadata_name(stamp, BENCHMARK)


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
    if any(meta.get("status") in ("completed", "skipped")
           for _leaf, meta in frame.leaves_with_metadata(Path(workload) / "datagen", BENCHMARK)):
        return None
    leaf, stamp = frame.allocate_leaf(Path(workload), "datagen")
    frame.update_metadata(leaf, stamp, {
        **context, "benchmark": BENCHMARK, "command": "datagen", "timestamp": stamp, "status": "skipped",
        "message": "datagen skipped: the data folder already holds a dataset matching the plan (count and sizes)",
        "dataset_check": dataset, "started_at": frame.utc_now(), "ended_at": frame.utc_now()}, BENCHMARK)
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
        # the same key and value checks as the preflight's (mlps.inputs), for a skipped preflight
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


# --- the workload's figures ----------------------------------------------------------------------
def write_results_json(workload: Path) -> dict:
    """run/results.json: the v3.0 per-workload figures, computed from the run leaves (warm-up excluded)."""
    from mlps.results.reader import read_tree  # noqa: PLC0415 - the reader pulls in yaml; only this needs it

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
                "results": figures, "generated_at": frame.utc_now()}
    (Path(workload) / "run").mkdir(parents=True, exist_ok=True)
    frame.write_json_atomic(Path(workload) / "run" / "results.json", document)
    return document


# --- one phase (datagen or a run) on the frame -----------------------------------------------------
def label(command: str, index: int, runs: int) -> str:
    if command == "datagen":
        return "datagen"
    return f"run {index}/{runs}" + (" (warm-up)" if index == 1 else "")


def start_phase(*, workload_dir, command: str, index: int, runs: int, staging_dir: str, dlio: dict, mpi: dict,
                context: dict, files: dict, copies: dict, check: bool = False) -> dict:
    """Allocate the leaf, build DLIO's and mpirun's argv, and record the leaf as running.

    dlio: the keyword arguments of dlio_command except output_folder.
    mpi: mpirun, implementation, np, hosts, as_root, rsh_agent, prefix, mca, env (names).
    context: the campaign-wide part of the metadata (plan, versions, inventory, args...).
    """
    leaf, stamp = phase.open_leaf(workload_dir, command, check)
    prefix = f"{BENCHMARK}_{command}"
    names = phase.stage_names(staging_dir, command, stamp, prefix)
    dlio_argv, overrides = dlio_command(**dlio, output_folder=names["output"])
    argv, slots = phase.mpirun_command(dlio_argv, mpi["np"], mpi)
    names.update({"leaf": str(leaf), "stamp": stamp, "label": label(command, index, runs), "prefix": prefix,
                  "metadata_file": metadata_name(stamp), "dlio_argv": dlio_argv, "rank_argv": dlio_argv,
                  "overrides": overrides, "cmd": argv, "placement": slots})
    if check:
        return {**names, "changed": False}
    # the running record first: a leaf is never without its status, whatever stops the writes after it
    record = {
        **context,
        "benchmark": BENCHMARK, "command": command, "timestamp": stamp, "run_index": index,
        "warmup": command == "run" and index == 1, "status": "running", "started_at": frame.utc_now(),
        "ranks_per_host": dict(slots), "override_parameters": overrides, "extra_overrides": dlio.get("extra", {}),
        "argv": argv, "dlio_argv": dlio_argv,
        "timeseries": phase.series_dir(BENCHMARK, stamp), "stdout_log": f"{prefix}.stdout.log",
        "stderr_log": f"{prefix}.stderr.log",
        "cluster_info": "cluster_info.json" if "cluster_info.json" in copies else None,
    }
    frame.update_metadata(leaf, stamp, record, BENCHMARK)
    phase.write_inputs(leaf, files, copies)
    named = phase.write_provenance(leaf, benchmark=BENCHMARK, command=command, stamp=stamp, context=context,
                                   config={"workload": dlio.get("workload"), **overrides})
    frame.update_metadata(leaf, stamp, named, BENCHMARK)
    return {**names, "changed": True}


def end_phase(*, leaf, stamp: str, phase_label: str, hosts: list, launcher: str, archives: dict, job: dict,
              waited: dict, samples: dict, drop_evidence: dict, unreachable: list) -> dict:
    """The frame's end of a phase, with the cache-drop evidence the run leaf keeps."""
    ended = phase.end(benchmark=BENCHMARK, leaf=leaf, stamp=stamp, label=phase_label, hosts=hosts,
                     launcher=launcher, archives=archives, job=job, waited=waited, samples=samples,
                     unreachable=unreachable,
                     record={"drop_caches": "drop_caches.json" if drop_evidence else "not dropped"})
    # after the clients' files, so no archive can replace the controller's evidence
    if drop_evidence:
        frame.write_json_atomic(Path(leaf) / "drop_caches.json", {"version": 1, "hosts": drop_evidence})
    return ended
