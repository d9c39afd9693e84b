"""Which proposals have taken effect, so that a proposal appended to the log twice applies
once: the client sessions of the Raft dissertation (§6.3), with each proposing member as
a session.

etcd itself relies on its peer transport (TCP streams) never duplicating a forwarded
proposal; the simulated network may duplicate messages, and a follower's forwarded MsgProp
delivered twice makes the leader append the same request twice. Every member applies the
same log in the same order, so every member skips the same duplicates; the table travels in
snapshots.

Request ids are unique per proposer across restarts (the incarnation is in the high bits)
and increase. Ids more than `WINDOW` below the highest applied one from the same proposer are
treated as already applied: such a request's proposer restarted or gave up on it long ago,
so its client saw an unknown outcome, and skipping it everywhere is consistent.
"""

from __future__ import annotations

import heapq
from typing import Any

WINDOW = 1 << 20
INCARNATION_SHIFT = 40


def request_id(incarnation: int, seq: int) -> int:
    """A proposer's request id: unique across its restarts, increasing."""
    return (incarnation << INCARNATION_SHIFT) | seq


class AppliedRequests:
    """Per proposer: the highest applied id and the applied ids still inside the window (a
    set to look them up, the same ids in a min-heap so pruning pops the oldest instead of
    scanning them all)."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, set[int], list[int]]] = {}  # proposer -> (highest, ids, heap of ids)

    def first_time(self, origin: int, req_id: int) -> bool:
        """Record that (origin, req_id) applies now; False if it already did."""
        entry = self._seen.get(origin)
        if entry is None:
            entry = self._seen[origin] = (0, set(), [])
        highest, recent, heap = entry
        if req_id in recent or req_id <= highest - WINDOW:
            return False
        recent.add(req_id)
        heapq.heappush(heap, req_id)
        if req_id > highest:
            highest = req_id
            if len(recent) > 4096:  # prune what the window no longer needs
                while heap[0] <= highest - WINDOW:
                    recent.discard(heapq.heappop(heap))
            self._seen[origin] = (highest, recent, heap)
        return True

    def to_wire(self) -> list[list[Any]]:
        return [[origin, highest, sorted(recent)] for origin, (highest, recent, _heap) in sorted(self._seen.items())]

    @classmethod
    def from_wire(cls, wire: list[list[Any]]) -> AppliedRequests:
        out = cls()
        for o, h, r in wire:
            heap = [int(x) for x in r]
            heapq.heapify(heap)
            out._seen[int(o)] = (int(h), set(heap), heap)
        return out
