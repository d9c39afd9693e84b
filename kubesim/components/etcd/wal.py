"""The member's durable files: a write-ahead log of Raft entries and hard state, and the
latest snapshot, kept through the runtime's `Storage` (so fsync time is modelled and a
crash loses exactly what was not fsynced).

Layout, as etcd's `member/wal` and `member/snap` in spirit:
- `wal`: framed records `[u32 length][u32 crc32][msgpack payload]`; a payload is
  `[kind, body]` with kind "meta" (member and cluster ids), "state" (a HardState),
  "entry" (an Entry) or "snap" (the index and term of a snapshot the log starts after).
  Replay applies records in order; an entry at index i drops every entry >= i first
  (Raft overwrote an uncommitted suffix). A torn or corrupt tail ends the log.
- `snap`: the newest snapshot (Raft metadata + state-machine data), replaced atomically.

After a snapshot the WAL is rewritten to start at it (etcd purges old segments instead).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from kubesim.components.etcd.raft.types import Entry, HardState, Snapshot
from kubesim.runtime.storage import Storage

WAL_FILE = "wal"
SNAP_FILE = "snap"
_HEADER = struct.Struct("<II")


@dataclass
class Recovered:
    """What a member finds on its disk at start."""

    member_id: int = 0
    cluster_id: int = 0
    snapshot: Snapshot | None = None
    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.member_id == 0


def _frame(kind: str, body: Any) -> bytes:
    payload = msgpack.packb([kind, body], use_bin_type=True)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _records(data: bytes) -> Iterator[tuple[str, Any]]:
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return  # torn or corrupt tail: what follows was never acknowledged
        kind, body = msgpack.unpackb(payload, raw=False)
        yield kind, body
        pos = start + length


class WAL:
    """Appends Raft state to the log file; `sync()` makes it durable."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def create(self, member_id: int, cluster_id: int) -> None:
        self._storage.replace(WAL_FILE, _frame("meta", [member_id, cluster_id]))

    def save(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        parts = [_frame("entry", e.to_wire()) for e in entries]
        if hard_state is not None:
            parts.append(_frame("state", hard_state.to_wire()))
        if parts:
            self._storage.append(WAL_FILE, b"".join(parts))

    async def sync(self) -> None:
        await self._storage.fsync(WAL_FILE)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Write the snapshot file (durable at the next `sync_snapshot`)."""
        self._storage.replace(SNAP_FILE, msgpack.packb(snapshot.to_wire(), use_bin_type=True))

    async def sync_snapshot(self) -> None:
        await self._storage.fsync(SNAP_FILE)

    def rewrite(
        self,
        member_id: int,
        cluster_id: int,
        snapshot: Snapshot,
        hard_state: HardState,
        entries: Sequence[Entry],
    ) -> None:
        """Start the log afresh after `snapshot` (the purge of old segments)."""
        meta = snapshot.metadata
        parts = [
            _frame("meta", [member_id, cluster_id]),
            _frame("snap", [meta.index, meta.term]),
            _frame("state", hard_state.to_wire()),
        ]
        parts += [_frame("entry", e.to_wire()) for e in entries if e.index > meta.index]
        self._storage.replace(WAL_FILE, b"".join(parts))

    def size(self) -> int:
        return self._storage.size(WAL_FILE) if self._storage.exists(WAL_FILE) else 0


def recover(storage: Storage) -> Recovered:
    """Read back the snapshot and the log as they were durably written."""
    found = Recovered()
    if storage.exists(SNAP_FILE):
        found.snapshot = Snapshot.from_wire(msgpack.unpackb(storage.read(SNAP_FILE), raw=False))
    if not storage.exists(WAL_FILE):
        return found
    entries: list[Entry] = []
    for kind, body in _records(storage.read(WAL_FILE)):
        if kind == "meta":
            found.member_id, found.cluster_id = body
        elif kind == "state":
            found.hard_state = HardState.from_wire(body)
        elif kind == "snap":
            index = body[0]
            entries = [e for e in entries if e.index > index]
        else:
            entry = Entry.from_wire(body)
            while entries and entries[-1].index >= entry.index:
                entries.pop()
            entries.append(entry)
    if found.snapshot is not None:
        meta = found.snapshot.metadata
        entries = [e for e in entries if e.index > meta.index]
        hs = found.hard_state or HardState()
        if hs.commit < meta.index:
            # the crash came after the snapshot file but before the log that follows it:
            # a snapshot holds only committed entries, so its index is committed
            term = max(hs.term, meta.term)
            found.hard_state = HardState(term, hs.vote if term == hs.term else 0, meta.index)
    found.entries = entries
    return found
