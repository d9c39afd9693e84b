"""The static fallback for people without Grafana: every dashboard's panels as SVG plots
rendered from Prometheus range queries, one self-contained HTML page per dashboard and an
index page.

    render_panels(prometheus_url, start, end, out_dir) -> [index.html, cluster.html, ...]

`start` and `end` are Unix times (the run's wall-clock window). The step gives about
`POINTS` points per plot, never less than the scrape interval; `$__rate_interval` becomes
max(4 scrape intervals, 2 steps), as Grafana computes it. Template variables are All
unless `values` names them (e.g. {"cluster": "my-run"}). A query Prometheus rejects shows
its error in the panel; the other panels still render. A run report embeds the pages
(iframe or link) or reads the SVGs out of them.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubesim.metrics.dashboards.catalogue import DASHBOARDS
from kubesim.metrics.dashboards.model import Dashboard, Panel, substitute
from kubesim.metrics.promapi import PrometheusAPI, PrometheusError, Series
from kubesim.metrics.units import format_value

POINTS = 240
COLUMN_WIDTH, HEIGHT = 47, 200  # SVG units per grid column (of 24), plot height
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 10, 10, 24
PALETTE = ("#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0",
           "#508642", "#cca300")
MAX_LEGEND = 12
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class PanelData:
    """A panel's series, each with its legend, or the error its queries met."""

    panel: Panel
    series: list[tuple[str, Series]]
    errors: list[str]


def rate_interval(step: float, scrape_interval: float) -> str:
    return f"{int(max(4 * scrape_interval, 2 * step) * 1000)}ms"


def legend(template: str, labels: Mapping[str, str]) -> str:
    if not template:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
    return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template).strip()


def query_panel(api: PrometheusAPI, panel: Panel, start: float, end: float, step: float,
                interval: str, values: Mapping[str, str] | None = None) -> PanelData:
    data = PanelData(panel, [], [])
    for query in panel.queries:
        try:
            result = api.query_range(substitute(query.expr, interval, values), start, end, step)
        except PrometheusError as exc:
            data.errors.append(str(exc))
            continue
        data.series += [(legend(query.legend, s.labels), s) for s in result]
    return data


def _finite(series: Series) -> list[tuple[float, float]]:
    return [(t, v) for t, v in series.points if math.isfinite(v)]


def plot_svg(data: PanelData, start: float, end: float, step: float) -> str:
    """A time series plot: one polyline per series (broken where values are missing)."""
    panel = data.panel
    width = COLUMN_WIDTH * panel.width  # so text is the same size in narrow and wide panels
    finite = [(name, _finite(s)) for name, s in data.series]
    values = [v for _name, points in finite for _t, v in points]
    low, high = (min(values + [0.0]), max(values + [0.0])) if values else (0.0, 1.0)
    if high == low:
        high = low + 1.0
    inner_w, inner_h = width - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    span = max(end - start, 1e-9)

    def x(t: float) -> float:
        return MARGIN_LEFT + (t - start) / span * inner_w

    def y(v: float) -> float:
        return MARGIN_TOP + (1 - (v - low) / (high - low)) * inner_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
             f'width="100%" role="img" aria-label="{html.escape(panel.title)}">',
             f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{inner_w}" height="{inner_h}" fill="#fafafa" '
             'stroke="#ddd"/>']
    for i in range(5):
        v = low + (high - low) * i / 4
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     'stroke="#e5e5e5"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{html.escape(format_value(v, panel.unit))}</text>')
    for i in range(5):
        t = start + span * i / 4
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle">'
                     f'+{(t - start):.0f}s</text>')
    for index, (_name, points) in enumerate(finite):
        colour = PALETTE[index % len(PALETTE)]
        for run in _contiguous(points, step * 1.5):
            if len(run) == 1:
                t, v = run[0]
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="{colour}"/>')
            else:
                coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
                parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _contiguous(points: Sequence[tuple[float, float]], gap: float) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= gap:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _stat_colour(panel: Panel, value: float) -> str:
    colour = "#333"
    for start, name in panel.thresholds:
        if start is None or value >= start:
            colour = name
    return colour


def panel_html(data: PanelData, start: float, end: float, step: float) -> str:
    panel = data.panel
    body: list[str] = []
    if data.errors:
        body += [f'<p class="error">{html.escape(e)}</p>' for e in data.errors]
    if not data.series and not data.errors:
        body.append('<p class="empty">No data in this window.</p>')
    elif panel.kind == "stat":
        for name, series in data.series:
            points = _finite(series)
            value = points[-1][1] if points else math.nan
            body.append(f'<div class="stat"><span class="value" style="color:{_stat_colour(panel, value)}">'
                        f'{html.escape(format_value(value, panel.unit, panel.decimals))}</span>'
                        f'<span class="name">{html.escape(name)}</span></div>')
    elif data.series:
        body.append(plot_svg(data, start, end, step))
        items = [f'<li><span style="background:{PALETTE[i % len(PALETTE)]}"></span>{html.escape(name)}</li>'
                 for i, (name, _s) in enumerate(data.series[:MAX_LEGEND])]
        if len(data.series) > MAX_LEGEND:
            items.append(f"<li>+{len(data.series) - MAX_LEGEND} more</li>")
        body.append(f'<ul class="legend">{"".join(items)}</ul>')
    width = panel.width / 24 * 100
    return (f'<section class="panel" style="width:calc({width:.4f}% - 12px)">'
            f'<h3 title="{html.escape(panel.description)}">{html.escape(panel.title)}</h3>{"".join(body)}</section>')


STYLE = """body{font-family:sans-serif;margin:16px;color:#222}h1{font-size:20px}h2{font-size:16px;
clear:both;border-bottom:1px solid #ccc;padding-top:8px}.row{display:flex;flex-wrap:wrap;gap:12px}
.panel{box-sizing:border-box;border:1px solid #ddd;padding:6px}h3{font-size:13px;margin:0 0 4px}
.legend{list-style:none;padding:0;margin:2px 0;font-size:11px;columns:2}.legend span{display:inline-block;
width:10px;height:3px;margin:0 4px 3px 0}.stat{display:inline-block;margin:4px 12px}.stat .value{font-size:24px;
display:block}.stat .name{font-size:11px;color:#666}.error{color:#c00;font-size:12px}.empty{color:#888;font-size:12px}"""


def dashboard_html(board: Dashboard, panels: list[PanelData], start: float, end: float, step: float,
                   title: str) -> str:
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(board.title)}</title>"
           f"<style>{STYLE}</style></head><body><p><a href='index.html'>{html.escape(title)}</a></p>"
           f"<h1>{html.escape(board.title)}</h1><p>{html.escape(board.description)}</p>"]
    remaining = iter(panels)
    for row in board.rows:
        out.append(f"<h2>{html.escape(row.title)}</h2><div class='row'>")
        out += [panel_html(next(remaining), start, end, step) for _ in row.panels]
        out.append("</div>")
    out.append("</body></html>")
    return "".join(out)


def render_panels(prometheus_url: str, start: float, end: float, out_dir: Path, *,
                  dashboards: Sequence[Dashboard] = DASHBOARDS, values: Mapping[str, str] | None = None,
                  scrape_interval: float = 2.0, title: str = "kubesim dashboards") -> list[Path]:
    """Render `dashboards` over [start, end] into `out_dir`; returns the index page and then
    one page per dashboard."""
    if end <= start:
        raise ValueError(f"empty time window: start {start} >= end {end}")
    api = PrometheusAPI(prometheus_url)
    step = max(scrape_interval, (end - start) / POINTS)
    interval = rate_interval(step, scrape_interval)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages: list[Path] = []
    links = []
    for board in dashboards:
        panels = [query_panel(api, panel, start, end, step, interval, values) for panel in board.panels()]
        page = out_dir / board.filename.replace(".json", ".html")
        page.write_text(dashboard_html(board, panels, start, end, step, title))
        pages.append(page)
        empty = sum(1 for p in panels if not p.series)
        links.append(f"<li><a href='{page.name}'>{html.escape(board.title)}</a> "
                     f"({len(panels)} panels, {empty} without data)</li>")
    index = out_dir / "index.html"
    index.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                     f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
                     f"<p>Prometheus {html.escape(prometheus_url)}, {end - start:.0f} s from "
                     f"{start:.0f} (Unix time), step {step:g} s.</p><ul>{''.join(links)}</ul></body></html>")
    return [index, *pages]
