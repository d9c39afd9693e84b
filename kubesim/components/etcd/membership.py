"""The cluster's member list as the state machine knows it: Raft id -> actor address.

Changed only by applied configuration changes, and saved in every snapshot, so a
member that catches up by snapshot learns how to reach its peers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Members:
    def __init__(self, peers: dict[int, str] | None = None) -> None:
        self._by_id: dict[int, str] = dict(peers or {})

    def address(self, member_id: int) -> str | None:
        return self._by_id.get(member_id)

    def add(self, member_id: int, address: str) -> None:
        self._by_id[member_id] = address

    def remove(self, member_id: int) -> None:
        self._by_id.pop(member_id, None)

    def items(self) -> Iterator[tuple[int, str]]:
        return iter(sorted(self._by_id.items()))

    def __len__(self) -> int:
        return len(self._by_id)

    def describe(self) -> list[dict[str, Any]]:
        """etcd's Member messages (name, peer and client URLs are the actor address)."""
        return [
            {"ID": mid, "name": addr.rpartition("/")[2], "peerURLs": [addr], "clientURLs": [addr]}
            for mid, addr in self.items()
        ]

    def to_wire(self) -> list[list[Any]]:
        return [[mid, addr] for mid, addr in self.items()]

    @classmethod
    def from_wire(cls, wire: list[list[Any]]) -> Members:
        return cls({int(mid): str(addr) for mid, addr in wire})
