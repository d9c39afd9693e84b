"""KVStore: etcd 3.4's MVCC key-value store with its lessor, quota and size accounting.

Requests and responses are the dicts of `kubesim.components.etcd.backend`; a response's
"header" holds only {"revision": ...} (the member fills cluster_id, member_id and
raft_term). Failures raise the `errors` values etcd 3.4 gives.

Revisions start at 1 (an empty etcd answers with header revision 1); every write
transaction that changes something takes the next revision, its changes numbered by a
sub-revision. The compact revision starts at -1 (never compacted).

Events: each write appends its changes (`Event`s, with the previous KeyValue) to a
pending list that `drain_events()` hands out and clears; the member passes them to the
watch hub after each apply.

Validation: each method makes the checks etcd's gRPC layer makes (`check_put`,
`check_txn`, ...), then the apply-time checks of `etcdserver/apply.go`. The member may
run `check_txn` before proposing (etcd does); running it again at apply is cheap.

Size: `db_size()` approximates bbolt's size (pages ever allocated, 4 KiB each): it grows
with stored revisions and leases and only shrinks through `defragment()`. Quota as in
etcd's backendQuota: a put, txn or lease grant whose cost would bring the size to the
quota raises the NOSPACE alarm and fails with NO_SPACE; while the alarm is set, puts,
txns with puts and lease grants fail (etcd's capped applier) until `disarm_nospace()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

from kubesim.components.etcd import errors
from kubesim.components.etcd.backend import Request, Response
from kubesim.components.etcd.mvcc.index import Index, KeyValue
from kubesim.components.etcd.mvcc.lease import LEASE_RECORD_SIZE, Lessor

DEFAULT_QUOTA_BYTES = 2 * 1024**3
MAX_TXN_OPS = 128
NOSPACE = "NOSPACE"

# etcdserver/quota.go
KV_OVERHEAD = 256
LEASE_OVERHEAD = 64

# bbolt size model
PAGE_SIZE = 4096
BASE_PAGES = 5  # meta x2, freelist, root and bucket pages of a fresh etcd db (20 kB)
FILL_PERCENT = 0.9  # etcd appends revisions sequentially with FillPercent 0.9

_SORT_KEYS = {
    "KEY": lambda kv: kv.key,
    "VERSION": lambda kv: kv.version,
    "CREATE": lambda kv: kv.create_revision,
    "MOD": lambda kv: kv.mod_revision,
    "VALUE": lambda kv: kv.value,
}
# Compare.target -> (the oneof operand field, KeyValue attribute)
_COMPARE_FIELDS = {
    "VERSION": ("version", "version"),
    "CREATE": ("create_revision", "create_revision"),
    "MOD": ("mod_revision", "mod_revision"),
    "VALUE": ("value", "value"),
    "LEASE": ("lease", "lease"),
}
_EMPTY_KV = KeyValue(b"", 0, 0, 0, b"", 0)


@dataclass(frozen=True, slots=True)
class Event:
    """mvccpb.Event, always with the previous KeyValue (None if the key did not exist).

    A DELETE's kv holds only the key and mod_revision (the delete's revision), as etcd's."""

    type: str  # "PUT" | "DELETE"
    kv: KeyValue
    prev_kv: KeyValue | None

    def to_dict(self, prev_kv: bool = True) -> dict[str, Any]:
        prev = self.prev_kv.to_dict() if prev_kv and self.prev_kv is not None else None
        return {"type": self.type, "kv": self.kv.to_dict(), "prev_kv": prev}


# (succeeded, the paths of the nested txns of the chosen branch, in op order)
TxnPath = tuple[bool, list["TxnPath"]]


def gte_range(range_end: bytes) -> bytes | None:
    """etcd's range_end convention: b"" -> None (the single key), b"\\0" -> b"" (all keys
    >= key), else the exclusive end."""
    if not range_end:
        return None
    if range_end == b"\0":
        return b""
    return range_end


def check_range(req: Request) -> None:
    if not req.get("key"):
        raise errors.EMPTY_KEY


def check_put(req: Request) -> None:
    if not req.get("key"):
        raise errors.EMPTY_KEY
    if req.get("ignore_value") and req.get("value"):
        raise errors.VALUE_PROVIDED
    if req.get("ignore_lease") and req.get("lease"):
        raise errors.LEASE_PROVIDED


def check_delete_range(req: Request) -> None:
    if not req.get("key"):
        raise errors.EMPTY_KEY


def check_txn(req: Request, max_ops: int = MAX_TXN_OPS) -> None:
    """The request checks etcd's kvServer.Txn makes: op counts, empty keys, empty ops,
    and no key written twice (puts overlapping puts or deletes) on one path."""
    _check_txn_request(req, max_ops)
    _check_intervals(req.get("success") or [])
    _check_intervals(req.get("failure") or [])


def _check_txn_request(req: Request, max_ops: int) -> None:
    compares = req.get("compare") or []
    success = req.get("success") or []
    failure = req.get("failure") or []
    opc = max(len(compares), len(success), len(failure))
    if opc > max_ops:
        raise errors.TOO_MANY_OPS
    for c in compares:
        if not c.get("key"):
            raise errors.EMPTY_KEY
    for op in (*success, *failure):
        _check_request_op(op, max_ops - opc)


def _check_request_op(op: Request, max_ops: int) -> None:
    if op.get("request_range") is not None:
        check_range(op["request_range"])
    elif op.get("request_put") is not None:
        check_put(op["request_put"])
    elif op.get("request_delete_range") is not None:
        check_delete_range(op["request_delete_range"])
    elif op.get("request_txn") is not None:
        _check_txn_request(op["request_txn"], max_ops)
    else:
        raise errors.KEY_NOT_FOUND


def _check_intervals(ops: list[Request]) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    """etcd's checkIntervals: the keys put and the [start, end) ranges deleted by `ops`
    (nested txns included); DUPLICATE_KEY if a put overlaps another put or a delete."""
    dels: list[tuple[bytes, bytes]] = []
    for op in ops:
        d = op.get("request_delete_range")
        if d is not None:
            key, end = d.get("key", b""), d.get("range_end", b"")
            dels.append((key, end) if end else (key, key + b"\0"))

    def deleted(k: bytes) -> bool:
        return any(start <= k < end for start, end in dels)

    puts: set[bytes] = set()
    for op in ops:
        t = op.get("request_txn")
        if t is None:
            continue
        puts_then, dels_then = _check_intervals(t.get("success") or [])
        puts_else, dels_else = _check_intervals(t.get("failure") or [])
        for k in puts_then:
            if k in puts or deleted(k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        for k in puts_else:
            if (k in puts and k not in puts_then) or deleted(k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        dels.extend(dels_then)
        dels.extend(dels_else)
    for op in ops:
        p = op.get("request_put")
        if p is None:
            continue
        k = p.get("key", b"")
        if k in puts or deleted(k):
            raise errors.DUPLICATE_KEY
        puts.add(k)
    return puts, dels


def cost_put(req: Request) -> int:
    return KV_OVERHEAD + len(req.get("key", b"")) + len(req.get("value", b""))


def cost_txn(req: Request) -> int:
    """etcd's costTxn: the larger branch's direct puts (nested txns are not counted)."""

    def branch(ops: list[Request]) -> int:
        return sum(cost_put(op["request_put"]) for op in ops if op.get("request_put") is not None)

    return max(branch(req.get("success") or []), branch(req.get("failure") or []))


class KVStore:
    """The MVCC store: keys, revisions, leases, alarms. See the module docstring."""

    def __init__(
        self, quota_bytes: int = DEFAULT_QUOTA_BYTES, max_txn_ops: int = MAX_TXN_OPS
    ) -> None:
        self.quota_bytes = quota_bytes
        self.max_txn_ops = max_txn_ops
        self.index = Index()
        self.lessor = Lessor()
        self.revision = 1
        self.compact_revision = -1
        self.alarms: set[str] = set()
        self._db_size = self.db_size_in_use()
        self._events: list[Event] = []
        self._changes: list[Event] = []  # changes of the write transaction in progress

    # reads

    def range(self, req: Request) -> Response:
        check_range(req)
        return self._range(req, self.revision)

    def _range(self, req: Request, cur: int) -> Response:
        """etcd's applierV3backend.Range over a view whose current revision is `cur`."""
        rev = req.get("revision", 0)
        if rev > cur:
            raise errors.FUTURE_REV
        if rev <= 0:
            rev = cur
        if rev < self.compact_revision:
            raise errors.COMPACTED
        kvs = list(self.index.range(req["key"], gte_range(req.get("range_end", b"")), rev))
        count = len(kvs)
        if req.get("count_only"):
            kvs = []
        for field, keep in (
            ("max_mod_revision", lambda kv, v: kv.mod_revision <= v),
            ("min_mod_revision", lambda kv, v: kv.mod_revision >= v),
            ("max_create_revision", lambda kv, v: kv.create_revision <= v),
            ("min_create_revision", lambda kv, v: kv.create_revision >= v),
        ):
            bound = req.get(field, 0)
            if bound:
                kvs = [kv for kv in kvs if keep(kv, bound)]
        order = req.get("sort_order", "NONE")
        target = req.get("sort_target", "KEY")
        if target != "KEY" and order == "NONE":
            order = "ASCEND"  # results come key-ascending; other targets sort ascending
        if order != "NONE" and not (target == "KEY" and order == "ASCEND"):
            kvs.sort(key=_SORT_KEYS[target], reverse=order == "DESCEND")
        limit = req.get("limit", 0)
        more = limit > 0 and len(kvs) > limit
        if more:
            kvs = kvs[:limit]
        keys_only = bool(req.get("keys_only"))
        return {
            "header": {"revision": cur},
            "kvs": [kv.to_dict(keys_only) for kv in kvs],
            "more": more,
            "count": count,
        }

    def get(self, key: bytes, rev: int = 0) -> KeyValue | None:
        """The KeyValue of `key` at `rev` (0 = current), no checks."""
        return self.index.get(key, rev or self.revision)

    # writes

    def put(self, req: Request) -> Response:
        check_put(req)
        self._check_space(cost_put(req))
        lease = req.get("lease", 0)
        if lease and lease not in self.lessor:
            raise errors.LEASE_NOT_FOUND
        resp = self._put(req)
        self._commit()
        return resp

    def delete_range(self, req: Request) -> Response:
        check_delete_range(req)
        resp = self._delete_range(req)
        self._commit()
        return resp

    def txn(self, req: Request) -> Response:
        check_txn(req, self.max_txn_ops)
        cost = cost_txn(req)
        self._check_space(cost)
        path = self._txn_path(req)
        self._walk(req, path, self._check_txn_put)
        self._walk(req, path, self._check_txn_range)
        resp = self._apply_txn(req, path)
        self._commit()
        resp["header"] = {"revision": self.revision}
        return resp

    def compact(self, req: Request) -> Response:
        rev = req.get("revision", 0)
        if rev <= self.compact_revision:
            raise errors.COMPACTED
        if rev > self.revision:
            raise errors.FUTURE_REV
        self.compact_revision = rev
        self.index.compact(rev)
        return {"header": {"revision": self.revision}}

    def drain_events(self) -> list[Event]:
        """The events of the writes since the last call, in revision order."""
        events, self._events = self._events, []
        return events

    # leases

    def lease_grant(self, req: Request, now: float = 0.0) -> Response:
        """Grant lease req["ID"] (the leader picks ids before proposing; 0 is refused)."""
        self._check_space(LEASE_OVERHEAD)
        lease = self.lessor.grant(req.get("ID", 0), req.get("TTL", 0), now)
        self._grow()
        return {
            "header": {"revision": self.revision},
            "ID": lease.id,
            "TTL": lease.ttl,
            "error": "",
        }

    def lease_revoke(self, req: Request) -> Response:
        """Revoke a lease, deleting its keys (sorted) in one revision."""
        for key in self.lessor.revoke(req.get("ID", 0)):
            self._write_delete(key, None)
        self._commit()
        return {"header": {"revision": self.revision}}

    # size, quota, alarms

    def db_size_in_use(self) -> int:
        """Bytes the live data needs (what a defragmentation would shrink the db to)."""
        data = self.index.data_bytes + len(self.lessor) * LEASE_RECORD_SIZE
        return PAGE_SIZE * (BASE_PAGES + math.ceil(data / (PAGE_SIZE * FILL_PERCENT)))

    def db_size(self) -> int:
        return self._db_size

    def defragment(self) -> None:
        self._db_size = self.db_size_in_use()

    def keys_total(self) -> int:
        """Keys that exist at the current revision."""
        return self.index.live_keys

    def disarm_nospace(self) -> None:
        self.alarms.discard(NOSPACE)

    def _check_space(self, cost: int) -> None:
        if NOSPACE in self.alarms and cost > 0:
            raise errors.NO_SPACE
        if self._db_size + cost >= self.quota_bytes:
            self.alarms.add(NOSPACE)
            raise errors.NO_SPACE

    def _grow(self) -> None:
        self._db_size = max(self._db_size, self.db_size_in_use())

    # snapshots

    def snapshot(self) -> bytes:
        """The whole replicated state as msgpack: uncompacted history, revisions, leases,
        alarms and db size. Pending (undrained) events are not part of it."""
        return msgpack.packb(
            {
                "revision": self.revision,
                "compact_revision": self.compact_revision,
                "index": self.index.dump(),
                "leases": self.lessor.dump(),
                "alarms": sorted(self.alarms),
                "db_size": self._db_size,
            },
            use_bin_type=True,
        )

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot's. The lessor comes back not primary."""
        state = msgpack.unpackb(data, raw=False, strict_map_key=False)
        self.index = Index.load(state["index"])
        self.revision = state["revision"]
        self.compact_revision = state["compact_revision"]
        self.lessor = Lessor(self.lessor.min_ttl)
        self.lessor.load(state["leases"])
        for kv in self.index.range(b"", b"", self.revision):
            if kv.lease:
                self.lessor.attach(kv.lease, kv.key)
        self.alarms = set(state["alarms"])
        self._db_size = state["db_size"]
        self._events = []
        self._changes = []

    def history_events(
        self, start: int, match: Callable[[bytes], bool] | None = None
    ) -> Iterator[Event]:
        """Stored events with revision >= `start` (and a key `match` accepts), in revision
        order, for watch catch-up. prev_kv is the key's value at revision - 1 when that is
        still readable (not compacted), as etcd's watch server looks it up."""
        for main, sub, key in self.index.log_from(start):
            if match is not None and not match(key):
                continue
            kv, before = self.index.entry(key, (main, sub))
            prev = before if main - 1 >= self.compact_revision else None
            if kv is None:
                yield Event("DELETE", KeyValue(key, 0, main, 0, b"", 0), prev)
            else:
                yield Event("PUT", kv, prev)

    # the write transaction

    def _read_rev(self) -> int:
        """The revision reads inside the write transaction in progress see."""
        return self.revision + 1 if self._changes else self.revision

    def _commit(self) -> None:
        if self._changes:
            self.revision += 1
            self._events.extend(self._changes)
            self._changes = []
            self._grow()

    def _write_put(self, key: bytes, value: bytes, lease: int) -> int:
        rev = self.revision + 1
        prev = self.index.get(key, rev)
        if prev is None:
            kv = KeyValue(key, rev, rev, 1, value, lease)
        else:
            kv = KeyValue(key, prev.create_revision, rev, prev.version + 1, value, lease)
        self.index.put(kv, len(self._changes))
        self.lessor.detach(key)
        if lease:
            self.lessor.attach(lease, key)
        self._changes.append(Event("PUT", kv, prev))
        return rev

    def _write_delete(self, key: bytes, end: bytes | None) -> int:
        rev = self.revision + 1
        prevs = list(self.index.range(key, end, rev))
        for prev in prevs:
            self.index.tombstone(prev.key, (rev, len(self._changes)))
            self.lessor.detach(prev.key)
            self._changes.append(Event("DELETE", KeyValue(prev.key, 0, rev, 0, b"", 0), prev))
        return len(prevs)

    def _put(self, req: Request) -> Response:
        key, value, lease = req["key"], req.get("value", b""), req.get("lease", 0)
        ignore_value, ignore_lease = req.get("ignore_value"), req.get("ignore_lease")
        prev = None
        if ignore_value or ignore_lease or req.get("prev_kv"):
            prev = self.index.get(key, self._read_rev())
        if (ignore_value or ignore_lease) and prev is None:
            raise errors.KEY_NOT_FOUND
        if ignore_value:
            value = prev.value
        if ignore_lease:
            lease = prev.lease
        rev = self._write_put(key, value, lease)
        return {
            "header": {"revision": rev},
            "prev_kv": prev.to_dict() if req.get("prev_kv") and prev is not None else None,
        }

    def _delete_range(self, req: Request) -> Response:
        key, end = req["key"], gte_range(req.get("range_end", b""))
        prev_kvs = []
        if req.get("prev_kv"):
            prev_kvs = [kv.to_dict() for kv in self.index.range(key, end, self._read_rev())]
        deleted = self._write_delete(key, end)
        return {"header": {"revision": self._read_rev()}, "deleted": deleted, "prev_kvs": prev_kvs}

    # txn

    def _txn_path(self, req: Request) -> TxnPath:
        """Evaluate the compares of the txn and of every nested txn on the chosen path,
        all against the state before the txn (etcd's compareToPath)."""
        ok = all(self._compare(c) for c in req.get("compare") or [])
        ops = req.get("success" if ok else "failure") or []
        return ok, [
            self._txn_path(op["request_txn"]) for op in ops if op.get("request_txn") is not None
        ]

    def _compare(self, c: Request) -> bool:
        target = c.get("target", "VERSION")
        kvs = list(self.index.range(c["key"], gte_range(c.get("range_end", b"")), self.revision))
        if not kvs:
            if target == "VALUE":
                return False  # a missing key has no value to compare
            kvs = [_EMPTY_KV]
        operand_field, attr = _COMPARE_FIELDS[target]
        operand = c.get(operand_field, b"" if target == "VALUE" else 0)
        result = c.get("result", "EQUAL")
        for kv in kvs:
            actual = getattr(kv, attr)
            if result == "EQUAL":
                ok = actual == operand
            elif result == "NOT_EQUAL":
                ok = actual != operand
            elif result == "GREATER":
                ok = actual > operand
            else:
                ok = actual < operand
            if not ok:
                return False
        return True

    def _walk(self, req: Request, path: TxnPath, check: Any) -> None:
        """Call `check` on each non-txn op of the chosen path, nested txns included."""
        ok, subs = path
        nested = iter(subs)
        for op in req.get("success" if ok else "failure") or []:
            if op.get("request_txn") is not None:
                self._walk(op["request_txn"], next(nested), check)
            else:
                check(op)

    def _check_txn_put(self, op: Request) -> None:
        p = op.get("request_put")
        if p is None:
            return
        if (p.get("ignore_value") or p.get("ignore_lease")) and self.index.get(
            p["key"], self.revision
        ) is None:
            raise errors.KEY_NOT_FOUND
        if p.get("lease", 0) and p["lease"] not in self.lessor:
            raise errors.LEASE_NOT_FOUND

    def _check_txn_range(self, op: Request) -> None:
        r = op.get("request_range")
        if r is None:
            return
        rev = r.get("revision", 0)
        if rev == 0:
            return
        if rev > self.revision:
            raise errors.FUTURE_REV
        if rev < self.compact_revision:
            raise errors.COMPACTED

    def _apply_txn(self, req: Request, path: TxnPath) -> Response:
        ok, subs = path
        nested = iter(subs)
        responses: list[Response] = []
        for op in req.get("success" if ok else "failure") or []:
            if op.get("request_range") is not None:
                responses.append(
                    {"response_range": self._range(op["request_range"], self._read_rev())}
                )
            elif op.get("request_put") is not None:
                responses.append({"response_put": self._put(op["request_put"])})
            elif op.get("request_delete_range") is not None:
                responses.append(
                    {"response_delete_range": self._delete_range(op["request_delete_range"])}
                )
            else:
                responses.append({"response_txn": self._apply_txn(op["request_txn"], next(nested))})
        # a nested TxnResponse's header stays empty in etcd; the top one is set by txn()
        return {"header": {"revision": 0}, "succeeded": ok, "responses": responses}
