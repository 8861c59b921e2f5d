"""Picking a campaign up where an earlier one stopped, without touching what it left.

A campaign that died without recording its end (interrupted ansible-playbook, lost controller)
leaves a leaf saying `running`; the next campaign on the same workload, of any benchmark, marks it
`interrupted` (`mark_stale`). When the latest training campaign of the workload stopped early with
the same plan, the new one continues it: same campaign id, no new datasize leaf, and the runs go on
from the next index (`resume_point`).
"""

from __future__ import annotations

from pathlib import Path

from mlps.campaign import frame
from mlps.campaign.training import BENCHMARK

# What must be equal for a later campaign to continue an earlier one.
PLAN_KEYS = ("model", "accelerator", "num_accelerators", "hosts", "num_files_train", "num_subfolders_train",
             "epochs", "record_length", "format")
FINISHED = ("completed", "skipped")


def _leaves(workload: Path, command: str | None, benchmark: str = BENCHMARK):
    return frame.leaves_with_metadata(workload / command if command else workload, benchmark)


def mark_stale(workload, why: str = "", *, benchmark: str = BENCHMARK, commands=("datagen", "run")) -> list[str]:
    """Leaves still `running` (their campaign ended without recording them) become `interrupted`.
    `commands`: the folders under the workload that hold its leaves (None: the workload itself)."""
    workload = Path(workload)
    marked = []
    for command in commands:
        for leaf, meta in _leaves(workload, command, benchmark):
            if meta.get("status") == "running":
                frame.update_metadata(leaf, leaf.name, {
                    "status": "interrupted", "ended_at": meta.get("ended_at") or frame.utc_now(),
                    "message": why or "found still running when a later campaign started: the campaign that "
                                      "ran it ended without recording its end (interrupted or controller lost)"},
                    benchmark)
                marked.append(str(leaf))
    return marked


def resume_point(workload, plan: dict, runs: int) -> dict:
    """Where the new campaign starts: {resume, campaign_id, first_index, completed, previous}."""
    workload = Path(workload)
    fresh = {"resume": False, "campaign_id": None, "first_index": 1, "completed": 0, "previous": []}
    run_leaves = _leaves(workload, "run")
    if not run_leaves:
        return fresh
    last_id = run_leaves[-1][1].get("campaign_id")
    if not last_id:
        return fresh
    same = [(leaf, meta) for leaf, meta in run_leaves if meta.get("campaign_id") == last_id]
    done = [leaf for leaf, meta in same if meta.get("status") in FINISHED]
    stopped_early = any(meta.get("status") not in FINISHED for _leaf, meta in same)
    earlier_plan = same[-1][1].get("plan") or {}
    if not stopped_early or len(done) >= runs or any(earlier_plan.get(k) != plan.get(k) for k in PLAN_KEYS):
        return fresh
    return {"resume": True, "campaign_id": last_id, "first_index": len(done) + 1, "completed": len(done),
            "previous": [str(leaf) for leaf, _meta in same]}
