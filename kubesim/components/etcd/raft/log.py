"""The Raft log (after etcd's raft/log.go and log_unstable.go): `Unstable` holds entries and
an incoming snapshot not yet persisted; `RaftLog` joins it with the stable `MemoryStorage`
and tracks the committed and applied indexes."""

from __future__ import annotations

from .storage import Compacted, MemoryStorage, Unavailable, limit_size
from .types import Entry, Snapshot


class Unstable:
    """Entries from `offset` on (and maybe a snapshot) that the application has not persisted."""

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.offset = offset

    def maybe_first_index(self) -> int | None:
        if self.snapshot is not None:
            return self.snapshot.metadata.index + 1
        return None

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        if self.snapshot is not None:
            return self.snapshot.metadata.index
        return None

    def maybe_term(self, i: int) -> int | None:
        if i < self.offset:
            if self.snapshot is not None and self.snapshot.metadata.index == i:
                return self.snapshot.metadata.term
            return None
        last = self.maybe_last_index()
        if last is None or i > last:
            return None
        return self.entries[i - self.offset].term

    def stable_to(self, i: int, t: int) -> None:
        """Entries up to i (of term t) were persisted: drop them, unless since replaced."""
        gt = self.maybe_term(i)
        if gt is None:
            return
        if gt == t and i >= self.offset:
            self.entries = self.entries[i + 1 - self.offset:]
            self.offset = i + 1

    def stable_snap_to(self, i: int) -> None:
        if self.snapshot is not None and self.snapshot.metadata.index == i:
            self.snapshot = None

    def restore(self, snap: Snapshot) -> None:
        self.offset = snap.metadata.index + 1
        self.entries = []
        self.snapshot = snap

    def truncate_and_append(self, ents: list[Entry]) -> None:
        after = ents[0].index
        if after == self.offset + len(self.entries):
            self.entries = self.entries + ents
        elif after <= self.offset:
            # replace the unstable entries entirely
            self.offset = after
            self.entries = list(ents)
        else:
            self.entries = self.entries[:after - self.offset] + ents

    def slice(self, lo: int, hi: int) -> list[Entry]:
        return self.entries[lo - self.offset:hi - self.offset]


class RaftLog:
    def __init__(self, storage: MemoryStorage, max_next_ents_size: int | None = None) -> None:
        self.storage = storage
        self.max_next_ents_size = max_next_ents_size
        first = storage.first_index()
        last = storage.last_index()
        self.unstable = Unstable(last + 1)
        self.committed = first - 1
        self.applied = first - 1

    def __repr__(self) -> str:
        return (f"RaftLog(committed={self.committed}, applied={self.applied}, "
                f"unstable.offset={self.unstable.offset}, len(unstable)={len(self.unstable.entries)})")

    def maybe_append(self, index: int, log_term: int, committed: int,
                     ents: list[Entry]) -> int | None:
        """Append entries following (index, log_term) if that entry matches; returns the index
        of the last new entry, or None if the log does not match there."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        ci = self.find_conflict(ents)
        if ci:
            if ci <= self.committed:
                raise AssertionError(f"entry {ci} conflicts with committed entry {self.committed}")
            self.append(ents[ci - index - 1:])
        self.commit_to(min(committed, last_new))
        return last_new

    def append(self, ents: list[Entry]) -> int:
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise AssertionError(f"after {after} is out of range [committed {self.committed}]")
        self.unstable.truncate_and_append(ents)
        return self.last_index()

    def find_conflict(self, ents: list[Entry]) -> int:
        """The index of the first entry whose term differs from ours, or that we lack; 0 if none."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def unstable_entries(self) -> list[Entry]:
        return list(self.unstable.entries)

    def next_ents(self) -> list[Entry]:
        """Committed entries not yet applied, within max_next_ents_size."""
        off = max(self.applied + 1, self.first_index())
        if self.committed + 1 > off:
            return self.slice(off, self.committed + 1, self.max_next_ents_size)
        return []

    def has_next_ents(self) -> bool:
        return self.committed + 1 > max(self.applied + 1, self.first_index())

    def has_pending_snapshot(self) -> bool:
        return self.unstable.snapshot is not None and not self.unstable.snapshot.is_empty()

    def snapshot(self) -> Snapshot:
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    def first_index(self) -> int:
        i = self.unstable.maybe_first_index()
        return self.storage.first_index() if i is None else i

    def last_index(self) -> int:
        i = self.unstable.maybe_last_index()
        return self.storage.last_index() if i is None else i

    def commit_to(self, tocommit: int) -> None:
        if self.committed < tocommit:
            if self.last_index() < tocommit:
                raise AssertionError(f"tocommit {tocommit} is out of range [last {self.last_index()}]")
            self.committed = tocommit

    def applied_to(self, i: int) -> None:
        if i == 0:
            return
        if self.committed < i or i < self.applied:
            raise AssertionError(f"applied {i} out of range [prev {self.applied}, committed {self.committed}]")
        self.applied = i

    def stable_to(self, i: int, t: int) -> None:
        self.unstable.stable_to(i, t)

    def stable_snap_to(self, i: int) -> None:
        self.unstable.stable_snap_to(i)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def term(self, i: int) -> int:
        """The term of entry i; raises Compacted or Unavailable if unknown."""
        dummy = self.first_index() - 1
        if i < dummy or i > self.last_index():
            if i < dummy:
                raise Compacted(i)
            raise Unavailable(i)
        t = self.unstable.maybe_term(i)
        if t is not None:
            return t
        return self.storage.term(i)

    def term_or_zero(self, i: int) -> int:
        """The term of entry i, or 0 if it is compacted or unavailable."""
        try:
            return self.term(i)
        except (Compacted, Unavailable):
            return 0

    def entries(self, i: int, max_size: int | None = None) -> list[Entry]:
        if i > self.last_index():
            return []
        return self.slice(i, self.last_index() + 1, max_size)

    def all_entries(self) -> list[Entry]:
        return self.entries(self.first_index())

    def is_up_to_date(self, lasti: int, term: int) -> bool:
        """Whether a log ending at (lasti, term) is at least as up to date as ours (§5.4.1)."""
        lt = self.last_term()
        return term > lt or (term == lt and lasti >= self.last_index())

    def match_term(self, i: int, term: int) -> bool:
        try:
            return self.term(i) == term
        except (Compacted, Unavailable):
            return False

    def maybe_commit(self, max_index: int, term: int) -> bool:
        """Commit up to max_index only if that entry is of `term` (Raft §5.4.2)."""
        if max_index > self.committed and self.term_or_zero(max_index) == term:
            self.commit_to(max_index)
            return True
        return False

    def restore(self, snap: Snapshot) -> None:
        self.committed = snap.metadata.index
        self.unstable.restore(snap)

    def slice(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi) from storage and/or unstable; raises Compacted if lo is too old."""
        self._check_out_of_bounds(lo, hi)
        if lo == hi:
            return []
        ents: list[Entry] = []
        if lo < self.unstable.offset:
            stored = self.storage.entries(lo, min(hi, self.unstable.offset), max_size)
            # a short read means the size limit was hit: stop there
            if len(stored) < min(hi, self.unstable.offset) - lo:
                return stored
            ents = stored
        if hi > self.unstable.offset:
            unstable = self.unstable.slice(max(lo, self.unstable.offset), hi)
            ents = ents + unstable if ents else unstable
        return limit_size(ents, max_size)

    def _check_out_of_bounds(self, lo: int, hi: int) -> None:
        if lo > hi:
            raise AssertionError(f"invalid slice {lo} > {hi}")
        fi = self.first_index()
        if lo < fi:
            raise Compacted(lo)
        if hi > self.last_index() + 1:
            raise AssertionError(f"slice[{lo},{hi}) out of bound [{fi},{self.last_index()}]")
