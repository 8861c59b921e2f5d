"""The figures of a BenchFS + IOR workload, recomputed from its leaves: per run the sweep point (transfer
size, block size, IOR ranks) and, from IOR's JSON summary, the bandwidth (MiB/s) and IOPS of every
operation. Read by the verifier's aggregate and the HTML report (mlps.report.benchfs_page)."""

from __future__ import annotations

OPERATIONS = ("write", "read")


def _number(value):
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_figures(leaf) -> dict:
    """One run: its sweep point from the metadata and its figures from IOR's summary (not the metadata's
    copy, so a leaf edited by hand is judged by what IOR wrote)."""
    meta = leaf.metadata if isinstance(leaf.metadata, dict) else {}
    params = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
    ior = (leaf.benchfs or {}).get("ior") or {}
    out = {"leaf": leaf.name, "status": meta.get("status"), "transfer_size": params.get("transfer_size"),
           "block_size": params.get("block_size"), "ranks_per_client": params.get("ranks_per_client"),
           "np": params.get("np")}
    for row in ior.get("summary") or ():
        if isinstance(row, dict) and row.get("operation") in OPERATIONS:
            op = row["operation"]
            out[f"{op}_bw_MiBps"] = _number(row.get("bwMeanMIB"))
            out[f"{op}_bw_max_MiBps"] = _number(row.get("bwMaxMIB"))
            out[f"{op}_iops"] = _number(row.get("OPsMean"))
    return out


def benchfs_results(leaves) -> dict:
    """Every run's figures, and the best write and read bandwidth over the runs (GiB/s, for the cards)."""
    runs = [run_figures(leaf) for leaf in leaves]
    best = {}
    for op in OPERATIONS:
        values = [r[f"{op}_bw_MiBps"] for r in runs if r.get(f"{op}_bw_MiBps") is not None
                  and r.get("status") in (None, "completed")]
        best[f"{op}_bw_GiB_per_second"] = max(values) / 1024 if values else None
    return {"runs": runs, **best}
