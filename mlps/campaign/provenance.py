"""provenance.json of a leaf (schema `mlps-run-provenance/1`, the field names of the published v3.0
trees): which rules, tool, DLIO and storage library made the leaf, and a short hash of its core
configuration, so two leaves can be compared without diffing their whole configurations.

The tool's identity (git commit, md5-tree-v2 of the checkout) is computed once per campaign, by its
capsule step, and handed to every phase in the campaign context (`tool`): every phase names the same
code, and no phase hashes the checkout again. A value we cannot determine is "unknown".
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path

from mlps import __version__
from mlps.campaign.frame import utc_now
from mlps.rulebook import code_image
from mlps.rulebook.workloads import CURRENT_EDITION

SCHEMA = "mlps-run-provenance/1"
FILE = "provenance.json"
UNKNOWN = "unknown"
LAYOUT_VERSION = "3.0"
CORE_ALGORITHM = "core-config-v1"
# The configuration keys that decide what a run measures (workload shape, dataset, reader,
# checkpoint sizes); paths, output folders and log levels differ between equal runs and stay out.
CORE_ALLOWLIST = (
    "workload", "model", "framework",
    "dataset.num_files_train", "dataset.num_files_eval", "dataset.num_samples_per_file",
    "dataset.num_subfolders_train", "dataset.record_length", "dataset.record_length_bytes",
    "dataset.record_length_bytes_stdev", "dataset.format",
    "reader.batch_size", "reader.read_threads", "reader.computation_threads", "reader.data_loader",
    "reader.file_shuffle", "reader.sample_shuffle", "reader.transfer_size", "reader.odirect",
    "train.epochs", "train.computation_time",
    "checkpoint.num_checkpoints_write", "checkpoint.num_checkpoints_read", "checkpoint.mode",
    "checkpoint.fsync", "model.parallelism.tensor", "model.parallelism.pipeline", "model.parallelism.data",
    "storage.storage_type",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def core_config(config: dict) -> dict:
    """The allow-listed keys of a flat {dotted key: value} configuration and their hash: sha256 of
    the canonical JSON (sorted keys, no spaces), first 16 hex digits."""
    picked = {key: config[key] for key in CORE_ALLOWLIST if key in config}
    canonical = json.dumps(picked, sort_keys=True, separators=(",", ":"), default=str)
    return {"algorithm": CORE_ALGORITHM, "allowlist": list(CORE_ALLOWLIST),
            "hash": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16], "keys": sorted(picked)}


@functools.cache
def tool_identity(root: Path = REPO_ROOT) -> dict:
    """{git_sha, code_image} of the mlps checkout: its commit when it is a git work tree, and the
    md5-tree-v2 of its files (the hash a code image in the results tree carries)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
        sha = done.stdout.strip() if done.returncode == 0 else UNKNOWN
    except (OSError, subprocess.SubprocessError):
        sha = UNKNOWN
    try:
        image = f"{code_image.ALGORITHM}:{code_image.tree_hash(root)}"
    except OSError:
        image = UNKNOWN
    return {"git_sha": sha or UNKNOWN, "code_image": image}


def _text(value) -> str:
    return str(value) if value not in (None, "") else UNKNOWN


def build(*, benchmark: str, command: str, stamp: str, context: dict, config: dict) -> dict:
    """The provenance document of one leaf.

    context: the campaign's metadata context (`versions` read on the launcher, `campaign_id`).
    config: the leaf's flat configuration ({dotted key: value}, the overrides given to the engine)."""
    versions = context.get("versions") or {}
    known = context.get("tool")
    identity = ({k: known.get(k, UNKNOWN) for k in ("git_sha", "code_image")} if isinstance(known, dict)
                else tool_identity())
    dlio_version = versions.get("dlio_benchmark")
    storage = config.get("storage.storage_type")
    return {
        "schema": SCHEMA,
        "rules_edition": CURRENT_EDITION,
        "layout_version": LAYOUT_VERSION,
        "tool": {"name": "mlps", "version": __version__, **identity},
        "dlio": {"version": _text(dlio_version), "source": "pip" if dlio_version else UNKNOWN, "commit": UNKNOWN},
        "storage_library": {"name": _text(storage), "version": UNKNOWN},
        "core_config": core_config(config),
        "stamped_at": utc_now(),
        "stamped_by": f"mlps {__version__}",
        "provenance": {"benchmark": benchmark, "command": command, "leaf": stamp,
                       "campaign_id": _text(context.get("campaign_id"))},
    }

