"""kubesim's Grafana dashboards: defined once in Python (`catalogue.py` and a module per
dashboard, on the shapes of `model.py`), rendered to Grafana JSON (`grafana.py`) and checked
in under `dashboards/` with the Prometheus files (`files.py`), all written by
`python -m kubesim.metrics.dashboards`. The static report (`kubesim.metrics.static`) renders
the same catalogue without Grafana."""
