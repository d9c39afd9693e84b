"""Small self-contained SVG charts for the HTML report (no plotting library, no scripts):
line charts, horizontal grouped bars and histograms. Each chart is an `<svg class="plot"
data-plot="ID">` with axes, ticks, a legend and a `<title>` per mark, so the report opens
anywhere and a test can find every plot and its marks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 760, 300
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 30, 45
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above the highest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:g}"
    return f"{v:.3g}"


def _frame(plot_id: str, title: str, xlabel: str, ylabel: str, height: int = HEIGHT) -> list[str]:
    return [f'<svg class="plot" data-plot="{escape(plot_id)}" xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">',
            f"<title>{escape(title)}</title>",
            f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-weight="bold" font-size="14">{escape(title)}</text>',
            f'<text x="{WIDTH / 2}" y="{height - 6}" text-anchor="middle" font-size="12">{escape(xlabel)}</text>',
            f'<text x="14" y="{height / 2}" text-anchor="middle" font-size="12" '
            f'transform="rotate(-90 14 {height / 2})">{escape(ylabel)}</text>']


def _empty(plot_id: str, title: str) -> str:
    parts = _frame(plot_id, title, "", "", 80)
    parts.append(f'<text x="{WIDTH / 2}" y="50" text-anchor="middle" fill="#888">no data</text></svg>')
    return "\n".join(parts)


def line_chart(plot_id: str, title: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
               xlabel: str, ylabel: str, hlines: Sequence[tuple[str, float]] = ()) -> str:
    points = [(x, y) for _n, pts in series for x, y in pts if y is not None and math.isfinite(y)]
    if not points:
        return _empty(plot_id, title)
    xs, ys = [p[0] for p in points], [p[1] for p in points] + [v for _n, v in hlines]
    xt, yt = _nice_ticks(min(xs), max(xs)), _nice_ticks(0.0, max(ys) * 1.05 or 1.0)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B

    def sx(x: float) -> float:
        return MARGIN_L + (x - x0) / ((x1 - x0) or 1) * pw

    def sy(y: float) -> float:
        return MARGIN_T + ph - (y - y0) / ((y1 - y0) or 1) * ph

    parts = _frame(plot_id, title, xlabel, ylabel)
    parts += _axes(xt, yt, sx, sy)
    for name, value in hlines:
        parts.append(f'<line class="threshold" x1="{MARGIN_L}" x2="{MARGIN_L + pw}" y1="{sy(value):.1f}" '
                     f'y2="{sy(value):.1f}" stroke="#d62728" stroke-dasharray="6 4"><title>{escape(name)}: '
                     f'{_fmt(value)}</title></line>')
    for i, (name, pts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        good = [(x, y) for x, y in pts if y is not None and math.isfinite(y)]
        if not good:
            continue
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for j, (x, y) in enumerate(good))
        parts.append(f'<path class="series" d="{path}" fill="none" stroke="{color}" stroke-width="1.8">'
                     f"<title>{escape(name)}</title></path>")
        for x, y in good[:: max(1, len(good) // 60)]:
            parts.append(f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="{color}">'
                         f"<title>{escape(name)}: {_fmt(x)}, {_fmt(y)}</title></circle>")
    parts += _legend([n for n, _p in series])
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(xt: Sequence[float], yt: Sequence[float], sx: object, sy: object) -> list[str]:
    out = []
    for t in yt:
        y = sy(t)  # type: ignore[operator]
        out.append(f'<line x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{MARGIN_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>')
    for t in xt:
        x = sx(t)  # type: ignore[operator]
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - MARGIN_B + 16}" text-anchor="middle" font-size="11">{_fmt(t)}</text>')
    out.append(f'<line x1="{MARGIN_L}" x2="{MARGIN_L}" y1="{MARGIN_T}" y2="{HEIGHT - MARGIN_B}" stroke="#333"/>')
    out.append(f'<line x1="{MARGIN_L}" x2="{WIDTH - MARGIN_R}" y1="{HEIGHT - MARGIN_B}" '
               f'y2="{HEIGHT - MARGIN_B}" stroke="#333"/>')
    return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    x = MARGIN_L + 10
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        out.append(f'<rect x="{x}" y="{MARGIN_T}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{MARGIN_T + 9}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def bar_chart(plot_id: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
              xlabel: str, thresholds: Sequence[float | None] = ()) -> str:
    """Horizontal grouped bars: one group per category, one bar per series."""
    values = [v for _n, vs in series for v in vs if v is not None and math.isfinite(v)]
    if not categories or not values:
        return _empty(plot_id, title)
    row = 6 + 9 * len(series)
    height = MARGIN_T + 20 + row * len(categories) + MARGIN_B
    left = 260
    xt = _nice_ticks(0.0, max(values) * 1.05 or 1.0)  # thresholds beyond the bars are not drawn
    pw = WIDTH - left - MARGIN_R

    def sx(x: float) -> float:
        return left + x / (xt[-1] or 1) * pw

    parts = _frame(plot_id, title, xlabel, "", height)
    base = MARGIN_T + 20
    for t in xt:
        parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{base}" y2="{height - MARGIN_B}" stroke="#eee"/>')
        parts.append(f'<text x="{sx(t):.1f}" y="{height - MARGIN_B + 16}" text-anchor="middle" font-size="11">{_fmt(t)}</text>')
    for c, category in enumerate(categories):
        top = base + c * row
        parts.append(f'<text x="{left - 6}" y="{top + row / 2 + 4:.1f}" text-anchor="end" font-size="11">'
                     f"{escape(category)}</text>")
        for s, (name, vs) in enumerate(series):
            v = vs[c]
            if v is None or not math.isfinite(v):
                continue
            parts.append(f'<rect class="bar" x="{left}" y="{top + 3 + s * 9}" width="{max(sx(v) - left, 0.5):.1f}" '
                         f'height="8" fill="{COLORS[s % len(COLORS)]}"><title>{escape(category)} {escape(name)}: '
                         f"{_fmt(v)}</title></rect>")
        if c < len(thresholds) and thresholds[c] is not None and thresholds[c] <= xt[-1]:
            t = thresholds[c]
            parts.append(f'<line class="threshold" x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{top + row}" '
                         f'stroke="#d62728" stroke-dasharray="3 2"><title>SLO {_fmt(t)}</title></line>')
    out = "\n".join(parts + _legend([n for n, _v in series]) + ["</svg>"])
    return out


def histogram(plot_id: str, title: str, values: Sequence[float], xlabel: str, bins: int = 30,
              marks: Sequence[tuple[str, float]] = ()) -> str:
    good = [v for v in values if math.isfinite(v)]
    if not good:
        return _empty(plot_id, title)
    lo, hi = min(good), max(good + [v for _n, v in marks])
    if hi <= lo:
        hi = lo + 1.0
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in good:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    xt, yt = _nice_ticks(lo, hi), _nice_ticks(0.0, max(counts) * 1.05)
    x0, x1, y1 = xt[0], xt[-1], yt[-1]
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B

    def sx(x: float) -> float:
        return MARGIN_L + (x - x0) / ((x1 - x0) or 1) * pw

    def sy(y: float) -> float:
        return MARGIN_T + ph - y / (y1 or 1) * ph

    parts = _frame(plot_id, title, xlabel, "pods")
    parts += _axes(xt, yt, sx, sy)
    for i, count in enumerate(counts):
        if not count:
            continue
        a, b = lo + i * width, lo + (i + 1) * width
        parts.append(f'<rect class="bar" x="{sx(a):.1f}" y="{sy(count):.1f}" width="{max(sx(b) - sx(a) - 1, 0.5):.1f}" '
                     f'height="{sy(0) - sy(count):.1f}" fill="{COLORS[0]}"><title>{_fmt(a)}-{_fmt(b)}: {count}</title></rect>')
    for i, (name, value) in enumerate(marks):
        color = COLORS[(i + 1) % len(COLORS)]
        parts.append(f'<line class="mark" x1="{sx(value):.1f}" x2="{sx(value):.1f}" y1="{MARGIN_T}" '
                     f'y2="{HEIGHT - MARGIN_B}" stroke="{color}" stroke-dasharray="5 3"><title>{escape(name)}: '
                     f"{_fmt(value)}</title></line>")
    parts += _legend(["pods"] + [n for n, _v in marks])
    parts.append("</svg>")
    return "\n".join(parts)
