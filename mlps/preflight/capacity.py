"""The capacity plan: how many bytes the campaign writes, from measured memory or the checkpoint plan."""

from __future__ import annotations

from dataclasses import dataclass

from mlps.campaign import vector_database
from mlps.errors import UserError
from mlps.plan import datasize
from mlps.preflight.checks import GIB, _gib
from mlps.preflight.settings import Settings, _checkpoint_bytes, _flag, _whole, vdb_footprint
from mlps.rulebook.workloads import (
    get_checkpoint_model,
    get_training_workload,
)


@dataclass(frozen=True)
class Plan:
    data_bytes: int | None          # bytes the data filesystem must hold; None when unknown
    source: str                     # how data_bytes was found
    notes: tuple[str, ...] = ()
    checkpoint: bool = False        # the bytes land in the checkpoint folder

    def to_dict(self) -> dict:
        return {"data_bytes": self.data_bytes, "source": self.source, "notes": list(self.notes)}


def client_memory(memory_by_host: dict[str, tuple[str | None, int | None]]) -> tuple[int, list[str]]:
    """MemTotal summed once per machine (hosts sharing a machine_id are one machine, as in
    mlps.cluster); also the hosts whose memory is unknown."""
    seen, total, unknown = set(), 0, []
    for host, (machine_id, memory) in memory_by_host.items():
        if not memory:
            unknown.append(host)
            continue
        key = machine_id or f"host:{host}"
        if key not in seen:
            seen.add(key)
            total += int(memory)
    return total, unknown


def plan_bytes(s: Settings, num_hosts: int, memory: int, unknown_memory: list[str]) -> Plan:
    """Bytes the data filesystem must hold for this campaign, and how they were found."""
    override = _whole(s.data_bytes, "", 0)[0]
    if override:
        return Plan(override, "mlps_preflight_data_bytes")
    if s.benchmark == "checkpointing":
        return _checkpoint_plan(s)
    if s.benchmark == "vector_database":
        return _vdb_plan(s)
    if s.benchmark == "kv_cache":
        # The engine sizes its storage tier itself (95 % of the cache filesystem's free space).
        return Plan(0, "kv_cache: each rank caps its storage tier at 95 % of the cache folder's free space")
    return _training_plan(s, num_hosts, memory, unknown_memory)


def _vdb_plan(s: Settings) -> Plan:
    if s.vdb_uri:
        return Plan(0, "mlps_vectordb_uri: a running server keeps its data on its own storage")
    try:
        need = vdb_footprint(s)
    except UserError as exc:
        return Plan(None, f"unknown: {exc}")
    where = s.vdb_server_host or "the launcher"
    return Plan(need["disk"], f"{s.vdb_engine} {s.vdb_index} estimate for {int(s.vdb_num_vectors):,} x "
                f"{int(s.vdb_dimension)} vectors: data {_gib(need['raw'])}, index {_gib(need['index'])}, "
                f"x{vector_database.DISK_MARGIN:g} for compaction and the log, on {where}")


def _training_plan(s: Settings, num_hosts: int, memory: int, unknown_memory: list[str]) -> Plan:
    try:
        workload = get_training_workload(s.model, s.accelerator)
    except UserError:
        return Plan(None, "unknown: the model/accelerator pair is invalid (see inventory_values)")
    files = _whole(s.num_files_train, "", 0)[0]
    if files:
        return Plan(datasize.total_disk_bytes(files, workload), f"num_files_train={files} x record length")
    if _whole(s.accelerators_per_host, "", 1)[0] is None:
        return Plan(None, "unknown: accelerators per host is invalid (see inventory_values)")
    if not memory:
        return Plan(None, "unknown: no client reported its memory")
    accelerators = _whole(s.accelerators_per_host, "", 1)[0] * num_hosts
    planned = datasize.plan_datasize(workload, memory, accelerators)
    notes = ()
    if unknown_memory:
        notes = (f"memory of {', '.join(unknown_memory)} unknown: the plan is a lower bound",)
    return Plan(planned.total_disk_bytes, f"datasize plan: {planned.num_files_train} files for "
                f"{memory / GIB:.1f} GiB of client memory and {accelerators} accelerators", notes)


def _checkpoint_plan(s: Settings) -> Plan:
    """The bytes the checkpoint folder must hold, from the shard planner (mlps.plan.checkpoint)
    with the campaign's scale and subset mode (checkpointing.preflight_bytes)."""
    try:
        model = get_checkpoint_model(s.model)
    except UserError:
        return Plan(None, "unknown: the checkpointing model is invalid (see inventory_values)")
    if _whole(s.checkpoint_processes, "", 0)[0] is None or _whole(s.checkpoint_writes, "", 0)[0] is None:
        return Plan(None, "unknown: the checkpoint counts are invalid (see inventory_values)")
    processes = _whole(s.checkpoint_processes, "", 0)[0] or model.closed_processes
    writes = _whole(s.checkpoint_writes, "", 0)[0]
    try:
        needed = _checkpoint_bytes(s)
    except UserError as exc:
        return Plan(None, f"unknown: {exc}")
    subset = " subset mode," if _flag(s.checkpoint_subset) else ""
    per_checkpoint = needed // writes if writes else 0
    source = f"{model.name} shard plan, {processes} ranks,{subset} scale {float(s.checkpoint_scale):g}: "
    return Plan(needed, checkpoint=True, source=source +
                f"{_gib(per_checkpoint)} x {writes} writes in {s.checkpoint_folder or s.data_dir}")
