"""`kubesim load`: clusterloader2-style load tests against the simulated cluster or any
cluster reachable by a kubeconfig, with SLO measurements, a JSON result and an HTML report.

config.py (the test config and its checks) and gotemplate.py (the template subset);
driver.py (steps, phases, state) over targets.py (runtime actor or kubeconfig), with the
worker (worker.py, actor.py) applying operations under tuning.py's tuning sets;
measurements/ (pod watches in the worker, metrics in the driver); run.py (the command),
report.py and svgplot.py (the HTML report).
"""
