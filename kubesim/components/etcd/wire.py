"""The messages between etcd members and their clients, as msgpack-friendly lists.

Client to member (calls): ["kv", op, request] for every KV/lease/maintenance operation
(op is an `EtcdBackend` method name); ["watch", "create", request, seq_start],
["watch", "cancel", watch_id], ["watch", "check", watch_id]; ["member", "add", id, address],
["member", "remove", id], ["member", "list"]. Member to member: ["raft", [message, ...]]
(sends), ["snap", message] (a call, so the sender learns whether the snapshot arrived)
and ["ping"]. Member to watcher (sends): ["watch_event", watch_id, seq, response].

A reply to a call is ["ok", response] or ["err", grpc_code, message].
"""

from __future__ import annotations

from typing import Any

from kubesim.components.etcd.errors import EtcdError

Reply = list[Any]


def ok(response: Any) -> Reply:
    return ["ok", response]


def err(error: EtcdError) -> Reply:
    return ["err", int(error.code), error.message]


def unwrap(reply: Reply) -> Any:
    """The response of a reply, or its `EtcdError` raised."""
    if reply[0] == "ok":
        return reply[1]
    raise EtcdError(reply[1], reply[2])
