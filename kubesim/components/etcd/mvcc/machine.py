"""StateMachine: the store, its lessor and the watch hub behind one door for the member.

`apply(op, req, now)` applies one committed Raft entry; `read(req)` serves a range. The
events of applied writes wait in the store until `pump()` turns them, and any history
catch-up, into WatchResponses.
"""

from __future__ import annotations

from kubesim.components.etcd.backend import Request, Response
from kubesim.components.etcd.mvcc.store import DEFAULT_QUOTA_BYTES, MAX_TXN_OPS, NOSPACE, KVStore
from kubesim.components.etcd.mvcc.watch import Outbox, WatchHub

APPLY_OPS = ("put", "delete_range", "txn", "compact", "lease_grant", "lease_revoke", "alarm_disarm")


class StateMachine:
    """One member's replicated state: `store` (KVStore, with `store.lessor`) and `hub`."""

    def __init__(
        self, quota_bytes: int = DEFAULT_QUOTA_BYTES, max_txn_ops: int = MAX_TXN_OPS
    ) -> None:
        self.store = KVStore(quota_bytes, max_txn_ops)
        self.hub = WatchHub(self.store)

    def apply(self, op: str, req: Request, now: float = 0.0) -> Response:
        """Apply a committed entry: op is one of APPLY_OPS, req its request dict. `now` is
        the member's clock, used by lease_grant on the leader. Raises EtcdError."""
        store = self.store
        if op == "put":
            return store.put(req)
        if op == "delete_range":
            return store.delete_range(req)
        if op == "txn":
            return store.txn(req)
        if op == "compact":
            return store.compact(req)
        if op == "lease_grant":
            return store.lease_grant(req, now)
        if op == "lease_revoke":
            return store.lease_revoke(req)
        if op == "alarm_disarm":
            was_armed = NOSPACE in store.alarms
            store.disarm_nospace()
            alarms = [{"memberID": req.get("memberID", 0), "alarm": NOSPACE}] if was_armed else []
            return {"header": {"revision": store.revision}, "alarms": alarms}
        raise ValueError(f"unknown op {op!r}")

    def read(self, req: Request) -> Response:
        return self.store.range(req)

    def pump(self) -> Outbox:
        """Watch responses for everything applied since the last pump: live events to the
        synced watchers, then history catch-up for the unsynced ones."""
        return self.hub.notify(self.store.drain_events()) + self.hub.sync()

    def snapshot(self) -> bytes:
        return self.store.snapshot()

    def restore(self, data: bytes) -> None:
        """Install a snapshot; undrained events are dropped, watchers catch up from history."""
        self.store.restore(data)
        self.hub.on_restore()
