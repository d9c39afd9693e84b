"""The etcd client library the apiserver (and tests) use: `EtcdBackend` over the runtime.

Like clientv3 it knows every member, finds the leader (from `status`) and sends requests
there first, moves to another member when one is down or answers "not leader" / "no
leader", and retries only what is safe to retry: reads, and writes that certainly did
not happen. A write whose fate is unknown (its member timed out or went silent) is
reported as such (`outcome_unknown(error)` is true) and never resent behind the
caller's back.

Watches are streams of ["watch_event", watch_id, seq, response] messages from one
member; the owning actor hands them over with `deliver()`. A gap in `seq` (a lost
message) or a member that stops answering the periodic check makes the stream resume
on another member from the last revision seen + 1, so the caller sees every event
once, in order, across member crashes and leader changes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubesim.components.etcd import errors
from kubesim.components.etcd.backend import Request, Response, writes
from kubesim.components.etcd.errors import Code, EtcdError
from kubesim.components.etcd.wire import unwrap
from kubesim.runtime.errors import CallTimeout, RemoteError

if TYPE_CHECKING:
    from kubesim.runtime.context import Context, Timer

# storagebackend/factory/etcd3.go keepaliveTimeout: how long kube-apiserver's etcd client
# waits for a keepalive answer before it gives the connection up (a busy member is slow,
# not gone); the apiserver passes it as `keepalive_timeout`
APISERVER_KEEPALIVE_TIMEOUT = 10.0
DEADLINE_EXCEEDED = EtcdError(Code.DEADLINE_EXCEEDED, "context deadline exceeded")
# the member certainly did not act on the request: safe to send it elsewhere
_NOT_APPLIED = frozenset(
    {errors.NOT_LEADER, errors.NO_LEADER, errors.STOPPED, errors.LEADER_CHANGED}
)
_UNKNOWN = frozenset(
    {errors.TIMEOUT, errors.TIMEOUT_DUE_TO_LEADER_FAIL, errors.TIMEOUT_DUE_TO_CONNECTION_LOST}
)
_READS = frozenset({"range", "lease_keepalive", "lease_timetolive", "lease_leases", "status"})


def outcome_unknown(error: EtcdError) -> bool:
    """True when a write failed in a way that leaves open whether it was applied."""
    return error == DEADLINE_EXCEEDED or error in _UNKNOWN


class EtcdClient:
    """An `EtcdBackend` for the actor owning `ctx`, talking to the members at `endpoints`."""

    def __init__(
        self,
        ctx: Context,
        endpoints: Sequence[str],
        *,
        attempt_timeout: float = 8.0,
        deadline: float = 30.0,
        watch_check_interval: float = 1.0,
        keepalive_timeout: float | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("an etcd client needs at least one endpoint")
        self.ctx = ctx
        self.endpoints = list(endpoints)
        self.attempt_timeout = attempt_timeout
        self.deadline = deadline
        self.watch_check_interval = watch_check_interval
        # how long a watch check may go unanswered before the watch moves (default: two checks)
        self.keepalive_timeout = keepalive_timeout or 2 * watch_check_interval
        self._preferred = 0
        self._watch_ids = itertools.count(1)
        self._watches: dict[tuple[str, int], ClientWatch] = {}
        self._early: dict[tuple[str, int], list[tuple[int, Response]]] = {}
        self._creating: dict[str, int] = {}  # endpoint -> watch creates awaiting their reply

    # ------------------------------------------------------------------ requests
    async def request(self, op: str, req: Request) -> Response:
        retry_any = op in _READS or not writes(op, req)
        give_up = self.ctx.now() + self.deadline
        attempt = 0
        start = self._preferred  # this request walks the members from here, in order
        last: EtcdError = errors.NO_LEADER
        while True:
            index = (start + attempt) % len(self.endpoints)
            endpoint = self.endpoints[index]
            try:
                reply = await self.ctx.call(endpoint, ["kv", op, req], timeout=self.attempt_timeout)
                response = unwrap(reply)
            except EtcdError as e:
                if e not in _NOT_APPLIED and not (retry_any and e in _UNKNOWN):
                    raise
                last = e
            except (CallTimeout, RemoteError) as e:
                if isinstance(e, CallTimeout) and self._preferred == index:
                    # the member may be gone: later requests start with another one, as
                    # clientv3's balancer leaves a connection that failed
                    self._preferred = (index + 1) % len(self.endpoints)
                if not retry_any and isinstance(e, CallTimeout):
                    raise DEADLINE_EXCEEDED from None
                last = DEADLINE_EXCEEDED
            else:
                self._preferred = index
                return response
            attempt += 1
            if attempt % len(self.endpoints) == 0:
                await self.discover_leader()
                attempt = 0
                start = self._preferred
                await self.ctx.sleep(0.05)
            if self.ctx.now() >= give_up:
                raise last

    async def discover_leader(self) -> int | None:
        """Ask the members who leads; prefer that member from now on. The leader's id or None."""
        replies = await self.ctx.gather(
            *(
                self.ctx.call(ep, ["kv", "status", {}], timeout=self.attempt_timeout / 4)
                for ep in self.endpoints
            )
        )
        by_member: dict[int, int] = {}
        leader = None
        for i, reply in enumerate(replies):
            if isinstance(reply, BaseException) or reply[0] != "ok":
                continue
            status = reply[1]
            by_member[status["header"]["member_id"]] = i
            if status["leader"]:
                leader = status["leader"]
        if leader is not None and leader in by_member:
            self._preferred = by_member[leader]
            return leader
        return None

    async def range(self, req: Request) -> Response:
        return await self.request("range", req)

    async def put(self, req: Request) -> Response:
        return await self.request("put", req)

    async def delete_range(self, req: Request) -> Response:
        return await self.request("delete_range", req)

    async def txn(self, req: Request) -> Response:
        return await self.request("txn", req)

    async def compact(self, req: Request) -> Response:
        return await self.request("compact", req)

    async def lease_grant(self, req: Request) -> Response:
        return await self.request("lease_grant", req)

    async def lease_revoke(self, req: Request) -> Response:
        return await self.request("lease_revoke", req)

    async def lease_keepalive(self, req: Request) -> Response:
        return await self.request("lease_keepalive", req)

    async def lease_timetolive(self, req: Request) -> Response:
        return await self.request("lease_timetolive", req)

    async def status(self, req: Request) -> Response:
        return await self.request("status", req)

    # ------------------------------------------------------------------ watches
    async def watch(self, req: Request) -> ClientWatch:
        watch = ClientWatch(self, next(self._watch_ids), dict(req))
        await watch.open(first=True)
        return watch

    def handles(self, message: Any) -> bool:
        return isinstance(message, list) and bool(message) and message[0] == "watch_event"

    def deliver(self, sender: str, message: list[Any]) -> None:
        """Hand over a ["watch_event", member_watch_id, seq, response] message."""
        key = (sender, message[1])
        watch = self._watches.get(key)
        if watch is not None:
            watch.on_event(message[2], message[3])
        elif self._creating.get(sender):  # catch-up events can overtake the reply naming the watch
            self._early.setdefault(key, []).append((message[2], message[3]))
        # else: a watch this client left (resumed elsewhere or cancelled); it was cancelled

    def _create_answered(self, endpoint: str) -> None:
        """A watch create sent to `endpoint` got its answer (or none): once none is pending,
        buffered events of watches never adopted there are dropped."""
        self._creating[endpoint] -= 1
        if not self._creating[endpoint]:
            del self._creating[endpoint]
            for key in [k for k in self._early if k[0] == endpoint]:
                del self._early[key]

    def _adopt(self, key: tuple[str, int], watch: ClientWatch) -> None:
        self._watches[key] = watch
        for seq, response in sorted(self._early.pop(key, ()), key=lambda item: item[0]):
            watch.on_event(seq, response)


class ClientWatch:
    """One watch as the caller sees it (implements `WatchStream`)."""

    def __init__(self, client: EtcdClient, watch_id: int, req: Request) -> None:
        self.client = client
        self.watch_id = watch_id
        self.req = req
        start = int(req.get("start_revision", 0))
        self.seen = start - 1 if start > 0 else None  # last revision delivered to the caller
        self._queue: asyncio.Queue[Response | None] = asyncio.Queue()
        self._endpoint = ""
        self._member_watch = 0
        self._seq = 0
        self._closed = False
        self._resuming = False
        self._check: Timer | None = None
        self._behind: int | None = None  # the member's seq at the last check, if ahead of ours

    async def open(self, first: bool) -> None:
        client = self.client
        req = dict(self.req)
        if self.seen is not None:
            req["start_revision"] = self.seen + 1
        last: Exception = DEADLINE_EXCEEDED
        for attempt in range(len(client.endpoints) * 3):
            endpoint = client.endpoints[(client._preferred + attempt) % len(client.endpoints)]
            client._creating[endpoint] = client._creating.get(endpoint, 0) + 1
            try:
                try:
                    reply = await client.ctx.call(
                        endpoint, ["watch", "create", req], timeout=client.attempt_timeout
                    )
                    created = unwrap(reply)
                except EtcdError as e:
                    if e not in _NOT_APPLIED:
                        raise
                    last = e
                    continue
                except (CallTimeout, RemoteError) as e:
                    last = e
                    continue
                self._endpoint, self._member_watch, self._seq, self._behind = (
                    endpoint,
                    created["watch_id"],
                    0,
                    None,
                )
                if self.seen is None:
                    self.seen = created["header"]["revision"]
                if first or created.get("canceled"):
                    created = dict(created, watch_id=self.watch_id)
                    self._queue.put_nowait(created)
                # live on the new member from here: the catch-up events that overtook this
                # reply are taken in now (while still "resuming" they were dropped, the next
                # one looked like a gap, and a resume under load never caught up)
                self._resuming = False
                client._adopt((endpoint, self._member_watch), self)
                if created.get("canceled"):
                    self._close()
                elif self._check is None:
                    self._check = client.ctx.call_every(client.watch_check_interval, self._check_alive)
                return
            finally:
                client._create_answered(endpoint)
        raise last if isinstance(last, EtcdError) else DEADLINE_EXCEEDED

    def on_event(self, seq: int, response: Response) -> None:
        if self._closed or self._resuming or seq <= self._seq:
            return  # closed, being moved, or a duplicate
        if seq != self._seq + 1:
            self._resume()  # a message was lost: pick up again from what we saw
            return
        self._seq = seq
        events = [
            e for e in response.get("events", ()) if e["kv"]["mod_revision"] > (self.seen or 0)
        ]
        if response.get("events") and not events:
            return
        if events:
            self.seen = events[-1]["kv"]["mod_revision"]
        elif self.seen is not None:
            self.seen = max(self.seen, response["header"]["revision"])
        self._queue.put_nowait(dict(response, events=events, watch_id=self.watch_id))
        if response.get("canceled"):
            self._close()

    def _check_alive(self) -> None:
        if not self._resuming and not self._closed:
            self.client.ctx.spawn(self._probe())

    async def _probe(self) -> None:
        endpoint, member_watch = self._endpoint, self._member_watch
        try:
            sent = unwrap(
                await self.client.ctx.call(
                    endpoint,
                    ["watch", "check", member_watch],
                    timeout=self.client.keepalive_timeout,
                )
            )
        except (CallTimeout, RemoteError, EtcdError):
            sent = -1
        if (endpoint, member_watch) != (self._endpoint, self._member_watch):
            return
        # gone, or a message the member sent a whole check ago still has not arrived: lost
        lost = self._behind is not None and self._seq < self._behind
        self._behind = sent if sent > self._seq else None
        if sent < 0 or lost:
            self._resume()

    def _resume(self) -> None:
        if self._resuming or self._closed:
            return
        self._resuming = True
        self.client._watches.pop((self._endpoint, self._member_watch), None)
        old = self._endpoint
        self.client._preferred = (self.client.endpoints.index(old) + 1) % len(self.client.endpoints)
        # the member may be alive and only slow to answer: stop the watch we leave there
        self.client.ctx.spawn(self._cancel_on_member(old, self._member_watch))
        self.client.ctx.spawn(self._reopen())

    async def _cancel_on_member(self, endpoint: str, member_watch: int) -> None:
        try:
            await self.client.ctx.call(
                endpoint, ["watch", "cancel", member_watch], timeout=self.client.attempt_timeout
            )
        except (CallTimeout, RemoteError, EtcdError):
            pass  # the member is gone, and its watches with it

    async def _reopen(self) -> None:
        while not self._closed:
            try:
                await self.open(first=False)
            except EtcdError as e:
                if e not in _NOT_APPLIED and e != DEADLINE_EXCEEDED:
                    self._queue.put_nowait(
                        {"watch_id": self.watch_id, "canceled": True, "cancel_reason": e.message}
                    )
                    self._close()
                    return
                await self.client.ctx.sleep(self.client.watch_check_interval)
                continue
            return

    def _close(self) -> None:
        self._closed = True
        if self._check is not None:
            self._check.cancel()
        self.client._watches.pop((self._endpoint, self._member_watch), None)
        self._queue.put_nowait(None)

    async def next(self) -> Response | None:
        if self._queue.empty() and self._closed:
            return None
        return await self._queue.get()

    async def request_progress(self) -> None:
        if self._closed or self._resuming:
            return  # a resumed watch catches up by itself
        try:
            await self.client.ctx.call(
                self._endpoint,
                ["watch", "progress", self._member_watch],
                timeout=self.client.attempt_timeout,
            )
        except (CallTimeout, RemoteError, EtcdError):
            pass  # the member is gone: the periodic check moves the watch

    async def cancel(self) -> None:
        if self._closed:
            return
        endpoint, member_watch = self._endpoint, self._member_watch
        self._close()
        try:
            await self.client.ctx.call(
                endpoint, ["watch", "cancel", member_watch], timeout=self.client.attempt_timeout
            )
        except (CallTimeout, RemoteError, EtcdError):
            pass  # the member is gone or forgot the watch: nothing more will come
