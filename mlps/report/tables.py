"""The v3.0 results table (MLCommons' "Results Table Structure v3.0"): 54 fixed columns, one row per
workload, as JSON and CSV.

Figures come from the verifier's recomputed aggregates (report_math), never from the files the
submitter wrote, so a row shows what the leaves prove. SUT cells (name, type, capacity, ...) come
from the system description; a placeholder the submitter has not filled stays blank.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

from mlps.errors import UserError
from mlps.rulebook.workloads import get_checkpoint_model
from mlps.safe_text import csv_cell, relative_link

SUT_COLUMNS = ("Public ID", "Organization", "Division", "Benchmark Type", "Model", "Name", "Description", "Type",
               "Access Protocol", "Availability", "RU's", "Integrated Client Storage (TiB)", "Usable Capacity (TiB)")
TRAINING = ("Accelerator Type", "# Client Nodes", "Code", "Logs", "# Simulated Accelerators", "Read B/W (GiB/s)")
CHECKPOINTING = ("Checkpoint Mode", "# Client Nodes", "DP Instances", "Code", "Logs", "Write B/W (GiB/s)",
                 "Write Duration (secs)", "Read B/W (GiB/s)", "Read Duration (secs)")
VDB = ("# Client Nodes", "Code", "Logs", "Vector Count", "Vector Dimension", "Index Type", "Queries per Sec",
       "Query Latency (ms)", "Recall Percentage", "Storage IOPs", "Read B/W (GiB/s)")
KV = ("# Client Nodes", "Code", "Logs")
KV_GROUPS = ("llama3.1-8b Storage Only", "llama3.1-8b Storage + Mem", "llama3.1-70b Storage Only")
KV_FIGURES = ("Throughput (tok/s)", "Read B/W (GiB/s)", "Write B/W (GiB/s)", "P95 Read Latency (ms)")

COLUMNS = (
    *SUT_COLUMNS,
    *(f"Training - {c}" for c in TRAINING),
    *(f"Checkpointing - {c}" for c in CHECKPOINTING),
    *(f"VDB - {c}" for c in VDB),
    *(f"KVCache - {c}" for c in KV),
    *(f"KVCache {g} - {c}" for g in KV_GROUPS for c in KV_FIGURES),
)
assert len(COLUMNS) == 54  # noqa: S101 - the published schema has exactly 54; a typo must not ship

MODEL_LABELS = {"unet3d": "Unet3D", "retinanet": "RetinaNet", "resnet50": "ResNet50", "cosmoflow": "CosmoFlow",
                "llama3-8b": "8B", "llama3-70b": "70B", "llama3-405b": "405B", "llama3-1t": "1250B"}
BENCHMARK_LABELS = {"training": "Training", "checkpointing": "Checkpointing", "vector_database": "VDB",
                    "kv_cache": "KVCache"}
# Option N of a KV-cache run fills group N of the table.
KV_OPTION_GROUP = {"option_1": KV_GROUPS[0], "option_2": KV_GROUPS[1], "option_3": KV_GROUPS[2]}
# The v3.0 table's "Throughput" is the wall-clock tokens/s (not the rule book's storage tokens/s).
KV_FIELD_FIGURE = {"aggregated_avg_throughput_tokens_per_sec": "Throughput (tok/s)",
                   "aggregated_read_bandwidth_gbps": "Read B/W (GiB/s)",
                   "aggregated_write_bandwidth_gbps": "Write B/W (GiB/s)"}
# P95 Read Latency: the per-I/O storage read P95 where the rank files give it (newer report
# generators), else the largest per-request storage P95 the v3.0 table printed.
KV_P95_FIELDS = ("aggregated_storage_read_p95_ms", "aggregated_p95_latency_ms")
PLACEHOLDER = "TODO-FILL-IN"
_CODE_TREE = re.compile(r"^(.*?)\s+\(code tree\)$")


def model_label(benchmark: str, model: str | None) -> str:
    if benchmark in ("kv_cache", "vector_database") or not model:
        return ""
    key = model.lower().replace("_", "-")
    return MODEL_LABELS.get(key, model)


def link(text: str, path: str | None):
    """A link cell to `path` (relative, inside the report's tree); none when it is not such a path."""
    href = relative_link(path)
    return {"text": text, "href": href} if href else ""


def code_link(tree, workload) -> dict | str:
    """The code image the reader skipped nearest to the workload: under its org, else at the top."""
    trees = [m.group(1) for m in (_CODE_TREE.match(s) for s in tree.skipped) if m]
    org_prefix = "/".join(workload.rel.split("/")[:2]) + "/"
    for candidates in ([t for t in trees if t.startswith(org_prefix)],
                       [t for t in trees if t.split("/")[0] == "code-images"]):
        if candidates:
            return link("Code", sorted(candidates)[0])
    return ""


def _sut(system: dict | None, *keys):
    """A filled-in value of the system description, or blank (placeholders stay blank)."""
    node = system or {}
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    if node is None or (isinstance(node, str) and node.startswith(PLACEHOLDER)):
        return ""
    return node


def _num(value):
    return "" if value is None else value


def workload_row(tree, workload, summary: dict, system: dict | None) -> dict:
    """One table row for a workload; `summary` is its entry in the verdict's `workloads`."""
    row = dict.fromkeys(COLUMNS, "")
    figures = summary.get("aggregate") or {}
    bench = workload.benchmark
    row.update({
        "Organization": workload.org or "", "Division": (workload.division or "").upper(),
        "Benchmark Type": BENCHMARK_LABELS.get(bench, bench), "Model": model_label(bench, workload.model),
        "Name": _sut(system, "solution", "name") or (workload.system or ""),
        "Description": _sut(system, "solution", "description"), "Type": _sut(system, "solution", "type"),
        "Access Protocol": _sut(system, "solution", "access_protocol"),
        "Availability": _sut(system, "solution", "availability"), "RU's": _sut(system, "solution", "rack_units"),
        "Integrated Client Storage (TiB)": _sut(system, "solution", "int_client_store_tib"),
        "Usable Capacity (TiB)": _sut(system, "solution", "usable_capacity_tib"),
    })
    code, logs = code_link(tree, workload), link("Logs", workload.rel)
    if bench == "training":
        _fill(row, "Training", {
            "Accelerator Type": (workload.accelerator or "").upper(),
            "# Client Nodes": _num(figures.get("client_nodes")),
            "Code": code, "Logs": logs, "# Simulated Accelerators": _num(figures.get("simulated_accelerators")),
            "Read B/W (GiB/s)": _num(figures.get("read_bw_GiB_per_second"))})
    elif bench == "checkpointing":
        _fill(row, "Checkpointing", {
            "Checkpoint Mode": _checkpoint_mode(workload), "# Client Nodes": _num(figures.get("client_nodes")),
            "DP Instances": _num(_dp_instances(workload.model, figures.get("processes"))),
            "Code": code, "Logs": logs,
            "Write B/W (GiB/s)": _num(figures.get("write_bw_GiB_per_second")),
            "Write Duration (secs)": _num(figures.get("write_duration_seconds")),
            "Read B/W (GiB/s)": _num(figures.get("read_bw_GiB_per_second")),
            "Read Duration (secs)": _num(figures.get("read_duration_seconds"))})
    elif bench == "vector_database":
        _fill(row, "VDB", _vdb_cells(figures) | {"Code": code, "Logs": logs})
    elif bench == "kv_cache":
        _fill(row, "KVCache", {"# Client Nodes": _num(figures.get("client_nodes")), "Code": code, "Logs": logs})
        row.update(kv_cells(figures))
    return row


def kv_cells(figures: dict) -> dict:
    """The 3 groups x 4 figures of a KV-cache row, from kv_results' `option_<O>` figures."""
    cells = {}
    for option, group in KV_OPTION_GROUP.items():
        option_figures = figures.get(option) or {}
        for field, figure in KV_FIELD_FIGURE.items():
            cells[f"KVCache {group} - {figure}"] = _num(option_figures.get(field))
        p95 = next((option_figures[f] for f in KV_P95_FIELDS if option_figures.get(f) is not None), None)
        cells[f"KVCache {group} - P95 Read Latency (ms)"] = _num(p95)
    return cells


def _fill(row: dict, family: str, cells: dict) -> None:
    for name, value in cells.items():
        row[f"{family} - {name}"] = value


def _checkpoint_mode(workload) -> str:
    for leaf in workload.runs:
        mode = leaf.param("checkpoint.mode")
        if mode is not None:
            return "Subset" if str(mode).lower() == "subset" else "Full"
    return "Full" if workload.runs else ""


def _dp_instances(model: str | None, processes) -> int | None:
    """Data-parallel instances: processes / (tensor x pipeline parallel) of the llama3 model."""
    if not isinstance(processes, int) or not model:
        return None
    try:
        parallel = get_checkpoint_model(model).model_parallel
    except UserError:
        return None
    return processes // parallel if parallel else None


def _vdb_cells(figures: dict) -> dict:
    """Rule book §7.3: one run leaf's QPS, p99 latency, recall x 100, read B/W (disk_io bytes read per
    second / 2^30) and client nodes (disk_io.host_count); IOPS are not published (blank)."""
    return {
        "# Client Nodes": _num(figures.get("client_nodes")), "Vector Count": _num(figures.get("vector_count")),
        "Vector Dimension": _num(figures.get("dimension")), "Index Type": figures.get("index_type") or "",
        "Queries per Sec": _num(figures.get("queries_per_second")),
        "Query Latency (ms)": _num(figures.get("query_latency_p99_ms")),
        "Recall Percentage": _num(figures.get("recall_percent")), "Storage IOPs": "",
        "Read B/W (GiB/s)": _num(figures.get("read_bw_GiB_per_second"))}


# --- rendering -------------------------------------------------------------------------------------
def to_json(rows: list) -> str:
    return json.dumps([{c: row.get(c, "") for c in COLUMNS} for row in rows], indent=1) + "\n"


def _csv_cell(value) -> str:
    if isinstance(value, dict):
        return f'<a href="{html.escape(value["href"], quote=True)}">{html.escape(value["text"])}</a>'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return csv_cell(value)              # names come from folder names of the tree: never a formula
    return "" if value is None else str(value)


def to_csv(rows: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c, "")) for c in COLUMNS])
    return buffer.getvalue()
