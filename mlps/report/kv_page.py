"""The HTML report's per-Option view of a KV-cache workload: the Option's figures (the three P95s
labelled), its bandwidth per trial, the P95 of every rank and the share of bytes each tier served.
Figures come from mlps.results.figures.kv_results (recomputed from the rank files when present)."""

from __future__ import annotations

from html import escape

from mlps.report import svg
from mlps.rulebook.workloads import KV_OPTIONS
from mlps.safe_text import printable

MAX_RANK_BARS = 64             # more ranks than this: the chart shows the highest P95s only
ROWS = (("aggregated_avg_throughput_tokens_per_sec", "throughput (tok/s, wall clock)"),
        ("aggregated_storage_throughput_tokens_per_sec", "storage throughput (tok/s)"),
        ("aggregated_read_bandwidth_gbps", "read B/W (GiB/s)"),
        ("aggregated_write_bandwidth_gbps", "write B/W (GiB/s)"),
        ("aggregated_p95_latency_ms", "P95 per-request storage time (ms, v3.0 table)"),
        ("aggregated_storage_read_p95_ms", "P95 storage read, per I/O (ms)"),
        ("aggregated_device_read_p95_ms", "P95 device read (ms, rule book 6.3.4.3)"),
        ("aggregated_device_write_p95_ms", "P95 device write (ms, rule book 6.3.4.3)"),
        ("cache_hit_rate_mean", "cache hit rate (mean of ranks)"))


def _e(value) -> str:
    return escape("" if value is None else printable(value))


def _n(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


def options_view(figures: dict, dropped: list) -> str:
    """One block per Option present in `figures` (kv_results' output); empty when there is none."""
    keys = sorted(k for k in figures if k.startswith("option_") and isinstance(figures[k], dict))
    if not keys:
        return ""
    source = figures.get("source") or "?"
    out = [f'<h3>KV-cache Options</h3><p class="muted">From leaf {_e(figures.get("from_leaf"))} ({_e(source)}); '
           f'{_e(figures.get("total_ranks"))} clients on {_e(figures.get("client_nodes"))} host(s).</p>']
    for key in keys:
        out.append(_option(key, figures[key], dropped))
    return "".join(out)


def _option(key: str, option: dict, dropped: list) -> str:
    number = key.removeprefix("option_")
    spec = KV_OPTIONS.get(int(number)) if number.isdigit() else None
    title = f"Option {number}" + (f": {spec.name} ({spec.group_label})" if spec else "")
    rows = "".join(f'<tr><td>{_e(label)}</td><td class="n">{_n(option.get(field))}</td></tr>'
                   for field, label in ROWS)
    shares = option.get("tier_read_share") if isinstance(option.get("tier_read_share"), dict) else {}
    rows += "".join(f'<tr><td>share of KV bytes read from the {_e(tier)} tier</td>'
                    f'<td class="n">{_n(value)}</td></tr>' for tier, value in shares.items())
    partial = " · partial run" if option.get("partial_failure") else ""
    charts = [c for c in (_trial_chart(option, dropped), _rank_chart(option, dropped)) if c]
    return (f'<div class="card"><b>{_e(title)}</b><span class="muted"> · {_e(option.get("trial_count"))} trial(s) '
            f'x {_e(option.get("rank_count"))} rank(s){_e(partial)}</span>'
            f'<table>{rows}</table>'
            + (f'<div class="charts">{"".join(charts)}</div>' if charts else "") + "</div>")


def _trial_chart(option: dict, dropped: list) -> str:
    trials = option.get("per_trial") if isinstance(option.get("per_trial"), list) else []
    bars = [(f"trial {t.get('trial')}", svg.kept(t.get("read_bandwidth_gbps"), dropped), None, False,
             [v for v in (svg.kept(t.get("write_bandwidth_gbps"), dropped),) if v is not None])
            for t in trials if isinstance(t, dict)]
    return svg.bar_chart("Read bandwidth per trial (bars; dot: write)", "GiB/s", bars) if bars else ""


def _rank_chart(option: dict, dropped: list) -> str:
    """Largest per-request storage P95 of each rank over the trials; dots: each trial's."""
    per_rank: dict = {}
    for item in option.get("per_rank_p95") or ():
        if isinstance(item, dict) and isinstance(item.get("rank"), int):
            value = svg.kept(item.get("storage_io_p95_ms"), dropped)
            if value is not None:
                per_rank.setdefault(item["rank"], []).append(value)
    if not per_rank:
        return ""
    ranked = sorted(per_rank.items(), key=lambda kv: -max(kv[1]))[:MAX_RANK_BARS]
    bars = [(f"r{rank}", max(values), None, False, values) for rank, values in sorted(ranked)]
    more = f", the {MAX_RANK_BARS} highest of {len(per_rank)}" if len(per_rank) > MAX_RANK_BARS else ""
    return svg.bar_chart(f"P95 storage time per rank (max over trials{more})", "ms", bars)
