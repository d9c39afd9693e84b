"""Linearizable reads by ReadIndex, batched as etcd's linearizableReadLoop does.

Readers that arrive while a ReadIndex request is in flight wait for the next one; a
batch is released once Raft returned its read index and the member applied up to it.
A request whose ReadState never arrives (lost message, leader change) is re-issued.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable


class ReadIndexBatcher:
    """Tracks waiting readers; the member feeds it read states and its applied index."""

    def __init__(self, issue: Callable[[bytes], None], incarnation: int = 0) -> None:
        self._issue = issue
        self._prefix = incarnation.to_bytes(4, "big")  # a late answer to a previous life's request never matches
        self._ids = itertools.count(1)
        self._next: list[asyncio.Future[None]] = []
        self._inflight: tuple[bytes, list[asyncio.Future[None]]] | None = None
        self._ready: list[tuple[int, list[asyncio.Future[None]]]] = []

    def wait(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._next.append(future)
        if self._inflight is None:
            self._start()
        return future

    def _start(self) -> None:
        self._next = [f for f in self._next if not f.done()]
        if not self._next:
            return
        ctx = self._prefix + next(self._ids).to_bytes(8, "big")
        self._inflight = (ctx, self._next)
        self._next = []
        self._issue(ctx)

    def on_read_state(self, ctx: bytes, index: int, applied: int) -> None:
        if self._inflight is None or self._inflight[0] != ctx:
            return
        self._ready.append((index, self._inflight[1]))
        self._inflight = None
        self.on_applied(applied)
        self._start()

    def on_applied(self, applied: int) -> None:
        still = []
        for index, waiters in self._ready:
            if index <= applied:
                for f in waiters:
                    if not f.done():
                        f.set_result(None)
            else:
                still.append((index, waiters))
        self._ready = still

    def retry(self) -> None:
        """Re-issue a read index that got no answer (called periodically by the member)."""
        if self._inflight is not None:
            self._next = self._inflight[1] + self._next
            self._inflight = None
        self._start()

    @property
    def waiting(self) -> bool:
        return self._inflight is not None or bool(self._next)
