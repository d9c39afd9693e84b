"""A member's Prometheus metrics, with etcd 3.4's names, types and buckets."""

from __future__ import annotations

from kubesim.runtime.metrics import MetricsHandle

# etcd: prometheus.ExponentialBuckets(0.001, 2, 14) for disk, (0.0001, 2, 16) for peer RTT
DISK_BUCKETS = tuple(0.001 * 2**i for i in range(14))
RTT_BUCKETS = tuple(0.0001 * 2**i for i in range(16))


class EtcdMetrics:
    """The gauges, counters and histograms one member exports."""

    def __init__(self, handle: MetricsHandle) -> None:
        self.has_leader = handle.gauge(
            "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not."
        )
        self.is_leader = handle.gauge(
            "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise."
        )
        self.leader_changes = handle.counter(
            "etcd_server_leader_changes_seen", "The number of leader changes seen."
        )
        self.proposals_committed = handle.gauge(
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
        )
        self.proposals_applied = handle.gauge(
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
        )
        self.proposals_pending = handle.gauge(
            "etcd_server_proposals_pending", "The current number of pending proposals to commit."
        )
        self.proposals_failed = handle.counter(
            "etcd_server_proposals_failed", "The total number of failed proposals seen."
        )
        self.wal_fsync = handle.histogram(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL.",
            buckets=DISK_BUCKETS,
        )
        self.backend_commit = handle.histogram(
            "etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.",
            buckets=DISK_BUCKETS,
        )
        self.db_size = handle.gauge(
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
        )
        self.peer_rtt = handle.histogram(
            "etcd_network_peer_round_trip_time_seconds",
            "Round-Trip-Time histogram between peers",
            labelnames=("To",),
            buckets=RTT_BUCKETS,
        )
        self.keys = handle.gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.")
