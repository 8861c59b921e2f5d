"""Rules editions: what changed between MLPerf Storage rounds, and how a tree's edition is detected.

Only edition-level facts live here (warm-up or not, the tunables, which files an edition asks
for). Which model/accelerator pairs each edition allows, and every workload number, live in
mlps.rulebook.workloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlps.rulebook.workloads import CURRENT_EDITION

CURRENT = CURRENT_EDITION

# Rule book §3.6.2/§3.6.3: keys a CLOSED run may override, keys OPEN adds, and keys the tool injects itself.
CLOSED_PARAMS = frozenset({
    "dataset.num_files_train", "dataset.num_subfolders_train", "dataset.data_folder",
    "reader.read_threads", "reader.computation_threads", "reader.transfer_size",
    "reader.prefetch_size", "reader.odirect", "checkpoint.checkpoint_folder",
    "storage.storage_type", "storage.storage_root",
})
OPEN_PARAMS = frozenset({"framework", "dataset.format", "dataset.num_samples_per_file", "reader.data_loader"})
TOOL_INJECTED = frozenset({
    "dataset.skip_listing", "dataset.listing_validation_interval", "dataset.num_files_generated",
    "dataset.data_folder", "dataset.total_disk_bytes", "storage.storage_type", "storage.storage_root",
    "storage.storage_options.storage_library", "storage.storage_options.uri_scheme",
    "storage.s3_force_path_style",
    # Where DLIO writes its outputs is the results location, not a workload tunable; our own runner
    # passes it as ++workload.output.folder (and log file), so it never counts.
    "output.folder", "output.log_file",
})


@dataclass(frozen=True)
class Edition:
    name: str
    warmup: bool                              # one warm-up run leaf before the measured ones
    measured_runs: int
    closed_extra_params: frozenset = frozenset()
    tool_injected_extra: frozenset = frozenset()
    checkpointing: bool = False
    ckpt_subset_large_models: bool = True     # subset mode allowed for 70b/405b/1t
    workload_report: str | None = None        # per-workload figures file the edition requires
    unet3d_checkpoint_required: bool = False  # TRAIN-UNET-CKPT
    dlio_log_required: bool = True
    stdout_logs_required: bool = True
    # 2.1.18: only edition 3.0 gives "consecutive" a measurable criterion (gap < 2 x shortest run);
    # v1.0 review published series with gaps of hours, so before 3.0 a gap is a warning at most.
    runs_gap_invalid: bool = False
    # v1.0's CLOSED launcher (benchmark.sh) refused reader.prefetch_size above this; None: no cap.
    closed_prefetch_max: int | None = None


EDITIONS = {
    "1.0": Edition(
        name="1.0", warmup=False, measured_runs=5,
        # v1.0's launcher script always appended ++workload.profiling.profiler=none.
        tool_injected_extra=frozenset({"profiling.profiler"}),
        workload_report="mlperf_storage_report.json", unet3d_checkpoint_required=True,
        dlio_log_required=False, stdout_logs_required=False, closed_prefetch_max=2,
    ),
    # Choice: v2.0 is verified like v3.0 for run counts (warm-up + 5); it required no per-workload
    # figures file, and its subset checkpointing was still allowed for every model.
    "2.0": Edition(
        name="2.0", warmup=True, measured_runs=5,
        tool_injected_extra=frozenset({"profiling.profiler"}),
        checkpointing=True, ckpt_subset_large_models=True, unet3d_checkpoint_required=True,
    ),
    "3.0": Edition(
        name="3.0", warmup=True, measured_runs=5,
        closed_extra_params=frozenset({"storage.storage_options.prefetch_window"}),
        checkpointing=True, ckpt_subset_large_models=False, workload_report="run/results.json",
        runs_gap_invalid=True,
    ),
}
EDITION_NAMES = tuple(EDITIONS)


def get(name: str) -> Edition:
    key = name.lstrip("vV")
    if key in ("1", "2", "3"):
        key += ".0"
    if key not in EDITIONS:
        from mlps.errors import UserError  # noqa: PLC0415 - only on the error path
        raise UserError(f"--edition {name!r}: unknown rules edition; expected one of {', '.join(EDITIONS)}")
    return EDITIONS[key]


def closed_params(edition: Edition) -> frozenset:
    return CLOSED_PARAMS | edition.closed_extra_params


def tool_injected(edition: Edition) -> frozenset:
    return TOOL_INJECTED | edition.tool_injected_extra


def detect(workload) -> tuple[str, str]:
    """(edition, why) for one workload, from what its files say."""
    stamped = sorted({leaf.rules_edition for leaf in workload.leaves if leaf.rules_edition})
    if stamped:
        name = stamped[-1].lstrip("vV")
        if name in EDITIONS:
            return name, "provenance.json rules_edition"
    if any(part in ("Closed", "Open") for part in workload.path.parts):
        return "1.0", "detected: capitalised Closed/Open division folder (v1.0 layout)"
    if workload.leaves and all(leaf.timestamp is None for leaf in workload.leaves):
        return "1.0", "detected: run folders without timestamps (v1.0 layout)"
    for leaf in workload.leaves:
        meta = leaf.metadata or {}
        if "combined_params" in meta or "params_dict" in meta:
            return "2.0", "detected: v2.0 metadata (combined_params)"
    return CURRENT, "detected: timestamped leaves; current edition"
