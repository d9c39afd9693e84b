"""A test-only `EtcdBackend`: one in-process MVCC `StateMachine`, as a single-member
etcd would serve it (always leader, writes applied at once); lease times are wall-clock.
Used by the gateway tests and by the apiserver storage and watch cache unit tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from kubesim.components.etcd.backend import Request, Response
from kubesim.components.etcd.mvcc import StateMachine

CLUSTER_ID = 0x1C0C_7D12_F2E8_53A1
MEMBER_ID = 0x8E9E_05C5_2164_694D
RAFT_TERM = 2


class StoreWatch:
    """One watch: the responses the state machine routes to its stream."""

    def __init__(self, backend: StoreBackend, stream: int) -> None:
        self.backend = backend
        self.stream = stream
        self.watch_id = 0
        self._queue: asyncio.Queue[Response | None] = asyncio.Queue()

    def push(self, response: Response | None) -> None:
        self._queue.put_nowait(response)

    async def next(self) -> Response | None:
        return await self._queue.get()

    async def request_progress(self) -> None:
        for _, response in self.backend.sm.hub.request_progress(self.watch_id, self.stream):
            self.push(self.backend._header(response))

    async def cancel(self) -> None:
        self.backend.sm.hub.close_stream(self.stream)
        self.backend.watches.pop(self.stream, None)
        self.push(None)


class StoreBackend:
    """The EtcdBackend protocol over a StateMachine; lease IDs are made up like etcd's."""

    def __init__(self) -> None:
        self.sm = StateMachine()
        self.sm.store.lessor.promote(time.monotonic())
        self.watches: dict[int, StoreWatch] = {}
        self._streams = itertools.count(1)
        self._lease_ids = itertools.count((MEMBER_ID & 0xFFFF) << 48 | 0x1000)

    def _header(self, resp: Response) -> Response:
        header = resp.setdefault("header", {})
        header.setdefault("revision", self.sm.store.revision)
        header.update(cluster_id=CLUSTER_ID, member_id=MEMBER_ID, raft_term=RAFT_TERM)
        return resp

    def _apply(self, op: str, req: Request) -> Response:
        resp = self.sm.apply(op, req, time.monotonic())
        self._pump()
        return self._header(resp)

    def _pump(self) -> None:
        for stream, resp in self.sm.pump():
            watch = self.watches.get(stream)
            if watch is not None:
                watch.push(self._header(resp))

    async def range(self, req: Request) -> Response:
        return self._header(self.sm.read(req))

    async def put(self, req: Request) -> Response:
        return self._apply("put", req)

    async def delete_range(self, req: Request) -> Response:
        return self._apply("delete_range", req)

    async def txn(self, req: Request) -> Response:
        return self._apply("txn", req)

    async def compact(self, req: Request) -> Response:
        return self._apply("compact", req)

    async def lease_grant(self, req: Request) -> Response:
        return self._apply("lease_grant", {**req, "ID": req.get("ID") or next(self._lease_ids)})

    async def lease_revoke(self, req: Request) -> Response:
        return self._apply("lease_revoke", req)

    async def lease_keepalive(self, req: Request) -> Response:
        ttl = self.sm.store.lessor.renew(req.get("ID", 0), time.monotonic())
        return self._header({"ID": req.get("ID", 0), "TTL": ttl})

    async def lease_timetolive(self, req: Request) -> Response:
        lessor = self.sm.store.lessor
        return self._header(
            lessor.time_to_live(req.get("ID", 0), bool(req.get("keys")), time.monotonic())
        )

    async def status(self, req: Request) -> Response:
        store = self.sm.store
        fields: dict[str, Any] = {
            "version": "3.4.23",
            "dbSize": store.db_size(),
            "leader": MEMBER_ID,
            "raftIndex": store.revision,
            "raftTerm": RAFT_TERM,
            "raftAppliedIndex": store.revision,
            "errors": [],
            "dbSizeInUse": store.db_size_in_use(),
            "isLearner": False,
        }
        return self._header(fields)

    async def watch(self, req: Request) -> StoreWatch:
        watch = StoreWatch(self, next(self._streams))
        created = self.sm.hub.create(req, stream=watch.stream)
        watch.watch_id = created["watch_id"]
        watch.push(self._header(created))
        if created["watch_id"] == -1:
            watch.push(None)
        else:
            self.watches[watch.stream] = watch
            self._pump()
        return watch
