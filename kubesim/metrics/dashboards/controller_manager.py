"""kube-controller-manager: each controller's work queue (depth, adds, queue latency, work
duration, retries), leader election and the node lifecycle controller."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row, Variable
from kubesim.metrics.dashboards.promql import (
    cluster_variable,
    quantile,
    rate,
    scoped_variable,
    selector,
)

S = selector(variables=("cluster", "instance"))
Q = selector('name=~"$controller"', variables=("cluster", "instance"))

DASHBOARD = Dashboard(
    uid="kubesim-controller-manager",
    title="kubesim / kube-controller-manager",
    description="kube-controller-manager replicas: work queues per controller, leader election, node lifecycle.",
    variables=(cluster_variable("workqueue_adds_total"),
               scoped_variable("instance", "Instance", "workqueue_adds_total"),
               Variable("controller", "Controller",
                        'workqueue_adds_total{cluster=~"$cluster", instance=~"$instance"}', "name")),
    rows=(
        Row("Work queues", (
            Panel("Work queue depth", "Items waiting in each controller's queue.",
                  (Query(f"sum by (name) (workqueue_depth{Q})", "{{name}}"),), width=8),
            Panel("Work queue adds", "Items added per second, per controller.",
                  (Query(rate("workqueue_adds_total", Q, ("name",)), "{{name}}"),), unit="ops", width=8),
            Panel("Retries", "Items re-queued with rate limiting per second, per controller.",
                  (Query(rate("workqueue_retries_total", Q, ("name",)), "{{name}}"),), unit="ops", width=8),
            Panel("Queue latency p99", "99th percentile time an item waits in the queue before a worker takes it.",
                  (Query(quantile(0.99, "workqueue_queue_duration_seconds", Q, ("name",)), "{{name}}"),),
                  unit="s", width=8),
            Panel("Work duration p99", "99th percentile time a worker spends on an item.",
                  (Query(quantile(0.99, "workqueue_work_duration_seconds", Q, ("name",)), "{{name}}"),),
                  unit="s", width=8),
            Panel("Longest running processor", "The longest a worker has been on its current item.",
                  (Query(f"max by (name) (workqueue_longest_running_processor_seconds{Q})", "{{name}}"),),
                  unit="s", width=8),
        )),
        Row("Leader election and nodes", (
            Panel("Leader", "1 for the replica holding the Lease.",
                  (Query(f"max by (instance, name) (leader_election_master_status{S})", "{{instance}} {{name}}"),),
                  width=8),
            Panel("Zone health", "Percentage of Ready nodes per zone (node lifecycle controller).",
                  (Query(f"max by (zone) (node_collector_zone_health{S})", "{{zone}}"),), unit="percent", width=8),
            Panel("Node evictions", "Nodes whose pods were evicted per second, by zone.",
                  (Query(rate("node_collector_evictions_total", S, ("zone",)), "{{zone}}"),), unit="ops", width=8),
        )),
    ),
)
