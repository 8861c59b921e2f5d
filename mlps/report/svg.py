"""Small inline SVG charts for the HTML report: time series on a segmented time axis (one segment
per run, so hours between runs do not squeeze the runs into slivers), per-run bars with their
spread, and per-epoch lines. Plain strings; no plotting library, no scripts, no network."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H = 640, 210                    # viewBox; the page scales it to the column width
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34
BAND_FILL = "#c6d5e8"               # legend swatch of a min-max band (the band itself: its line's colour, faint)
GAP = 8                            # pixels between run segments
MAX_PLOT = 1e15                    # above any rate, percentage or count plotted; keeps axis arithmetic finite
MIN_SPAN = 1e-9                    # the narrowest axis range drawn


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 0.1 else f"{value:.3g}"


def plottable(value) -> bool:
    """A number a chart can place: int or float (not bool), finite, within +/- MAX_PLOT. Values from
    an untrusted tree can be strings, 1e308 or 10**400; those are left out (and the page says so)."""
    return type(value) in (int, float) and -MAX_PLOT <= value <= MAX_PLOT    # type(): bool is not a number here


def kept(value, dropped: list):
    """`value` when a chart can place it; None otherwise, counting a present but unplottable value in
    `dropped` so the page can say how many it left out."""
    if value is None:
        return None
    if plottable(value):
        return value
    dropped.append(1)
    return None


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps)."""
    if not plottable(low) or not plottable(high):
        return [0.0]
    low, high = float(low), float(high)
    if high - low < MIN_SPAN:               # also keeps 10**k above float underflow
        high = low + max(abs(low), 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.001 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _frame(title: str, unit: str, ticks: list[float], y_of, body: list[str], legend: list[tuple]) -> str:
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text class="ct" x="{LEFT}" y="10">{escape(title)}'
             f'{f" ({escape(unit)})" if unit else ""}</text>']
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="yl" x="{LEFT - 5}" y="{y + 3:.1f}">{_fmt(tick)}</text>')
    parts.extend(body)
    x = W - RIGHT
    for label, color in reversed(legend):
        width = 12 + 6.2 * len(label)
        x -= width
        parts.append(f'<rect x="{x:.0f}" y="3" width="9" height="9" fill="{color}"/>'
                     f'<text class="lg" x="{x + 12:.0f}" y="11">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def time_chart(title: str, unit: str, lines: list[tuple], segments: list[tuple], marks: list[tuple],
               bands: list[tuple] = ()) -> str:
    """lines: (label, [(t, value or None), ...]) per host; segments: (t0, t1, label, shaded) per run,
    in time order; marks: (t, label) such as epoch starts; bands: (label, [(t, low or None, high)])
    shaded between low and high in the colour of the line of the same index. Values outside every
    segment are dropped."""
    segments = [s for s in segments if s[1] > s[0]]
    if not segments:
        return ""
    span = sum(s[1] - s[0] for s in segments)
    usable = (W - LEFT - RIGHT) - GAP * (len(segments) - 1)
    starts, x = [], float(LEFT)
    for t0, t1, _label, _shade in segments:
        starts.append(x)
        x += (t1 - t0) / span * usable + GAP

    def x_of(t: float) -> float | None:
        for (t0, t1, _l, _s), x0 in zip(segments, starts, strict=True):
            if t0 <= t <= t1:
                return x0 + (t - t0) / span * usable
        return None

    def segment_of(t: float) -> int | None:
        return next((i for i, (t0, t1, _l, _s) in enumerate(segments) if t0 <= t <= t1), None)

    values = [v for _label, points in lines for _t, v in points if v is not None]
    values += [high for _label, points in bands for _t, _low, high in points if high is not None]
    top = max(values, default=1.0) or 1.0
    ticks = nice_ticks(0.0, top)
    y_max = ticks[-1] or 1.0
    plot_h = H - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    body = []
    for (t0, t1, label, shaded), x0 in zip(segments, starts, strict=True):
        width = (t1 - t0) / span * usable
        cls = "seg alt" if shaded else "seg"
        body.append(f'<rect class="{cls}" x="{x0:.1f}" y="{TOP}" width="{width:.1f}" height="{plot_h}">'
                    f'<title>{escape(label)}: {_fmt(t1 - t0)} s</title></rect>'
                    f'<text class="xl" x="{x0 + width / 2:.1f}" y="{H - BOTTOM + 13}">{escape(label)}</text>'
                    f'<text class="xs" x="{x0 + width / 2:.1f}" y="{H - BOTTOM + 25}">{_fmt(t1 - t0)} s</text>')
    for t, label in marks:
        mx = x_of(t)
        if mx is not None:
            body.append(f'<line class="mark" x1="{mx:.1f}" x2="{mx:.1f}" y1="{TOP}" y2="{H - BOTTOM}">'
                        f'<title>{escape(label)}</title></line>')
    legend = []
    for index, (label, points) in enumerate(bands):
        color = PALETTE[index % len(PALETTE)]
        legend.append((label, BAND_FILL))
        lows = _polylines([(t, low) for t, low, _high in points], x_of, segment_of)
        highs = _polylines([(t, None if low is None else high) for t, low, high in points], x_of, segment_of)
        for low_run, high_run in zip(lows, highs, strict=False):
            outline = [*low_run, *reversed(high_run)]
            coords = " ".join(f"{px:.1f},{y_of(v):.1f}" for px, v in outline)
            body.append(f'<polygon class="band" fill="{color}" points="{coords}"/>')
    for index, (label, points) in enumerate(lines):
        color = PALETTE[index % len(PALETTE)]
        legend.append((label, color))
        for run in _polylines(points, x_of, segment_of):
            coords = " ".join(f"{px:.1f},{y_of(v):.1f}" for px, v in run)
            body.append(f'<polyline class="ln" stroke="{color}" points="{coords}"/>')
    return _frame(title, unit, ticks, y_of, body, legend)


def _polylines(points, x_of, segment_of) -> list[list]:
    """Points mapped to x, averaged per 2-pixel column, split where data is missing or a run's
    segment ends (however sparse the samples, points of one segment are joined)."""
    runs, current, column, bucket, segment = [], [], None, [], None
    for t, v in points:
        px = x_of(t) if v is not None else None
        if px is None:
            if bucket:
                current.append((column * 2 + 1, sum(bucket) / len(bucket)))
            if len(current) > 1:
                runs.append(current)
            elif current:
                runs.append(current * 2)            # a lone point still shows as a dot-length line
            current, column, bucket, segment = [], None, [], None
            continue
        col, seg = int(px // 2), segment_of(t)
        if column is not None and col != column:
            current.append((column * 2 + 1, sum(bucket) / len(bucket)))
            bucket = []
            if seg != segment:                      # the next run's segment: do not join across the gap
                if len(current) > 1:
                    runs.append(current)
                current = []
        column, segment = col, seg
        bucket.append(v)
    if bucket:
        current.append((column * 2 + 1, sum(bucket) / len(bucket)))
    if current:
        runs.append(current if len(current) > 1 else current * 2)
    return runs


def bar_chart(title: str, unit: str, bars: list[tuple], reference: tuple | None = None) -> str:
    """bars: (label, value, spread, muted, dots) - spread draws +/- whiskers, dots per-epoch values;
    reference: (value, label) drawn as a dashed line across."""
    if not bars:
        return ""
    values = [b[1] + (b[2] or 0) for b in bars if b[1] is not None]
    values += [d for b in bars for d in (b[4] or ())]
    if reference:
        values.append(reference[0])
    ticks = nice_ticks(0.0, max(values, default=1.0) or 1.0)
    y_max = ticks[-1] or 1.0
    plot_h = H - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    slot = (W - LEFT - RIGHT) / len(bars)
    body = []
    for index, (label, value, spread, muted, dots) in enumerate(bars):
        cx = LEFT + slot * (index + 0.5)
        width = min(46.0, slot * 0.6)
        if value is not None:
            cls = "bar muted" if muted else "bar"
            body.append(f'<rect class="{cls}" x="{cx - width / 2:.1f}" y="{y_of(value):.1f}" width="{width:.1f}" '
                        f'height="{y_of(0) - y_of(value):.1f}"><title>{escape(label)}: {_fmt(value)}'
                        f'{f" ± {_fmt(spread)}" if spread else ""}</title></rect>')
            if spread:
                lo, hi = y_of(max(0.0, value - spread)), y_of(value + spread)
                body.append(f'<path class="wh" d="M{cx:.1f} {lo:.1f}V{hi:.1f}M{cx - 5:.1f} {lo:.1f}h10'
                            f'M{cx - 5:.1f} {hi:.1f}h10"/>')
        for j, dot in enumerate(dots or ()):
            dx = cx - width / 2 + width * (j + 0.5) / len(dots)
            body.append(f'<circle class="dot" cx="{dx:.1f}" cy="{y_of(dot):.1f}" r="2"/>')
        body.append(f'<text class="xl" x="{cx:.1f}" y="{H - BOTTOM + 13}">{escape(label)}</text>')
        if value is not None:
            body.append(f'<text class="xs" x="{cx:.1f}" y="{H - BOTTOM + 25}">{_fmt(value)}</text>')
    if reference:
        ry = y_of(reference[0])
        body.append(f'<line class="ref" x1="{LEFT}" x2="{W - RIGHT}" y1="{ry:.1f}" y2="{ry:.1f}"/>'
                    f'<text class="rl" x="{W - RIGHT - 2}" y="{ry - 3:.1f}">{escape(reference[1])}</text>')
    return _frame(title, unit, ticks, y_of, body, [])


def epoch_chart(title: str, unit: str, runs: list[tuple], threshold: tuple | None = None,
                low: float | None = None) -> str:
    """runs: (label, [value per epoch]); threshold: (value, label) as a dashed line (e.g. AU 90 %)."""
    runs = [(label, values) for label, values in runs if values]
    if not runs:
        return ""
    epochs = max(len(values) for _label, values in runs)
    values = [v for _label, vs in runs for v in vs]
    if threshold:
        values.append(threshold[0])
    floor = low if low is not None else min(values)
    ticks = nice_ticks(math.floor(floor) - 1 if floor > 1 else 0.0, max(values))
    y_lo, y_hi = ticks[0], ticks[-1]
    plot_h = H - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - y_lo) / ((y_hi - y_lo) or 1.0))

    def x_of(i: int) -> float:
        return LEFT + 18 + (W - LEFT - RIGHT - 36) * (i / max(1, epochs - 1))

    body = [f'<text class="xl" x="{x_of(i):.1f}" y="{H - BOTTOM + 13}">{i + 1}</text>' for i in range(epochs)]
    body.append(f'<text class="xs" x="{(LEFT + W - RIGHT) / 2:.0f}" y="{H - BOTTOM + 26}">epoch</text>')
    if threshold:
        ry = y_of(threshold[0])
        body.append(f'<line class="ref" x1="{LEFT}" x2="{W - RIGHT}" y1="{ry:.1f}" y2="{ry:.1f}"/>'
                    f'<text class="rl" x="{W - RIGHT - 2}" y="{ry - 3:.1f}">{escape(threshold[1])}</text>')
    legend = []
    for index, (label, vs) in enumerate(runs):
        color = PALETTE[index % len(PALETTE)]
        legend.append((label, color))
        coords = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(vs))
        body.append(f'<polyline class="ln" stroke="{color}" points="{coords}"/>')
        body.extend(f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{color}">'
                    f'<title>{escape(label)} epoch {i + 1}: {_fmt(v)}</title></circle>' for i, v in enumerate(vs))
    return _frame(title, unit, ticks, y_of, body, legend)


def grouped_bar_chart(title: str, unit: str, groups: list[tuple], series: list[str]) -> str:
    """groups: (label, [value or None per series]); one coloured bar per series in each group, a legend
    naming the series (e.g. latency percentiles per run)."""
    groups = [(label, list(values)) for label, values in groups if any(v is not None for v in values)]
    if not groups or not series:
        return ""
    values = [v for _label, vs in groups for v in vs if v is not None]
    ticks = nice_ticks(0.0, max(values, default=1.0) or 1.0)
    y_max = ticks[-1] or 1.0
    plot_h = H - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    slot = (W - LEFT - RIGHT) / len(groups)
    width = min(18.0, slot * 0.8 / len(series))
    body = []
    for index, (label, vs) in enumerate(groups):
        cx = LEFT + slot * (index + 0.5)
        x0 = cx - width * len(series) / 2
        for j, value in enumerate(vs[:len(series)]):
            if value is None:
                continue
            body.append(f'<rect x="{x0 + j * width:.1f}" y="{y_of(value):.1f}" width="{width * 0.9:.1f}" '
                        f'height="{y_of(0) - y_of(value):.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                        f'<title>{escape(label)} {escape(series[j])}: {_fmt(value)}</title></rect>')
        body.append(f'<text class="xl" x="{cx:.1f}" y="{H - BOTTOM + 13}">{escape(label)}</text>')
    legend = [(name, PALETTE[j % len(PALETTE)]) for j, name in enumerate(series)]
    return _frame(title, unit, ticks, y_of, body, legend)
