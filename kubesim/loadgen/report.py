"""The HTML report of a load test, built from its JSON result alone: one self-contained
page (inline CSS and SVG from `svgplot.py`, no scripts, no network) with

- the verdict and the SLO table (each measurement's SLOs with threshold, value, pass/fail);
- API latency over time (apiserver p50/p99 of mutating and read-only calls per interval);
- percentiles per call (p50/p90/p99 of each verb/resource/scope against its SLO threshold);
- the pod startup distribution (create -> watched running, with p50/p90/p99 and the SLO);
- throughput (API requests per second, pods scheduled over time, client operations per second);
- the measurements' own numbers (etcd, network programming, simulator resource use) and
  the steps with their durations.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from kubesim.loadgen import svgplot

CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #127a12; font-weight: bold; } .fail { color: #c01818; font-weight: bold; }
.verdict { font-size: 20px; padding: 8px 12px; display: inline-block; border-radius: 4px; }
.verdict.pass { background: #e3f6e3; } .verdict.fail { background: #fde4e4; }
svg.plot { display: block; margin: 12px 0; background: #fff; border: 1px solid #eee; }
.meta { color: #555; font-size: 13px; }
"""


def _num(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def _slo_table(result: dict[str, Any]) -> str:
    rows = []
    for slo in result["slos"]:
        cls = "pass" if slo["pass"] else "fail"
        rows.append(f"<tr><td>{escape(slo['measurement'])}</td><td>{escape(slo['name'])}</td>"
                    f"<td class=num>{'>=' if slo.get('higher_is_better') else '<='} {_num(slo['threshold'])}</td>"
                    f"<td class=num>{_num(slo['value'])}</td><td class={cls}>{'PASS' if slo['pass'] else 'FAIL'}</td></tr>")
    for failure in result["failed_measurements"]:
        rows.append(f"<tr><td colspan=4>{escape(failure)}</td><td class=fail>FAIL</td></tr>")
    if not rows:
        return "<p>No SLO was measured.</p>"
    return ('<table class="slo-table"><tr><th>measurement</th><th>SLO</th><th>threshold</th><th>value</th>'
            "<th>verdict</th></tr>" + "".join(rows) + "</table>")


def _measurement(result: dict[str, Any], method_prefix: str) -> dict[str, Any] | None:
    return next((m for m in result["measurements"] if m["method"].startswith(method_prefix)), None)


def _latency_over_time(result: dict[str, Any]) -> str:
    series = []
    for cls in ("mutating", "readonly"):
        for q in ("p50", "p99"):
            series.append((f"{cls} {q}", [(p["t"], p[cls][q]) for p in result["timeline"]]))
    return svgplot.line_chart("latency-over-time", "API call latency over time (apiserver, per interval)", series,
                              "target time (s)", "seconds", hlines=[("mutating SLO", 1.0)])


def _percentiles_per_verb(result: dict[str, Any]) -> str:
    m = _measurement(result, "APIResponsivenessPrometheus")
    calls = (m or {}).get("summary", {}).get("calls", [])[:25]
    names = [f"{c['verb']} {c['resource']}{'/' + c['subresource'] if c['subresource'] else ''} ({c['scope']})"
             for c in calls]
    series = [(q, [c[q] for c in calls]) for q in ("perc50", "perc90", "perc99")]
    return svgplot.bar_chart("percentiles-per-verb", "API call latency percentiles per verb, resource and scope",
                             names, series, "seconds", thresholds=[c["threshold"] for c in calls])


def _pod_startup(result: dict[str, Any]) -> str:
    m = _measurement(result, "PodStartupLatency")
    samples = (m or {}).get("samples", [])
    values = [s[4] - s[1] for s in samples]
    summary = (m or {}).get("summary", {}).get("pod_startup", {})
    marks = [(f"p{q}", summary.get(f"perc{q}")) for q in (50, 90, 99)]
    marks = [(n, v) for n, v in marks if isinstance(v, int | float) and math.isfinite(v)]
    slo = next((s for s in (m or {}).get("slos", [])), None)
    if slo:
        marks.append(("SLO", slo["threshold"]))
    return svgplot.histogram("pod-startup", "Pod startup latency (created -> watched running)", values, "seconds",
                             marks=marks)


def _throughput(result: dict[str, Any]) -> str:
    api = [("API requests/s (mutating)", [(p["t"], p["mutating"]["rate"]) for p in result["timeline"]]),
           ("API requests/s (read-only)", [(p["t"], p["readonly"]["rate"]) for p in result["timeline"]])]
    m = _measurement(result, "SchedulingThroughput")
    timeline = (m or {}).get("timeline", [])
    sched = []
    for (t0, c0), (t1, c1) in zip(timeline, timeline[1:], strict=False):
        if t1 > t0:
            sched.append((t1 - (timeline[0][0] if timeline else 0.0), (c1 - c0) / (t1 - t0)))
    charts = [svgplot.line_chart("api-throughput", "API request throughput", api, "target time (s)", "requests/s")]
    charts.append(svgplot.line_chart("scheduling-throughput", "Pods scheduled per second (SchedulingThroughput)",
                                     [("pods/s", sched)], "seconds since the measurement started", "pods/s"))
    rows = result["calls"]["rows"]
    if rows:
        span = max(r[0] for r in rows)
        width = max(span / 60, 1.0)
        buckets: dict[int, int] = {}
        for r in rows:
            buckets[int(r[0] // width)] = buckets.get(int(r[0] // width), 0) + 1
        scale = result["calls"]["total"] / len(rows)
        ops = [((b + 0.5) * width, n * scale / width) for b, n in sorted(buckets.items())]
        charts.append(svgplot.line_chart("client-throughput", "Load generator operations per second", [("ops/s", ops)],
                                         "seconds since the first operation", "operations/s"))
    return "\n".join(charts)


def _api_table(result: dict[str, Any]) -> str:
    m = _measurement(result, "APIResponsivenessPrometheus")
    calls = (m or {}).get("summary", {}).get("calls", [])
    if not calls:
        return ""
    rows = "".join(
        f"<tr><td>{escape(c['verb'])}</td><td>{escape(c['resource'])}</td><td>{escape(c['subresource'])}</td>"
        f"<td>{escape(c['scope'])}</td><td class=num>{c['count']}</td><td class=num>{_num(c['perc50'])}</td>"
        f"<td class=num>{_num(c['perc90'])}</td><td class=num>{_num(c['perc99'])}</td>"
        f"<td class=num>{_num(c['threshold'])}</td><td class={'pass' if c['pass'] else 'fail'}>"
        f"{'PASS' if c['pass'] else 'FAIL'}</td></tr>" for c in calls)
    return ("<table><tr><th>verb</th><th>resource</th><th>subresource</th><th>scope</th><th>count</th>"
            "<th>p50 s</th><th>p90 s</th><th>p99 s</th><th>SLO s</th><th></th></tr>" + rows + "</table>")


def _summaries(result: dict[str, Any]) -> str:
    out = []
    for m in result["measurements"]:
        if m["method"].startswith("APIResponsiveness"):
            continue
        summary = m.get("summary") or {}
        rows = []
        for key, value in summary.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={_num(v)}" for k, v in value.items())
            elif isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            rows.append(f"<tr><td>{escape(str(key))}</td><td>{escape(_num(value) if not isinstance(value, str) else value)}</td></tr>")
        note = f"<p class=meta>{escape(m['note'])}</p>" if m.get("note") else ""
        error = f"<p class=fail>{escape(m['error'])}</p>" if m.get("error") else ""
        out.append(f"<h3>{escape(m['identifier'])} ({escape(m['method'])}, step {escape(m['step'])})</h3>"
                   f"{error}{note}<table>{''.join(rows)}</table>")
    return "\n".join(out)


def render_html(result: dict[str, Any]) -> str:
    verdict = "pass" if result["passed"] else "fail"
    target = result["target"]
    steps = "".join(f"<tr><td>{escape(s['name'])}</td><td class=num>{_num(s['seconds'])}</td>"
                    f"<td class=num>{_num(s['wall_seconds'])}</td></tr>" for s in result["steps"])
    ops = result["operations"]
    errors = "".join(f"<li>{escape(e)}</li>" for e in ops["error_samples"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kubesim load test: {escape(result['name'])}</title>
<style>{CSS}</style></head><body>
<h1>Load test {escape(result['name'])}</h1>
<p class=meta>config {escape(result['config'])} &middot; target {escape(target['description'])} ({escape(target['kind'])})
&middot; wall time {_num(result['wall_seconds'], ' s')} &middot; operations {ops['ok']} ok, {ops['failed']} failed</p>
<div class="verdict {verdict}" id="verdict">{'SLOs held' if result['passed'] else 'SLOs violated'}</div>
<h2>SLOs</h2>
{_slo_table(result)}
<h2>API call latency over time</h2>
{_latency_over_time(result)}
<h2>Percentiles per verb</h2>
{_percentiles_per_verb(result)}
{_api_table(result)}
<h2>Pod startup</h2>
{_pod_startup(result)}
<h2>Throughput</h2>
{_throughput(result)}
<h2>Measurements</h2>
{_summaries(result)}
<h2>Steps</h2>
<table><tr><th>step</th><th>target seconds</th><th>wall seconds</th></tr>{steps}</table>
{f'<h2>Errors</h2><ul>{errors}</ul>' if errors else ''}
</body></html>
"""
