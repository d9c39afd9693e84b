"""etcd 3.4's MVCC state machine: what each member applies committed Raft entries to.

Pure and deterministic: no I/O, no clocks (times come in as `now` floats), no asyncio.
Requests and responses are the dicts of `kubesim.components.etcd.backend`; response
headers hold only {"revision": ...} (the member fills cluster_id, member_id, raft_term);
failures raise the values of `kubesim.components.etcd.errors`.

Modules:
- `index`: per-key revision histories, reads at any revision >= the compact revision,
  compaction, the revision-ordered log of stored revisions; `KeyValue`.
- `store`: `KVStore` (range, put, delete_range, txn, compact, lease_grant, lease_revoke,
  drain_events, db_size, keys_total, alarms, snapshot/restore), `Event`, and the request
  checks etcd makes before proposing: `check_put`, `check_range`, `check_delete_range`,
  `check_txn(req, max_ops=128)`.
- `lease`: `Lessor` (grant, revoke, attach/detach, and the leader's promote, demote,
  renew, expired, time_to_live).
- `watch`: `WatchHub` (create, cancel, notify, sync, progress, request_progress,
  progress_tick).
- `machine`: `StateMachine`, the facade a member uses:

      sm = StateMachine(quota_bytes=2 * 1024**3)
      resp = sm.apply("put", {"key": b"a", "value": b"1"})   # any of APPLY_OPS
      resp = sm.read({"key": b"a"})
      first = sm.hub.create({"key": b"a", "start_revision": 1}, stream=7)
      for stream, watch_resp in sm.pump(): ...               # after each apply
      sm.store.lessor.promote(now)                            # on becoming leader
      for lease_id in sm.store.lessor.expired(now): propose("lease_revoke", {"ID": lease_id})
"""

from kubesim.components.etcd.mvcc.index import KeyValue
from kubesim.components.etcd.mvcc.lease import Lessor
from kubesim.components.etcd.mvcc.machine import APPLY_OPS, StateMachine
from kubesim.components.etcd.mvcc.store import Event, KVStore, check_txn
from kubesim.components.etcd.mvcc.watch import WatchHub

__all__ = [
    "APPLY_OPS",
    "Event",
    "KVStore",
    "KeyValue",
    "Lessor",
    "StateMachine",
    "WatchHub",
    "check_txn",
]
