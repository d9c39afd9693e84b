"""Stable storage as Raft sees it: `MemoryStorage` (after etcd's raft/storage.go) holding the
persisted hard state, the latest snapshot and the log entries after it, plus the errors
its reads raise and `limit_size`, which trims an entry batch to a byte budget."""

from __future__ import annotations

from .types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata


class StorageError(Exception):
    """Base of the errors a Storage raises."""


class Compacted(StorageError):
    """The requested index is older than the snapshot: it was compacted away."""


class Unavailable(StorageError):
    """The requested index is past the last entry."""


class SnapOutOfDate(StorageError):
    """The snapshot offered is older than the one held."""


def limit_size(ents: list[Entry], max_size: int | None) -> list[Entry]:
    """The longest prefix of `ents` within `max_size` bytes, but never fewer than one entry."""
    if max_size is None or not ents:
        return ents
    size = ents[0].size()
    for i in range(1, len(ents)):
        size += ents[i].size()
        if size > max_size:
            return ents[:i]
    return ents


class MemoryStorage:
    """Entries, hard state and snapshot in memory. `_ents[0]` is a dummy entry standing for
    the snapshot's (index, term), so `_ents[i - offset]` is entry i."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry()]

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.hard_state, self._snapshot.metadata.conf_state

    def set_hard_state(self, hs: HardState) -> None:
        self.hard_state = hs

    def _offset(self) -> int:
        return self._ents[0].index

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi), at most max_size bytes (but at least one)."""
        offset = self._offset()
        if lo <= offset:
            raise Compacted(lo)
        if hi > self.last_index() + 1:
            raise ValueError(f"entries hi {hi} out of bound, last index {self.last_index()}")
        if len(self._ents) == 1:
            raise Unavailable(lo)
        return limit_size(self._ents[lo - offset:hi - offset], max_size)

    def term(self, i: int) -> int:
        offset = self._offset()
        if i < offset:
            raise Compacted(i)
        if i - offset >= len(self._ents):
            raise Unavailable(i)
        return self._ents[i - offset].term

    def first_index(self) -> int:
        return self._offset() + 1

    def last_index(self) -> int:
        return self._offset() + len(self._ents) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace the whole content by the snapshot (a follower installing one)."""
        if snap.metadata.index <= self._snapshot.metadata.index:
            raise SnapOutOfDate(snap.metadata.index)
        self._snapshot = snap
        self._ents = [Entry(snap.metadata.term, snap.metadata.index)]

    def create_snapshot(self, i: int, conf_state: ConfState | None, data: bytes) -> Snapshot:
        """Record a snapshot of the state machine as of applied index i; compaction is separate."""
        if i <= self._snapshot.metadata.index:
            raise SnapOutOfDate(i)
        if i > self.last_index():
            raise ValueError(f"snapshot {i} is out of bound, last index {self.last_index()}")
        cs = self._snapshot.metadata.conf_state if conf_state is None else conf_state
        self._snapshot = Snapshot(SnapshotMetadata(i, self.term(i), cs), data)
        return self._snapshot

    def compact(self, i: int) -> None:
        """Discard the entries before i; entry i stays as the new dummy."""
        offset = self._offset()
        if i <= offset:
            raise Compacted(i)
        if i > self.last_index():
            raise ValueError(f"compact {i} is out of bound, last index {self.last_index()}")
        k = i - offset
        self._ents = [Entry(self._ents[k].term, i)] + self._ents[k + 1:]

    def append(self, entries: list[Entry]) -> None:
        """Persist entries, truncating any conflicting suffix; already-compacted ones are skipped."""
        if not entries:
            return
        first = self.first_index()
        last = entries[-1].index
        if last < first:
            return
        if first > entries[0].index:
            entries = entries[first - entries[0].index:]
        k = entries[0].index - self._offset()
        if k > len(self._ents):
            raise ValueError(f"missing log entry [last: {self.last_index()}, append at: {entries[0].index}]")
        # in place, as etcd's `append(ms.ents, entries...)`: copying the whole log on every
        # append made each write cost O(entries since the last compaction)
        del self._ents[k:]
        self._ents.extend(entries)
