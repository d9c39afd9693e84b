"""kube-scheduler: pending pods by queue, attempts by result, attempt and end-to-end
latency, framework extension points and preemption."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row
from kubesim.metrics.dashboards.promql import (
    cluster_variable,
    quantile,
    rate,
    scoped_variable,
    selector,
)

S = selector(variables=("cluster", "instance"))
SLI = "scheduler_pod_scheduling_sli_duration_seconds"

DASHBOARD = Dashboard(
    uid="kubesim-scheduler",
    title="kubesim / kube-scheduler",
    description="kube-scheduler replicas: queues, attempts, latency and preemption.",
    variables=(cluster_variable("scheduler_pending_pods"),
               scoped_variable("instance", "Instance", "scheduler_pending_pods")),
    rows=(
        Row("Queue and attempts", (
            Panel("Pending pods by queue", "Pods in the active, backoff, unschedulable and gated queues.",
                  (Query(f"sum by (queue) (scheduler_pending_pods{S})", "{{queue}}"),), stack=True),
            Panel("Attempts by result", "Scheduling attempts per second: scheduled, unschedulable, error.",
                  (Query(rate("scheduler_schedule_attempts_total", S, ("result",)), "{{result}}"),), unit="ops"),
        )),
        Row("Latency", (
            Panel("Attempt latency", "Scheduling attempt latency (algorithm + binding) by result, p50 and p99.",
                  (Query(quantile(0.99, "scheduler_scheduling_attempt_duration_seconds", S, ("result",)),
                         "p99 {{result}}"),
                   Query(quantile(0.5, "scheduler_scheduling_attempt_duration_seconds", S, ("result",)),
                         "p50 {{result}}")),
                  unit="s", width=8),
            Panel("Pod scheduling latency (e2e)", "From entering the queue to scheduled, over all attempts.",
                  (Query(quantile(0.99, SLI, S), "p99"), Query(quantile(0.5, SLI, S), "p50")),
                  unit="s", width=8),
            Panel("Extension point p99", "99th percentile time of all plugins at each extension point.",
                  (Query(quantile(0.99, "scheduler_framework_extension_point_duration_seconds", S,
                                  ("extension_point",)), "{{extension_point}}"),), unit="s", width=8),
        )),
        Row("Preemption", (
            Panel("Preemption attempts", "Preemption attempts per second.",
                  (Query(rate("scheduler_preemption_attempts_total", S), "attempts"),), unit="ops"),
            Panel("Preemption victims p99", "99th percentile number of victims a preemption selects.",
                  (Query(quantile(0.99, "scheduler_preemption_victims", S), "p99"),)),
        )),
    ),
)
