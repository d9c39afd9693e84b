"""Cluster overview: nodes ready, pods by phase, scheduling rate, SLO status, and the
health of each control-plane tier at a glance."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row
from kubesim.metrics.dashboards.promql import cluster_variable, quantile, rate, selector
from kubesim.metrics.rules import SLO_RATIO

C = selector()
SLO_COLOURS = ((None, "green"), (1.0, "red"))

DASHBOARD = Dashboard(
    uid="kubesim-cluster",
    title="kubesim / Cluster overview",
    description="A simulated cluster at a glance: nodes, pods, scheduling, SLOs and control-plane health.",
    variables=(cluster_variable("kubesim_actors"),),
    rows=(
        Row("Nodes and pods", (
            Panel("Nodes ready",
                  "Ready nodes as the node lifecycle controller counts them (zone size minus not-Ready "
                  "nodes), and the kubelets that registered a node.",
                  (Query(f"sum(max by (cluster, zone) (node_collector_zone_size{C}) - "
                         f"max by (cluster, zone) (node_collector_unhealthy_nodes_in_zone{C}))", "ready"),
                   Query(f"count(kubelet_node_name{C})", "kubelets")),
                  kind="stat", width=6, height=6),
            Panel("Pods running", "Pods with a running sandbox, summed over the kubelets.",
                  (Query(f"sum(kubelet_running_pods{C})", "running"),), kind="stat", width=6, height=6),
            Panel("Pods pending", "Pods waiting in the active scheduler's queues.",
                  (Query(f"sum(max by (cluster, queue) (scheduler_pending_pods{C}))", "pending"),),
                  kind="stat", width=6, height=6),
            Panel("Nodes not ready", "Nodes the node lifecycle controller counts as not Ready, over all zones.",
                  (Query(f"sum(max by (cluster, zone) (node_collector_unhealthy_nodes_in_zone{C}))",
                         "not ready"),),
                  kind="stat", width=6, height=6, thresholds=((None, "green"), (1.0, "red"))),
            Panel("Nodes by readiness", "Ready and not-Ready nodes per zone (node lifecycle controller).",
                  (Query(f"max by (zone) (node_collector_zone_size{C}) - "
                         f"max by (zone) (node_collector_unhealthy_nodes_in_zone{C})", "ready {{zone}}"),
                   Query(f"max by (zone) (node_collector_unhealthy_nodes_in_zone{C})", "not ready {{zone}}")),
                  stack=True),
            Panel("Pods by phase",
                  "Running: pods with a running sandbox (kubelets). Pending: unscheduled pods in the "
                  "scheduler's queues. Stored: pod objects in etcd (apiserver_storage_objects); the "
                  "rest of them are bound but not yet running, or finished.",
                  (Query(f"sum(kubelet_running_pods{C})", "Running"),
                   Query(f"sum(max by (cluster, queue) (scheduler_pending_pods{C}))", "Pending"),
                   Query('max(apiserver_storage_objects{cluster=~"$cluster", resource="pods"})', "stored")),
                  ),
        )),
        Row("Scheduling and SLOs", (
            Panel("Scheduling rate", "Scheduling attempts per second by result.",
                  (Query(rate("scheduler_schedule_attempts_total", C, ("result",)), "{{result}}"),),
                  unit="ops"),
            Panel("Pod scheduling latency",
                  "End-to-end scheduling latency (scheduler_pod_scheduling_sli_duration_seconds), p50 and p99.",
                  (Query(quantile(0.99, "scheduler_pod_scheduling_sli_duration_seconds", C), "p99"),
                   Query(quantile(0.5, "scheduler_pod_scheduling_sli_duration_seconds", C), "p50")),
                  unit="s"),
            Panel("SLO status",
                  "Worst p99 of each sig-scalability SLI over 5 minutes divided by its threshold "
                  "(recording rules): at most 1 means the SLO holds.",
                  (Query(f"max by (sli) ({SLO_RATIO}{C})", "{{sli}}"),),
                  kind="stat", width=24, height=5, thresholds=SLO_COLOURS, decimals=2),
            Panel("SLIs over time", "The same ratios over time; the SLO line is 1.",
                  (Query(f"max by (sli) ({SLO_RATIO}{C})", "{{sli}}"),), width=24),
        )),
        Row("Control plane", (
            Panel("API request rate by code", "kube-apiserver requests per second by HTTP code.",
                  (Query(rate("apiserver_request_total", C, ("code",)), "{{code}}"),), unit="reqps", width=8),
            Panel("etcd members with a leader", "Members that see a leader, out of all members.",
                  (Query(f"sum(etcd_server_has_leader{C})", "with a leader"),
                   Query(f"count(etcd_server_has_leader{C})", "members")),
                  width=8),
            Panel("Active controller managers", "Replicas holding their Lease (leader_election_master_status).",
                  (Query(f"sum by (name) (leader_election_master_status{C})", "{{name}}"),),
                  width=8),
        )),
    ),
)
