"""The etcd v3 KV/Lease/Watch/Maintenance service as Python calls: the one interface the
client library implements, the member serves and the JSON gateway speaks to.

Requests and responses are plain dicts shaped like etcd's protobuf messages
(`etcdserverpb`), with the proto field names:

- bytes fields (`key`, `range_end`, `value`, `prev_kv.value`, ...) are `bytes`;
- int64 fields are `int`; bools are `bool`;
- enum fields are their proto names as `str`: RangeRequest.sort_order is one of
  "NONE", "ASCEND", "DESCEND"; sort_target one of "KEY", "VERSION", "CREATE", "MOD",
  "VALUE"; Compare.result one of "EQUAL", "GREATER", "LESS", "NOT_EQUAL"; Compare.target
  one of "VERSION", "CREATE", "MOD", "VALUE", "LEASE"; Event.type "PUT" or "DELETE";
- a Compare carries its operand under the proto oneof name: "version",
  "create_revision", "mod_revision", "value" or "lease";
- a RequestOp is {"request_range": {...}} | {"request_put": {...}} |
  {"request_delete_range": {...}} | {"request_txn": {...}}; a ResponseOp likewise
  with "response_range", "response_put", "response_delete_range", "response_txn";
- a missing field means its proto default (0, b"", False, "NONE"/"EQUAL"/...).

Responses carry every field (defaults included); a response's "header" is
{"cluster_id", "member_id", "revision", "raft_term"}. A KeyValue is
{"key", "create_revision", "mod_revision", "version", "value", "lease"}.

Failures raise `EtcdError` (see errors.py) with etcd 3.4's exact message and gRPC code.
"""

from __future__ import annotations

from typing import Any, Protocol

Request = dict[str, Any]
Response = dict[str, Any]


def writes(op: str, req: Request) -> bool:
    """Whether a request changes the store (a txn only if a branch holds a write)."""
    if op != "txn":
        return op in ("put", "delete_range", "compact", "lease_grant", "lease_revoke")
    return any(
        "request_put" in o
        or "request_delete_range" in o
        or ("request_txn" in o and writes("txn", o["request_txn"]))
        for branch in ("success", "failure")
        for o in req.get(branch, ())
    )


class WatchStream(Protocol):
    """One watch: `next()` returns WatchResponses in order (the first one is the
    "created" response), None once the watch is cancelled or the stream broke."""

    watch_id: int

    async def next(self) -> Response | None: ...

    async def cancel(self) -> None: ...

    async def request_progress(self) -> None:
        """etcd 3.5's RequestProgress for this watch: once every event up to the
        member's current revision has been sent, an empty response carrying that
        revision follows on the stream (nothing if the watcher is still catching up)."""
        ...


class EtcdBackend(Protocol):
    async def range(self, req: Request) -> Response: ...

    async def put(self, req: Request) -> Response: ...

    async def delete_range(self, req: Request) -> Response: ...

    async def txn(self, req: Request) -> Response: ...

    async def compact(self, req: Request) -> Response: ...

    async def lease_grant(self, req: Request) -> Response: ...

    async def lease_revoke(self, req: Request) -> Response: ...

    async def lease_keepalive(self, req: Request) -> Response: ...

    async def lease_timetolive(self, req: Request) -> Response: ...

    async def status(self, req: Request) -> Response: ...

    async def watch(self, req: Request) -> WatchStream:
        """Open a watch from a WatchCreateRequest dict (key, range_end, start_revision,
        progress_notify, filters, prev_kv, watch_id, fragment)."""
        ...
