"""The leader's queue of pending ReadIndex requests (after etcd's raft/read_only.go): each
waits for a quorum of heartbeat acks carrying its context before its read state is issued."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .types import Message


class ReadOnlyOption(IntEnum):
    SAFE = 0
    """Confirm leadership with a heartbeat round per read (etcd's default)."""
    LEASE_BASED = 1
    """Trust the leader lease (needs check_quorum; unsafe under unbounded clock drift)."""


@dataclass(slots=True)
class ReadIndexStatus:
    req: Message
    index: int
    acks: dict[int, bool] = field(default_factory=dict)


class ReadOnly:
    def __init__(self, option: ReadOnlyOption) -> None:
        self.option = option
        self.pending: dict[bytes, ReadIndexStatus] = {}
        self.queue: list[bytes] = []

    def add_request(self, index: int, m: Message) -> None:
        """Queue a read (m.entries[0].data is its context) at commit index `index`."""
        ctx = m.entries[0].data
        if ctx in self.pending:
            return
        self.pending[ctx] = ReadIndexStatus(m, index)
        self.queue.append(ctx)

    def recv_ack(self, node: int, ctx: bytes) -> dict[int, bool]:
        """Record that `node` acknowledged the heartbeat for ctx; returns the acks so far."""
        rs = self.pending.get(ctx)
        if rs is None:
            return {}
        rs.acks[node] = True
        return rs.acks

    def advance(self, ctx: bytes) -> list[ReadIndexStatus]:
        """Dequeue and return every request up to and including the one with `ctx`."""
        if ctx not in self.pending:
            return []
        n = self.queue.index(ctx) + 1
        done, self.queue = self.queue[:n], self.queue[n:]
        return [self.pending.pop(c) for c in done]

    def last_pending_request_ctx(self) -> bytes:
        return self.queue[-1] if self.queue else b""
