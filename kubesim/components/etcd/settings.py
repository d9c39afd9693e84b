"""A member's configuration: etcd 3.4's flags, defaulted from the cost model profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from kubesim.runtime.costmodel import CostModel


@dataclass(frozen=True)
class EtcdSettings:
    """The etcd flags the simulator honours (names follow `etcd --help`)."""

    heartbeat_interval: float = 0.1  # --heartbeat-interval, seconds
    election_timeout: float = 1.0  # --election-timeout, seconds
    snapshot_count: int = 100_000  # --snapshot-count
    snapshot_catchup_entries: int = 5_000  # etcdserver.DefaultSnapshotCatchUpEntries
    quota_bytes: int = 2 * 1024**3  # --quota-backend-bytes
    max_request_bytes: int = 1_572_864  # --max-request-bytes
    max_txn_ops: int = 128  # --max-txn-ops
    lease_check_interval: float = 0.5  # lessor's revoke loop period
    peer_probe_interval: float = 5.0  # rafthttp prober period (round-trip metric)
    watch_progress_interval: float = 600.0  # --experimental-watch-progress-notify-interval
    gateway_port: int | None = None  # serve the v3 JSON gateway on 127.0.0.1 (0: any free port; ray runtime)

    @classmethod
    def from_cost(cls, cost: CostModel, **overrides: Any) -> EtcdSettings:
        base = cls(
            heartbeat_interval=float(cost.value("etcd.heartbeat_interval")),
            election_timeout=float(cost.value("etcd.election_timeout")),
            snapshot_count=int(cost.value("etcd.snapshot_count")),
            quota_bytes=int(cost.value("etcd.quota_bytes")),
            max_request_bytes=int(cost.value("etcd.max_request_bytes")),
            max_txn_ops=int(cost.value("etcd.max_txn_ops")),
        )
        return replace(base, **overrides)

    @property
    def election_ticks(self) -> int:
        return max(2, round(self.election_timeout / self.heartbeat_interval))

    @property
    def request_timeout(self) -> float:
        """etcd's ReqTimeout(): 5 s plus two election timeouts."""
        return 5.0 + 2 * self.election_timeout

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
