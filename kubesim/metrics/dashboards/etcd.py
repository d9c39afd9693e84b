"""etcd: leadership, proposals, disk latency (WAL fsync, backend commit), database size
and peer round-trip time, per member."""

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

DASHBOARD = Dashboard(
    uid="kubesim-etcd",
    title="kubesim / etcd",
    description="etcd members: Raft leadership and proposals, disk and network latency, database size.",
    variables=(cluster_variable("etcd_server_has_leader"),
               scoped_variable("instance", "Member", "etcd_server_has_leader")),
    rows=(
        Row("Leadership", (
            Panel("Has leader", "Members that see a leader (1 each).",
                  (Query(f"sum(etcd_server_has_leader{S})", "with a leader"),
                   Query(f"count(etcd_server_has_leader{S})", "members")),
                  kind="stat", width=6, height=6),
            Panel("Leader changes (1h)", "Leader changes seen in the last hour, most of any member.",
                  (Query(f"max(increase(etcd_server_leader_changes_seen_total{S}[1h]))", "changes"),),
                  kind="stat", width=6, height=6, thresholds=((None, "green"), (1.0, "orange"), (3.0, "red"))),
            Panel("Leader", "1 for the member that is leader.",
                  (Query(f"max by (instance) (etcd_server_is_leader{S})", "{{instance}}"),), width=12, height=6),
        )),
        Row("Proposals", (
            Panel("Proposals committed", "Consensus proposals committed per second, per member.",
                  (Query(rate("etcd_server_proposals_committed_total", S, ("instance",)), "{{instance}}"),),
                  unit="ops", width=8),
            Panel("Proposals pending", "Proposals waiting to commit, per member.",
                  (Query(f"max by (instance) (etcd_server_proposals_pending{S})", "{{instance}}"),), width=8),
            Panel("Proposals failed", "Failed proposals per second (lost leadership, timeouts).",
                  (Query(rate("etcd_server_proposals_failed_total", S, ("instance",)), "{{instance}}"),),
                  unit="ops", width=8),
        )),
        Row("Disk and network", (
            Panel("WAL fsync p99", "99th percentile WAL fsync latency per member.",
                  (Query(quantile(0.99, "etcd_disk_wal_fsync_duration_seconds", S, ("instance",)), "{{instance}}"),),
                  unit="s", width=8),
            Panel("Backend commit p99", "99th percentile backend commit latency per member.",
                  (Query(quantile(0.99, "etcd_disk_backend_commit_duration_seconds", S, ("instance",)),
                         "{{instance}}"),), unit="s", width=8),
            Panel("Peer round-trip time p99", "99th percentile RTT from each member to each peer.",
                  (Query(quantile(0.99, "etcd_network_peer_round_trip_time_seconds", S, ("instance", "To")),
                         "{{instance}} -> {{To}}"),), unit="s", width=8),
            Panel("DB size", "Database size physically allocated, per member.",
                  (Query(f"max by (instance) (etcd_mvcc_db_total_size_in_bytes{S})", "{{instance}}"),),
                  unit="bytes"),
            Panel("Keys", "Keys in the MVCC store, per member.",
                  (Query(f"max by (instance) (etcd_debugging_mvcc_keys_total{S})", "{{instance}}"),)),
        )),
    ),
)
