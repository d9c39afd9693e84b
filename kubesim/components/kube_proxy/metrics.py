"""kube-proxy's Prometheus metrics with their upstream names, help texts, labels and
buckets (pkg/proxy/metrics/metrics.go, v1.32). The runtime adds the actor's own labels
(a kube-proxy is spawned with ``node=<name>``)."""

from __future__ import annotations

from typing import Any

from kubesim.runtime.metrics import MetricsHandle

#: SyncProxyRulesLatency and the full/partial variants: metrics.ExponentialBuckets(0.001, 2, 15)
SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))
#: NetworkProgrammingLatency: 0.25 s, 0.5 s, 1..59 s, 60..115 s by 5 s, 2..5 min by 30 s
PROGRAMMING_BUCKETS = (
    (0.25, 0.5)
    + tuple(float(s) for s in range(1, 60))
    + tuple(float(s) for s in range(60, 120, 5))
    + tuple(float(s) for s in range(120, 330, 30))
)


class KubeProxyMetrics:
    """One kube-proxy's metric children. Histogram children (80 buckets for network
    programming) are made on first use: thousands of kube-proxies share a process."""

    def __init__(self, handle: MetricsHandle, mode: str) -> None:
        self.mode = mode
        self._handle = handle
        self._histograms: dict[str, Any] = {}
        self.last_sync = handle.gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced")
        self.last_queued = handle.gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued")
        self.endpoint_changes = handle.counter(
            "kubeproxy_sync_proxy_rules_endpoint_changes_total",
            "Cumulative proxy rules Endpoint changes")
        self.service_changes = handle.counter(
            "kubeproxy_sync_proxy_rules_service_changes_total",
            "Cumulative proxy rules Service changes")
        if mode == "iptables":
            total = handle.gauge("kubeproxy_sync_proxy_rules_iptables_total",
                                 "Total number of iptables rules owned by kube-proxy", ["table"])
            last = handle.gauge("kubeproxy_sync_proxy_rules_iptables_last",
                                "Number of iptables rules written by kube-proxy in last sync", ["table"])
            self.iptables_total = {t: total.labels(t) for t in ("filter", "nat")}
            self.iptables_last = {t: last.labels(t) for t in ("filter", "nat")}

    def _histogram(self, name: str) -> Any:
        metric = self._histograms.get(name)
        if metric is None:
            help_text, buckets = _HISTOGRAMS[name]
            metric = self._histograms[name] = self._handle.histogram(name, help_text, buckets=buckets)
        return metric

    def synced(self, seconds: float, full: bool | None, unix_end: float) -> None:
        """One sync took ``seconds``; ``full`` None where the mode has no partial syncs."""
        self._histogram(SYNC).observe(seconds)
        if full is not None:
            self._histogram(FULL_SYNC if full else PARTIAL_SYNC).observe(seconds)
        self.last_sync.set(unix_end)

    def programmed(self, seconds: float) -> None:
        """One change reached the data plane ``seconds`` after its trigger time."""
        self._histogram(PROGRAMMING).observe(seconds)

    def iptables_rules(self, filter_total: int, nat_total: int, filter_written: int,
                       nat_written: int) -> None:
        self.iptables_total["filter"].set(filter_total)
        self.iptables_total["nat"].set(nat_total)
        self.iptables_last["filter"].set(filter_written)
        self.iptables_last["nat"].set(nat_written)


SYNC = "kubeproxy_sync_proxy_rules_duration_seconds"
FULL_SYNC = "kubeproxy_sync_full_proxy_rules_duration_seconds"
PARTIAL_SYNC = "kubeproxy_sync_partial_proxy_rules_duration_seconds"
PROGRAMMING = "kubeproxy_network_programming_duration_seconds"
_HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    SYNC: ("SyncProxyRules latency in seconds", SYNC_BUCKETS),
    FULL_SYNC: ("SyncProxyRules latency in seconds for full resyncs", SYNC_BUCKETS),
    PARTIAL_SYNC: ("SyncProxyRules latency in seconds for partial resyncs", SYNC_BUCKETS),
    PROGRAMMING: ("In Cluster Network Programming Latency in seconds", PROGRAMMING_BUCKETS),
}
