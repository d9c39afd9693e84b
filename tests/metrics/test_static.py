"""The static fallback's pieces: value formatting, legends, plots with gaps, and pages
rendered from a real Prometheus (Debian's) scraping a sim runtime's endpoint."""

from __future__ import annotations

import math
import time

import pytest

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row, substitute
from kubesim.metrics.promapi import PrometheusError, Series
from kubesim.metrics.prometheus import PrometheusServer
from kubesim.metrics.static import PanelData, legend, panel_html, plot_svg, render_panels
from kubesim.metrics.units import format_value
from kubesim.runtime.sim import SimRuntime
from tests.conftest import require_binary


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0042, "s", "4.2 ms"), (2.5, "s", "2.5 s"), (90.0, "s", "1.5 min"), (0.0, "s", "0 s"),
    (3 * 1024 ** 2, "bytes", "3 MiB"), (0.25, "percentunit", "25%"), (1500.0, "reqps", "1.5k req/s"),
    (0.5, "ops", "500m ops/s"), (math.nan, "s", "NaN"), (1.23456, "short", "1.23"),
])
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_legend_fills_labels_and_falls_back_to_the_label_set():
    assert legend("{{verb}} {{ resource }}", {"verb": "GET", "resource": "pods"}) == "GET pods"
    assert legend("", {"__name__": "up", "job": "x"}) == "job=x"
    assert legend("", {}) == "value"


def test_substitute_fills_variables_with_all_or_a_value():
    expr = 'rate(x{cluster=~"$cluster", node=~"$node"}[$__rate_interval])'
    assert substitute(expr, "8s") == 'rate(x{cluster=~".*", node=~".*"}[8s])'
    assert substitute(expr, "1m", {"node": "n1"}) == 'rate(x{cluster=~".*", node=~"n1"}[1m])'


def test_plot_breaks_lines_at_missing_points_and_skips_nan():
    panel = Panel("p", "d", (Query("x"),), unit="s")
    points = [(0.0, 1.0), (1.0, 2.0), (2.0, math.nan), (5.0, 1.0), (6.0, 3.0)]
    svg = plot_svg(PanelData(panel, [("a", Series({}, points))], []), 0.0, 6.0, step=1.0)
    assert svg.count("<polyline") == 2  # 0-1 and 5-6: the NaN and the 3 s gap break the line
    assert "3 s" in svg  # the top of the axis


def test_a_refused_query_shows_its_error_in_the_panel():
    panel = Panel("p", "d", (Query("sum("),))
    html = panel_html(PanelData(panel, [], [str(PrometheusError("bad_data: parse error"))]), 0, 1, 1)
    assert 'class="error"' in html and "parse error" in html


def test_render_panels_from_a_real_prometheus(tmp_path):
    require_binary("prometheus")
    rt = SimRuntime(seed=1, run_dir=tmp_path / "rt")
    targets = rt.run(lambda r: r.write_targets())
    board = Dashboard("kubesim-test", "Test", "A test dashboard.", (), (Row("r", (
        Panel("Simulated seconds", "sim clock", (Query("max(kubesim_simulated_seconds)", "sim"),), unit="s"),
        Panel("Actors", "stat", (Query("sum(kubesim_actors)", "actors"),), kind="stat"),
        Panel("Bad", "refused", (Query("sum(",),)),
        Panel("Nothing", "empty", (Query("no_such_metric",),)),
    )),))
    try:
        with PrometheusServer(tmp_path, [str(targets)], "test", scrape_interval="1s") as server:
            api = server.api()
            start = time.time()
            deadline = start + 30
            while not api.query("kubesim_actors") and time.time() < deadline:
                time.sleep(0.2)  # until the first scrape is stored
            time.sleep(1.5)
            index, page = render_panels(server.url, start - 2, time.time(), tmp_path / "out",
                                        dashboards=[board], scrape_interval=1.0)
    finally:
        rt.close()
    text = page.read_text()
    assert page.name == "test.html" and "test.html" in index.read_text()
    assert text.count("<svg") == 1  # the one plot with data
    assert 'class="stat"' in text and ">actors<" in text
    assert 'class="error"' in text and "No data in this window." in text
    assert "1 without data" not in index.read_text() and "2 without data" in index.read_text()
