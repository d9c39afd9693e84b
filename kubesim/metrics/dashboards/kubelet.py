"""kubelet: pod start duration (and the pod startup SLI), container runtime operations,
pod workers, PLEG and running pods per node."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row
from kubesim.metrics.dashboards.promql import (
    cluster_variable,
    quantile,
    rate,
    scoped_variable,
    selector,
)

S = selector(variables=("cluster", "node"))

DASHBOARD = Dashboard(
    uid="kubesim-kubelet",
    title="kubesim / kubelet",
    description="Kubelets: pod start latency, runtime operations and running pods per node.",
    variables=(cluster_variable("kubelet_node_name"),
               scoped_variable("node", "Node", "kubelet_node_name")),
    rows=(
        Row("Pods", (
            Panel("Running pods", "Pods with a running sandbox on the selected nodes.",
                  (Query(f"sum(kubelet_running_pods{S})", "pods"),), kind="stat", width=6, height=6),
            Panel("Nodes", "Kubelets reporting (kubelet_node_name).",
                  (Query(f"count(kubelet_node_name{S})", "nodes"),), kind="stat", width=6, height=6),
            Panel("Running containers by state", "Containers per state on the selected nodes.",
                  (Query(f"sum by (container_state) (kubelet_running_containers{S})", "{{container_state}}"),),
                  width=12, height=6),
            Panel("Running pods per node", "The 20 nodes running the most pods.",
                  (Query(f"topk(20, sum by (node) (kubelet_running_pods{S}))", "{{node}}"),), width=24),
        )),
        Row("Pod start", (
            Panel("Pod start duration", "From the kubelet seeing a pod to it running, p50 and p99.",
                  (Query(quantile(0.99, "kubelet_pod_start_duration_seconds", S), "p99"),
                   Query(quantile(0.5, "kubelet_pod_start_duration_seconds", S), "p50")),
                  unit="s"),
            Panel("Pod startup SLI", "From pod creation to all containers started, observed via watch, "
                  "excluding image pulls (the SLO: p99 <= 5 s).",
                  (Query(quantile(0.99, "kubelet_pod_start_sli_duration_seconds", S), "p99"),
                   Query(quantile(0.5, "kubelet_pod_start_sli_duration_seconds", S), "p50")),
                  unit="s"),
        )),
        Row("Runtime and sync", (
            Panel("Runtime operations", "Container runtime (CRI) operations per second by type.",
                  (Query(rate("kubelet_runtime_operations_total", S, ("operation_type",)), "{{operation_type}}"),),
                  unit="ops", width=8),
            Panel("Runtime operation p99", "99th percentile CRI operation latency by type.",
                  (Query(quantile(0.99, "kubelet_runtime_operations_duration_seconds", S, ("operation_type",)),
                         "{{operation_type}}"),), unit="s", width=8),
            Panel("Pod worker p99", "99th percentile time to sync one pod, by operation.",
                  (Query(quantile(0.99, "kubelet_pod_worker_duration_seconds", S, ("operation_type",)),
                         "{{operation_type}}"),), unit="s", width=8),
            Panel("PLEG relist p99", "99th percentile time to relist pods in the PLEG.",
                  (Query(quantile(0.99, "kubelet_pleg_relist_duration_seconds", S), "p99"),), unit="s", width=24),
        )),
    ),
)
