"""The HTML report's view of a BenchFS + IOR workload: one row per sweep point (sizes, ranks, bandwidth
and IOPS per operation, from IOR's summary) and a plot of the mean bandwidth per run and operation.
BenchFS is not an MLPerf Storage benchmark; the view says so."""

from __future__ import annotations

from html import escape

from mlps.report import svg
from mlps.safe_text import printable

COLUMNS = (("transfer_size", "-t"), ("block_size", "-b"), ("ranks_per_client", "ranks/client"), ("np", "ranks"),
           ("write_bw_MiBps", "write MiB/s"), ("write_iops", "write IOPS"), ("read_bw_MiBps", "read MiB/s"),
           ("read_iops", "read IOPS"))


def _e(value) -> str:
    return escape("" if value is None else printable(value))


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return _e(value)


def runs_view(figures: dict, dropped: list) -> str:
    """The BenchFS block of a workload (mlps.results.benchfs.benchfs_results' output); empty without runs."""
    runs = [r for r in figures.get("runs") or () if isinstance(r, dict)]
    if not runs:
        return ""
    head = "".join(f'<th class="n">{_e(label)}</th>' for _key, label in COLUMNS)
    rows = "".join(f'<tr><td class="path">{_e(run.get("leaf"))}</td><td>{_e(run.get("status"))}</td>'
                   + "".join(f'<td class="n">{_cell(run.get(key))}</td>' for key, _label in COLUMNS) + "</tr>"
                   for run in runs)
    groups = [(f"{printable(run.get('transfer_size'))}/{printable(run.get('block_size'))} x{printable(run.get('np'))}",
               [svg.kept(run.get("write_bw_MiBps"), dropped), svg.kept(run.get("read_bw_MiBps"), dropped)])
              for run in runs]
    chart = svg.grouped_bar_chart("IOR mean bandwidth per run (-t/-b x ranks)", "MiB/s", groups, ["write", "read"])
    return ('<h3>BenchFS + IOR sweep</h3><p class="muted">Not an MLPerf Storage benchmark: OPEN results. Figures '
            "from each run's IOR JSON summary.</p>"
            f'<table><tr><th>leaf</th><th>status</th>{head}</tr>{rows}</table>'
            + (f'<div class="charts">{chart}</div>' if chart else ""))
