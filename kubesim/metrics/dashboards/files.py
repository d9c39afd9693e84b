"""The generated files under `dashboards/`: the Grafana dashboards and the Prometheus
configuration and rules."""

from __future__ import annotations

from kubesim.metrics import prometheus_config, rules
from kubesim.metrics.dashboards.catalogue import DASHBOARDS
from kubesim.metrics.dashboards.grafana import render


def generated_files() -> dict[str, str]:
    """Every generated file under `dashboards/`, by path relative to it."""
    files = {board.filename: render(board) for board in DASHBOARDS}
    files[f"prometheus/{prometheus_config.RULES_FILE}"] = rules.rules_yaml()
    files["prometheus/prometheus.yml"] = prometheus_config.shipped_config()
    return files
