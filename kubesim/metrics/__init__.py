"""Watching a run the way one watches a real cluster: the Grafana dashboards (`dashboards/`),
a Prometheus started for a run (`prometheus.py`) and its HTTP API client (`promapi.py`),
and the static HTML fallback that renders the dashboards' panels as SVG plots (`static.py`).
"""
