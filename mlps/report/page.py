"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network).

Top to bottom: the verdict; findings grouped by outcome (INVALID, UNCHECKED, OPEN, WARNING, INFO;
identical ones as one counted row) with the rules met for CLOSED; then per workload its figures, a
per-run table, throughput across the runs with their spread, AU per epoch (a KV-cache workload: its
Options, mlps.report.kv_page; a VectorDB one: its runs, mlps.report.vdb_page) and the per-host time
series with runs and epochs marked (past a few hosts, the cluster as a whole and the hosts that
stand out: mlps.report.cluster_view).
"""

from __future__ import annotations

from html import escape

from mlps.report import benchfs_page, cluster_view, kv_page, svg, vdb_page
from mlps.results import figures
from mlps.results.series import MAX_POINTS, METRICS, MIN_POINTS
from mlps.rulebook.finding_groups import group_findings
from mlps.rulebook.workloads import template
from mlps.safe_text import printable

CSS = """
:root{--ok:#1b7f3b;--open:#b26b00;--bad:#b3261e;--ink:#1d232b;--mute:#5f6b7a;--line:#d9dee5;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}main{max-width:1320px;margin:0 auto;padding:0 20px 40px}
h1,h2,h3{margin:0}h2{font-size:20px;margin:28px 0 10px}h3{font-size:15px;margin:18px 0 6px}
.verdict{color:#fff;padding:22px 28px;display:flex;gap:28px;align-items:center;flex-wrap:wrap}
.v-CLOSED{background:var(--ok)}.v-OPEN{background:var(--open)}.v-INVALID{background:var(--bad)}.v-UNCHECKED{background:#555}
.verdict .big{font-size:44px;font-weight:800;letter-spacing:1px}.verdict .meta{opacity:.95}
.verdict .meta div{margin:2px 0}.counts span{display:inline-block;margin-right:14px;font-weight:600}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:10px 0}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{background:#eef1f5;font-weight:600;font-size:13px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.badge{display:inline-block;padding:1px 8px;
border-radius:10px;color:#fff;font-size:12px;font-weight:700}.b-CLOSED{background:var(--ok)}
.b-OPEN{background:var(--open)}.b-INVALID,.b-ERROR{background:var(--bad)}.b-UNCHECKED{background:#555}.b-WARNING{background:#8a6d00}
.b-INFO{background:#5f6b7a}.rule{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.path{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:var(--mute);word-break:break-all}
.fix{color:#0b5394}.figs{display:flex;flex-wrap:wrap;gap:10px}.fig{background:#fff;border:1px solid var(--line);
border-radius:8px;padding:8px 14px;min-width:150px}.fig b{display:block;font-size:20px}.fig span{color:var(--mute);
font-size:12px}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px}
.chart{width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
.chart text{font-size:10px;fill:var(--mute)}.chart .ct{font-size:12px;font-weight:600;fill:var(--ink)}
.chart .yl{text-anchor:end}.chart .xl,.chart .xs{text-anchor:middle}.chart .xs{font-size:9px}
.chart .lg{font-size:10px;fill:var(--ink)}.chart .rl{text-anchor:end;font-size:9px;fill:var(--bad)}
.grid{stroke:#e6e9ee;stroke-width:1}.seg{fill:#fafbfc}.seg.alt{fill:#f0f3f7}.mark{stroke:#9aa5b1;
stroke-dasharray:2 3;stroke-width:1}.ln{fill:none;stroke-width:1.6;stroke-linejoin:round}.bar{fill:#4a78b5}
.bar.muted{fill:#b8c4d3}.wh{stroke:#1d232b;stroke-width:1.2;fill:none}.dot{fill:#1d232b;opacity:.55}
.band{fill-opacity:.18;stroke:none}
.ref{stroke:var(--bad);stroke-dasharray:5 4;stroke-width:1.2}details{margin:6px 0}summary{cursor:pointer;
font-weight:600}.muted{color:var(--mute)}.rules-ok{columns:4 220px;font-size:12px;margin:6px 0}
nav a{margin-right:14px}footer{color:var(--mute);font-size:12px;margin-top:30px}
"""
GROUPS = (("INVALID", ("INVALID", "ERROR"), "Break a rule: the result cannot be published in any division."),
          ("UNCHECKED", ("UNCHECKED",), "Not checked: the verifier has no rules for it; review it by hand."),
          ("OPEN", ("OPEN",), "Valid only in the OPEN division."),
          ("WARNING", ("WARNING",), "Worth a reviewer's look; the verdict does not change."),
          ("INFO", ("INFO",), "Figures and notes recorded for the record."))


def _e(value) -> str:
    return escape("" if value is None else printable(value))


def _n(value, digits: int = 2) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return _e(value)


def render(document: dict, tree, series: dict, rows: list, progress=None, notes: list | None = None) -> str:
    """document: the verdict (mlps-verdict/1); series: {leaf rel: LeafSeries}; rows: table rows;
    notes: gets one line per workload whose charts left values out."""
    by_path = {w.rel: w for w in tree.workloads}
    out = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
           f"<title>mlps report: {_e(document['verdict'])} - {_e(document['root'])}</title>",
           f"<style>{CSS}</style></head><body>", _verdict(document, tree), "<main>",
           '<nav class="card"><b>Contents</b>: <a href="#findings">Findings</a><a href="#workloads">Workloads</a>'
           + "".join(f'<a href="#w{i}">{_e(w["path"])}</a>' for i, w in enumerate(document["workloads"]))
           + "</nav>", _findings(document), _overview(document)]
    for index, summary in enumerate(document["workloads"]):
        workload = by_path.get(summary["path"])
        if workload is not None:
            dropped: list = []
            out.append(_workload(index, summary, workload, document, series, dropped))
            if dropped and notes is not None:
                notes.append(f"{summary['path']}: {_not_drawn(sum(dropped))}")
        if progress:
            progress(len(workload.leaves) if workload is not None else 0)
    out.append(f"<footer>mlps {_e(document['tool']['version'])} · schema {_e(document['schema'])} · "
               f"{len(rows)} results-table row(s) in results.json / results.csv</footer></main></body></html>\n")
    return "".join(out)


def _verdict(document: dict, tree) -> str:
    counts = document["counts"]
    shown = "".join(f"<span>{n} {k}</span>" for k, n in counts.items() if n) or "<span>no findings</span>"
    leaves = sum(len(w.leaves) for w in tree.workloads)
    profile = document["profile"] or "each workload's own division"
    return (f'<header class="verdict v-{_e(document["verdict"])}"><div class="big" id="verdict">'
            f'{_e(document["verdict"])}</div><div class="meta"><div><b>Verdict</b> of {_e(document["root"])}</div>'
            f'<div class="counts">{shown}</div><div>{len(document["workloads"])} workload(s), {leaves} leaves; '
            f'rules edition(s) {_e(", ".join(document["editions"]) or "-")}; profile '
            f'{_e(profile)}</div></div></header>')


def _findings(document: dict) -> str:
    findings = document["findings"]
    out = ['<section id="findings"><h2>Findings</h2>']
    for name, outcomes, meaning in GROUPS:
        items = [f for f in findings if f["outcome"] in outcomes]
        if not items:
            continue
        # identical findings (rule, outcome, message shape) are one row with a count and the first paths
        body = "".join(_group_row(g) for g in group_findings(items))
        table = (f'<table><tr><th>rule</th><th>what</th><th>expected</th><th>actual</th><th>what to do</th></tr>'
                 f"{body}</table>")
        opened = " open" if name in ("INVALID", "UNCHECKED", "OPEN") or len(items) <= 12 else ""
        out.append(f'<details class="card"{opened}><summary><span class="badge b-{name}">{name}</span> '
                   f'{len(items)} finding(s): {meaning}</summary>{table}</details>')
    met = sorted(rule for rule, stats in document["rules"].items() if stats["evaluated"] and not stats["findings"])
    out.append(f'<details class="card"><summary><span class="badge b-CLOSED">CLOSED</span> {len(met)} rule(s) '
               f'checked and met</summary><div class="rules-ok">'
               + "".join(f'<div class="rule">{_e(r)}</div>' for r in met) + "</div></details>")
    return "".join(out) + "</section>"


def _group_row(group: dict) -> str:
    count = f' <span class="muted">&times;{group["count"]}</span>' if group["count"] > 1 else ""
    more = " ..." if group["count"] > len(group["paths"]) else ""
    paths = "".join(f'<div class="path">{_e(p)}</div>' for p in group["paths"])
    return (f'<tr><td><span class="badge b-{_e(group["outcome"])}">{_e(group["outcome"])}</span><br>'
            f'<span class="rule">{_e(group["rule"])}</span><br><span class="muted">{_e(group.get("section"))}</span>'
            f'</td><td>{_e(group["message"])}{count}{paths}{_e(more)}</td>'
            f'<td>{_e(group.get("expected"))}</td><td>{_e(group.get("actual"))}</td>'
            f'<td class="fix">{_e(group.get("fix"))}</td></tr>')


def _headline(summary: dict) -> str:
    figures = summary.get("aggregate") or {}
    parts = []
    for key, label, unit in (("read_bw_GiB_per_second", "Read", "GiB/s"),
                             ("train_mean_of_au_percentage", "AU", "%"),
                             ("write_bw_GiB_per_second", "Write", "GiB/s"),
                             ("queries_per_second", "QPS", "")):
        if isinstance(figures.get(key), int | float):
            parts.append(f"{label} {figures[key]:,.2f} {unit}".strip())
    return ", ".join(parts)


def _overview(document: dict) -> str:
    rows = "".join(
        f'<tr><td><a href="#w{i}" class="path">{_e(w["path"])}</a></td><td>{_e(w["benchmark"])}</td>'
        f'<td>{_e(w["model"])}</td><td>{_e(w["accelerator"])}</td><td>{_e((w["claimed_division"] or "").upper())}</td>'
        f'<td><span class="badge b-{_e(w["verdict"])}">{_e(w["verdict"])}</span></td><td>{_e(_headline(w))}</td></tr>'
        for i, w in enumerate(document["workloads"]))
    return ('<section id="workloads"><h2>Workloads</h2><table><tr><th>workload</th><th>benchmark</th><th>model</th>'
            f'<th>accelerator</th><th>checked as</th><th>verdict</th><th>figures</th></tr>{rows}</table></section>')


# --- one workload --------------------------------------------------------------------------------
def _not_drawn(count: int) -> str:
    return f"{count} value(s) of the wrong type or out of range (beyond +/-{svg.MAX_PLOT:g}) not drawn"


def _plottable(values, dropped: list) -> list:
    """The values a chart can draw; how many were left out goes into `dropped`."""
    kept = [v for v in values if svg.plottable(v)]
    if len(kept) < len(values):
        dropped.append(len(values) - len(kept))
    return kept


def _one(value, dropped: list):
    """`value` when a chart can draw it; None when absent or not (counted in `dropped`)."""
    return None if value is None else (_plottable([value], dropped) or [None])[0]


def _workload(index: int, summary: dict, workload, document: dict, series: dict, dropped: list) -> str:
    own = [f for f in document["findings"] if f.get("workload") == summary["path"] and f["outcome"] != "INFO"]
    out = [f'<section id="w{index}"><h2><span class="badge b-{_e(summary["verdict"])}">{_e(summary["verdict"])}'
           f'</span> {_e(summary["benchmark"])} {_e(summary["model"])} {_e(summary["accelerator"] or "")}</h2>'
           f'<div class="path">{_e(summary["path"])} · edition {_e(summary["edition"])} '
           f'({_e(summary["edition_source"])}) · {len(own)} finding(s) other than INFO</div>',
           _figures(summary), _run_table(summary, workload, document)]
    charts = []
    if workload.benchmark == "training":
        charts += [_throughput_chart(summary, workload, dropped), _au_chart(summary, workload, dropped)]
    charts = [c for c in charts if c]
    if charts:
        out.append(f'<h3>Across the runs</h3><div class="charts">{"".join(charts)}</div>')
    if workload.benchmark == "kv_cache":
        out.append(kv_page.options_view(summary.get("aggregate") or {}, dropped))
    if workload.benchmark == "vector_database":
        out.append(vdb_page.runs_view(summary.get("aggregate") or {}, dropped))
    if workload.benchmark == "benchfs":
        out.append(benchfs_page.runs_view(summary.get("aggregate") or {}, dropped))
    out.append(_time_series(summary, workload, series, dropped))
    if dropped:
        out.append(f'<p class="muted">{_not_drawn(sum(dropped))}.</p>')
    return "".join(out) + "</section>"


def _figures(summary: dict) -> str:
    figures = summary.get("aggregate") or {}
    cards = []
    for key, label, digits in (
            ("read_bw_GiB_per_second", "Read B/W (GiB/s)", 3),
            ("train_mean_of_au_percentage", "mean AU (%)", 2),
            ("train_mean_of_throughput_samples_per_second", "throughput (samples/s)", 2),
            ("throughput_cv", "run-to-run CV", 4),
            ("client_nodes", "client nodes", 0), ("simulated_accelerators", "simulated accelerators", 0),
            ("write_bw_GiB_per_second", "Write B/W (GiB/s)", 3), ("read_duration_seconds", "read duration (s)", 2),
            ("write_duration_seconds", "write duration (s)", 2), ("queries_per_second", "queries/s", 1),
            ("query_latency_p99_ms", "p99 latency (ms)", 2), ("recall_percent", "recall (%)", 2)):
        value = figures.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = f"{value:.2%}" if key == "throughput_cv" else _n(float(value), digits) if digits else str(value)
            cards.append(f'<div class="fig"><b>{shown}</b><span>{label}</span></div>')
    measured = summary.get("measured") or []
    if summary.get("warmup") or measured:
        cards.append(f'<div class="fig"><b>{len(measured)}</b><span>measured runs'
                     f'{" + warm-up" if summary.get("warmup") else ""}</span></div>')
    return f'<div class="figs">{"".join(cards)}</div>' if cards else ""


def _role(leaf, summary: dict) -> str:
    if leaf.name == summary.get("warmup") and leaf.command == "run":
        return "warm-up"
    return "measured" if leaf.name in (summary.get("measured") or []) else (leaf.command or "")


def _run_table(summary: dict, workload, document: dict) -> str:
    counts: dict = {}
    for item in document["findings"]:
        if item["outcome"] != "INFO" and item.get("evidence"):
            counts[item["evidence"]] = counts.get(item["evidence"], 0) + 1
    rows = []
    for leaf in workload.leaves:
        metric = leaf.metric
        au = metric.get("train_au_mean_percentage")
        tput = metric.get("train_throughput_mean_samples_per_second")
        stdev = metric.get("train_throughput_stdev_samples_per_second")
        mbps = metric.get("train_io_mean_MB_per_second")
        if leaf.benchmark == "checkpointing":
            au, tput, mbps = None, metric.get("save_checkpoint_io_mean_GB_per_second"), \
                metric.get("load_checkpoint_io_mean_GB_per_second")
        status = (leaf.metadata or {}).get("status") or (leaf.metadata or {}).get("exit_status") or ""
        issues = sum(n for path, n in counts.items() if path == leaf.rel or path.startswith(leaf.rel + "/"))
        spread = f' <span class="muted">± {_n(stdev)}</span>' if isinstance(stdev, int | float) else ""
        rows.append(
            f'<tr><td class="path">{_e(leaf.name)}</td><td>{_e(leaf.command)}</td><td>{_e(_role(leaf, summary))}</td>'
            f'<td>{_e(leaf.start.isoformat(sep=" ") if leaf.start else "")}</td>'
            f'<td class="n">{_n(leaf.duration_s, 1)}</td>'
            f'<td class="n">{_n(len(metric.get("train_au_percentage") or []) or None)}</td><td class="n">{_n(au)}</td>'
            f'<td class="n">{_n(tput)}{spread}</td><td class="n">{_n(mbps)}</td><td class="n">{_n(leaf.num_hosts)}</td>'
            f'<td class="n">{_n(leaf.num_accelerators)}</td><td>{_e(status)}</td>'
            f'<td class="n">{issues or ""}</td></tr>')
    if workload.benchmark == "checkpointing":
        head = ("save GiB/s", "load GiB/s")
    else:
        head = ("throughput (samples/s)", "I/O (MiB/s)")
    return ('<h3>Runs</h3><table><tr><th>leaf</th><th>command</th><th>role</th><th>start</th>'
            f'<th class="n">seconds</th><th class="n">epochs</th><th class="n">AU (%)</th>'
            f'<th class="n">{head[0]}</th><th class="n">{head[1]}</th>'
            '<th class="n">hosts</th><th class="n">accel.</th><th>status</th><th class="n">findings</th></tr>'
            + "".join(rows) + "</table>")


def _runs(workload) -> list:
    return [leaf for leaf in workload.leaves if leaf.command == "run" and leaf.metric]


def _labels(leaves: list, summary: dict) -> list[str]:
    """`warm-up`, then `run 1`, `run 2`, ... (other commands by name and number)."""
    labels, counts = [], {}
    for leaf in leaves:
        if leaf.command == "run" and leaf.name == summary.get("warmup"):
            labels.append("warm-up")
            continue
        counts[leaf.command] = counts.get(leaf.command, 0) + 1
        labels.append(f"{leaf.command or 'leaf'} {counts[leaf.command]}")
    return labels


def _throughput_chart(summary: dict, workload, dropped: list) -> str:
    runs = _runs(workload)
    measured = set(summary.get("measured") or [])
    bars = []
    for leaf, label in zip(runs, _labels(runs, summary), strict=True):
        metric = leaf.metric
        value = _one(metric.get("train_throughput_mean_samples_per_second"), dropped)
        spread = _one(metric.get("train_throughput_stdev_samples_per_second"), dropped)
        epochs = metric.get("train_throughput_samples_per_second")
        dots = _plottable(epochs if isinstance(epochs, list) else [], dropped)
        bars.append((label, value, spread if spread is None or spread >= 0 else None, leaf.name not in measured,
                     dots))
    values = [b[1] for b in bars if not b[3] and b[1] is not None]
    reference = None
    if values:
        cv = figures.coefficient_of_variation(values)
        shown = f", CV {cv:.2%}" if cv is not None else ""
        reference = (figures.mean(values), f"mean of measured {figures.mean(values):,.1f}{shown}")
    return svg.bar_chart("Throughput per run (bars: mean ± stdev; dots: epochs)", "samples/s", bars,
                                reference)


def _au_chart(summary: dict, workload, dropped: list) -> str:
    runs = []
    leaves = _runs(workload)
    for leaf, label in zip(leaves, _labels(leaves, summary), strict=True):
        au = leaf.metric.get("train_au_percentage")
        values = _plottable(au if isinstance(au, list) else [], dropped)
        runs.append((label, values))
    spec = template(workload.model, workload.accelerator)
    threshold = (spec.au_min_percentage, f"AU minimum {spec.au_min_percentage:g}%") if spec else None
    return svg.epoch_chart("Accelerator utilisation per epoch", "%", runs, threshold)


def _time_series(summary: dict, workload, series: dict, dropped: list) -> str:
    leaves = [(leaf, series[leaf.rel]) for leaf in workload.leaves if leaf.rel in series and series[leaf.rel].hosts]
    dropped.extend(data.ignored for _leaf, data in leaves if data.ignored)
    if not leaves:
        return ('<h3>Host time series</h3><p class="muted">No time series in these leaves '
                '(expected <code>*timeseries*/&lt;host&gt;.jsonl</code> files of mlps-timeseries/1 samples).</p>')
    segments, marks = [], []
    labels = _labels([leaf for leaf, _data in leaves], summary)
    for number, ((_leaf, data), label) in enumerate(zip(leaves, labels, strict=True)):
        segments.append((data.start, data.end, label, number % 2 == 1))
        marks.extend((start, f"{label} {name} start") for start, _end, name in data.epochs)
    runs = [data for _leaf, data in leaves]
    hosts = cluster_view.host_order(runs)
    intro = ('<h3>Host time series</h3><p class="muted">One segment per run (its length in seconds below it); '
             'dashed lines mark epoch starts from per_epoch_stats.json; ')
    if len(hosts) <= cluster_view.MAX_HOST_LINES:
        charts = [svg.time_chart(title, unit, cluster_view.per_host_lines(key, runs, hosts), segments, marks)
                  for key, title, unit, _pick in METRICS]
        return f'{intro}one line per host.</p><div class="charts">{"".join(charts)}</div>'
    charts, standing = [], []
    per_run = max(MIN_POINTS, MAX_POINTS // len(runs))
    for key, title, unit, _pick in METRICS:
        view = cluster_view.cluster_lines(key, runs, hosts, per_run)
        charts.append(svg.time_chart(title, unit, view.lines, segments, marks, view.bands))
        if view.outliers:
            standing.append(f"{_e(title)}: {_e(', '.join(view.outliers))}")
    return (f'{intro}{len(hosts)} hosts ({_e(hosts[0])} to {_e(hosts[-1])}), drawn as one cluster: rates as '
            f'their total over every host, CPU and page cache as the median host with a band from the lowest '
            f'to the highest of all {len(hosts)}. {_standing_note(standing)}</p>'
            f'<div class="charts">{"".join(charts)}</div>')


def _standing_note(standing: list[str]) -> str:
    rule = (f"a host whose mean is more than {cluster_view.OUTLIER_K:g} scaled MADs and "
            f"{cluster_view.MIN_RELATIVE:.0%} from the median host's")
    if not standing:
        return f"No host stands out ({rule})."
    return (f"Hosts standing out ({rule}; drawn as their own lines, up to {cluster_view.MAX_OUTLIER_LINES} "
            f"per chart): {'; '.join(standing)}.")
