"""kube-proxy: rule sync duration (all, full and partial syncs), network programming
latency, iptables rule counts and the Service / EndpointSlice changes it processed.

Upstream kube-proxy labels none of these by mode; the mode shows in which families a
node exports (iptables rule counts only in iptables mode, partial syncs only in
iptables and nftables mode), and a run has one mode, so modes compare by run (`cluster`)."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row
from kubesim.metrics.dashboards.promql import (
    cluster_variable,
    quantile,
    scoped_variable,
    selector,
)

S = selector(variables=("cluster", "node"))
SYNC = "kubeproxy_sync_proxy_rules_duration_seconds"

DASHBOARD = Dashboard(
    uid="kubesim-kube-proxy",
    title="kubesim / kube-proxy",
    description="kube-proxies: rule syncs, network programming latency and rule counts.",
    variables=(cluster_variable("kubeproxy_sync_proxy_rules_last_timestamp_seconds"),
               scoped_variable("node", "Node", "kubeproxy_sync_proxy_rules_last_timestamp_seconds")),
    rows=(
        Row("Syncs", (
            Panel("Sync duration", "SyncProxyRules latency over the selected nodes: p99 of all syncs, "
                  "of full and of partial resyncs, and p50.",
                  (Query(quantile(0.99, SYNC, S), "p99"),
                   Query(quantile(0.99, "kubeproxy_sync_full_proxy_rules_duration_seconds", S), "p99 full"),
                   Query(quantile(0.99, "kubeproxy_sync_partial_proxy_rules_duration_seconds", S), "p99 partial"),
                   Query(quantile(0.5, SYNC, S), "p50")),
                  unit="s"),
            Panel("Sync duration p99 by run",
                  "The p99 of each selected cluster: the runs of a ClusterComparison whose variants "
                  "differ in kube-proxy mode compare the modes here.",
                  (Query(quantile(0.99, SYNC, S, ("cluster",)), "{{cluster}}"),), unit="s"),
            Panel("Sync rate", "Rule syncs per second over the selected nodes.",
                  (Query(f"sum(rate({SYNC}_count{S}[$__rate_interval]))", "syncs"),), unit="ops"),
            Panel("Slowest nodes (sync p99)", "The 10 nodes with the highest sync p99.",
                  (Query(f"topk(10, {quantile(0.99, SYNC, S, ('node',))})", "{{node}}"),), unit="s"),
            Panel("Changes processed", "Service and EndpointSlice changes per second.",
                  (Query(f"sum(rate(kubeproxy_sync_proxy_rules_service_changes_total{S}[$__rate_interval]))",
                         "services"),
                   Query(f"sum(rate(kubeproxy_sync_proxy_rules_endpoint_changes_total{S}[$__rate_interval]))",
                         "endpoints")),
                  unit="ops"),
        )),
        Row("Network programming", (
            Panel("Network programming latency",
                  "From an endpoint change (its EndpointSlice's last-change-trigger-time) to the rules "
                  "being in place, p50 and p99.",
                  (Query(quantile(0.99, "kubeproxy_network_programming_duration_seconds", S), "p99"),
                   Query(quantile(0.5, "kubeproxy_network_programming_duration_seconds", S), "p50")),
                  unit="s"),
            Panel("iptables rules", "Rules kube-proxy owns per table, summed over the selected nodes "
                  "(iptables mode only).",
                  (Query(f"sum by (table) (kubeproxy_sync_proxy_rules_iptables_total{S})", "{{table}}"),)),
        )),
    ),
)
