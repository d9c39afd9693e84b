"""The member's watch service: gRPC watch streams, as remote clients and the local gateway
hold them, on top of the state machine's `WatchHub`.

Every remote client actor gets one stream (watch ids are per stream, as in etcd); each
gateway watch request gets a stream of its own, as a gRPC-gateway call opens one.
Responses to remote watchers travel as ["watch_event", watch_id, seq, response] with a
per-watch sequence number, so the client notices a lost message and resumes from the
last revision it saw. A remote stream whose owner stopped checking in (the client died)
is closed after `idle_timeout`, as a gRPC keepalive would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.etcd.backend import Request, Response
from kubesim.components.etcd.mvcc import StateMachine
from kubesim.components.etcd.mvcc.watch import Outbox

Header = Callable[[Response], Response]


@dataclass
class _Stream:
    owner: str | None  # the remote client actor, or None for a local (gateway) stream
    push: Callable[[Response | None], None] | None = None
    seq: dict[int, int] = field(default_factory=dict)
    last_seen: float = 0.0


class WatchServer:
    def __init__(
        self,
        sm: StateMachine,
        send: Callable[[str, Any], None],
        header: Header,
        idle_timeout: float = 30.0,
    ) -> None:
        self.sm = sm
        self._send = send
        self._header = header
        self.idle_timeout = idle_timeout
        self._streams: dict[int, _Stream] = {}
        self._by_owner: dict[str, int] = {}
        self._ids = itertools.count(1)

    def _remote_stream(self, owner: str, now: float) -> int:
        stream = self._by_owner.get(owner)
        if stream is None:
            stream = self._by_owner[owner] = next(self._ids)
            self._streams[stream] = _Stream(owner)
        self._streams[stream].last_seen = now
        return stream

    def handle(self, owner: str, args: list[Any], now: float) -> Any:
        """A remote call: ["create", req] -> created response; ["cancel", id] -> response
        or None; ["check", id] -> the last seq sent for that watch, or -1 if it is gone;
        ["progress", id] -> True once a progress response (if the watcher is synced) is
        sent on the watch like an event, False if the watch is gone."""
        verb = args[0]
        stream = self._remote_stream(owner, now)
        if verb == "create":
            created = self._header(self.sm.hub.create(args[1], stream))
            self.dispatch(self.sm.hub.sync())
            return created
        watch_id = int(args[1])
        if verb == "cancel":
            resp = self.sm.hub.cancel(watch_id, stream)
            self._streams[stream].seq.pop(watch_id, None)
            return None if resp is None else self._header(resp)
        if verb == "progress":
            self.dispatch(self.sm.hub.request_progress(watch_id, stream))
            return self.sm.hub.has_watcher(watch_id, stream)
        if verb == "check":
            if not self.sm.hub.has_watcher(watch_id, stream):
                return -1
            return self._streams[stream].seq.get(watch_id, 0)
        raise ValueError(f"unknown watch verb {verb!r}")

    def create_local(self, req: Request, push: Callable[[Response | None], None]) -> Response:
        stream = next(self._ids)
        self._streams[stream] = _Stream(None, push)
        created = self._header(self.sm.hub.create(req, stream))
        if created.get("canceled"):
            self._streams.pop(stream)
        return dict(created, stream=stream)

    def close_local(self, stream: int) -> None:
        if self._streams.pop(stream, None) is not None:
            self.sm.hub.close_stream(stream)

    def dispatch(self, outbox: Outbox) -> None:
        for stream_id, resp in outbox:
            stream = self._streams.get(stream_id)
            if stream is None:
                continue
            resp = self._header(resp)
            if stream.push is not None:
                stream.push(resp)
                continue
            watch_id = resp["watch_id"]
            seq = stream.seq.get(watch_id, 0) + 1
            stream.seq[watch_id] = seq
            if resp.get("canceled"):
                stream.seq.pop(watch_id, None)
            self._send(stream.owner, ["watch_event", watch_id, seq, resp])  # type: ignore[arg-type]

    def expire(self, now: float) -> None:
        """Close the remote streams whose client has not checked in for `idle_timeout`."""
        for owner, stream_id in list(self._by_owner.items()):
            if now - self._streams[stream_id].last_seen > self.idle_timeout:
                del self._by_owner[owner]
                del self._streams[stream_id]
                self.sm.hub.close_stream(stream_id)
