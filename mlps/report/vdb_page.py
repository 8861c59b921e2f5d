"""The HTML report's view of a VectorDB workload: every run's figures, the query latency percentiles
per run, the queries per second per run and the distribution of per-query recall. Figures come from
mlps.results.figures.vdb_results (the results table reads the first run; the charts show all five)."""

from __future__ import annotations

from html import escape

from mlps.report import svg
from mlps.results.figures import RECALL_BINS
from mlps.safe_text import printable

PERCENTILES = (("median_latency_ms", "p50"), ("p95_latency_ms", "p95"), ("p99_latency_ms", "p99"),
               ("p999_latency_ms", "p99.9"))
COLUMNS = (("throughput_qps", "queries/s"), ("query_count", "queries"), ("total_time_seconds", "seconds"),
           ("mean_latency_ms", "mean (ms)"), ("p95_latency_ms", "p95 (ms)"), ("p99_latency_ms", "p99 (ms)"),
           ("p999_latency_ms", "p99.9 (ms)"), ("recall", "mean recall"))


def _e(value) -> str:
    return escape("" if value is None else printable(value))


def _n(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,.3f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"


def runs_view(figures: dict, dropped: list) -> str:
    """The VectorDB block of a workload (vdb_results' output); empty when it has no run."""
    runs = [r for r in figures.get("runs") or () if isinstance(r, dict)]
    if not runs:
        return ""
    head = "".join(f'<th class="n">{_e(label)}</th>' for _key, label in COLUMNS)
    rows = "".join(f'<tr><td class="path">{_e(run.get("leaf"))}</td>'
                   + "".join(f'<td class="n">{_n(run.get(key))}</td>' for key, _label in COLUMNS) + "</tr>"
                   for run in runs)
    charts = [c for c in (_qps_chart(runs, dropped), _latency_chart(runs, dropped),
                          _recall_chart(figures.get("recall_histogram"), dropped)) if c]
    note = ("" if figures.get("recall_histogram") else
            '<p class="muted">No statistics file keeps per-query recalls: no recall distribution.</p>')
    return (f'<h3>VectorDB runs</h3><p class="muted">The results table reads run {_e(figures.get("from_leaf"))} '
            f'(the first, as the v3.0 table does); the charts show every run.</p>'
            f'<table><tr><th>leaf</th>{head}</tr>{rows}</table>'
            + (f'<div class="charts">{"".join(charts)}</div>' if charts else "") + note)


def _label(index: int) -> str:
    return f"run {index + 1}"


def _qps_chart(runs: list, dropped: list) -> str:
    bars = [(_label(i), svg.kept(run.get("throughput_qps"), dropped), None, False, []) for i, run in enumerate(runs)]
    return svg.bar_chart("Queries per second per run", "QPS", bars) if any(b[1] is not None for b in bars) else ""


def _latency_chart(runs: list, dropped: list) -> str:
    groups = [(_label(i), [svg.kept(run.get(key), dropped) for key, _name in PERCENTILES])
              for i, run in enumerate(runs)]
    return svg.grouped_bar_chart("Query latency percentiles per run", "ms", groups, [n for _k, n in PERCENTILES])


def _recall_chart(histogram, dropped: list) -> str:
    if not isinstance(histogram, dict) or not isinstance(histogram.get("counts"), list):
        return ""
    counts = histogram["counts"]
    bars = [(f"{i / RECALL_BINS:.1f}", svg.kept(count, dropped), None, False, []) for i, count in enumerate(counts)]
    return svg.bar_chart(f"Per-query recall, run {printable(histogram.get('leaf'))} "
                         f"({histogram.get('queries')} queries)", "queries", bars)
