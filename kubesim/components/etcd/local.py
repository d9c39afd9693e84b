"""`EtcdBackend` served by a member to callers in its own process (the JSON gateway)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubesim.components.etcd.backend import Request, Response

if TYPE_CHECKING:
    from kubesim.components.etcd.member import EtcdMember


class MemberBackend:
    """Calls straight into one member: no hop through the runtime."""

    def __init__(self, member: EtcdMember) -> None:
        self.member = member

    async def range(self, req: Request) -> Response:
        return await self.member.serve("range", req)

    async def put(self, req: Request) -> Response:
        return await self.member.serve("put", req)

    async def delete_range(self, req: Request) -> Response:
        return await self.member.serve("delete_range", req)

    async def txn(self, req: Request) -> Response:
        return await self.member.serve("txn", req)

    async def compact(self, req: Request) -> Response:
        return await self.member.serve("compact", req)

    async def lease_grant(self, req: Request) -> Response:
        return await self.member.serve("lease_grant", req)

    async def lease_revoke(self, req: Request) -> Response:
        return await self.member.serve("lease_revoke", req)

    async def lease_keepalive(self, req: Request) -> Response:
        return await self.member.serve("lease_keepalive", req)

    async def lease_timetolive(self, req: Request) -> Response:
        return await self.member.serve("lease_timetolive", req)

    async def status(self, req: Request) -> Response:
        return await self.member.serve("status", req)

    async def watch(self, req: Request) -> LocalWatch:
        watch = LocalWatch(self.member)
        created = self.member.watches.create_local(req, watch.push)
        watch.watch_id, watch.stream = created["watch_id"], created.pop("stream")
        watch.push(created)
        self.member.watches.dispatch(self.member.sm.hub.sync())
        return watch


class LocalWatch:
    """A watch whose events a member pushes straight into a queue."""

    def __init__(self, member: EtcdMember) -> None:
        self.member = member
        self.watch_id = 0
        self.stream = 0
        self._queue: asyncio.Queue[Response | None] = asyncio.Queue()

    def push(self, response: Response | None) -> None:
        self._queue.put_nowait(response)

    async def next(self) -> Response | None:
        return await self._queue.get()

    async def request_progress(self) -> None:
        self.member.watches.dispatch(
            self.member.sm.hub.request_progress(self.watch_id, self.stream)
        )

    async def cancel(self) -> None:
        self.member.watches.close_local(self.stream)
        self._queue.put_nowait(None)
