"""Per-key revision history: what etcd keeps in its keyIndex B-tree plus the bbolt key bucket.

Every write gets a revision `(main, sub)`: `main` is the store revision of the write
transaction, `sub` its position inside that transaction. A key's history is the list of
its revisions in order, each with the KeyValue written there or None for a tombstone
(a delete). The value of a key at revision R is the newest entry with main <= R, unless
that entry is a tombstone.

Compaction at R keeps, per key, the newest entry with main <= R unless it is a tombstone
(then that entry and everything older go), and everything newer than R: reads at any
revision >= R answer exactly as before, as in etcd's keyIndex.compact.

The index also keeps a log of all stored revisions in revision order, from which the
watch hub replays history (etcd reads the bbolt key bucket for the same purpose).
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sortedcontainers import SortedList

Revision = tuple[int, int]

# bytes one stored revision costs in bbolt, besides key and value: the 17-byte revision
# key, the 16-byte leaf element header and the protobuf framing of the KeyValue
RECORD_OVERHEAD = 17 + 16 + 24


@dataclass(frozen=True, slots=True)
class KeyValue:
    """mvccpb.KeyValue."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int

    def to_dict(self, keys_only: bool = False) -> dict[str, Any]:
        return {
            "key": self.key,
            "create_revision": self.create_revision,
            "mod_revision": self.mod_revision,
            "version": self.version,
            "value": b"" if keys_only else self.value,
            "lease": self.lease,
        }


def record_size(key: bytes, kv: KeyValue | None) -> int:
    """Approximate bytes one stored revision takes in the bbolt key bucket."""
    return RECORD_OVERHEAD + len(key) + (len(kv.value) if kv is not None else 0)


class KeyHistory:
    """The stored revisions of one key, oldest first; None marks a tombstone."""

    __slots__ = ("revs", "kvs")

    def __init__(self) -> None:
        self.revs: list[Revision] = []
        self.kvs: list[KeyValue | None] = []

    def position(self, rev: int) -> int:
        """Index of the newest entry with main revision <= rev, or -1."""
        if self.revs and self.revs[-1][0] <= rev:
            return len(self.revs) - 1
        return bisect_right(self.revs, (rev, sys.maxsize)) - 1

    def at(self, rev: int) -> KeyValue | None:
        i = self.position(rev)
        return self.kvs[i] if i >= 0 else None

    def find(self, rev: Revision) -> int:
        """Index of the entry stored at exactly `rev`, or -1."""
        i = bisect_left(self.revs, rev)
        return i if i < len(self.revs) and self.revs[i] == rev else -1


class Index:
    """All keys' histories, ordered by key, and the revision-ordered log of stored revisions."""

    def __init__(self) -> None:
        self._keys: SortedList = SortedList()
        self._hist: dict[bytes, KeyHistory] = {}
        self._log: list[tuple[int, int, bytes]] = []  # (main, sub, key), ascending
        self.live_keys = 0  # keys whose newest entry is not a tombstone
        self.data_bytes = 0  # sum of record_size over stored revisions

    def get(self, key: bytes, rev: int) -> KeyValue | None:
        hist = self._hist.get(key)
        return hist.at(rev) if hist is not None else None

    def range(self, key: bytes, end: bytes | None, rev: int) -> Iterator[KeyValue]:
        """Live KeyValues at `rev`, key-ascending: the single `key` if `end` is None, every
        key >= `key` if `end` is b"", else keys in [key, end)."""
        if end is None:
            kv = self.get(key, rev)
            if kv is not None:
                yield kv
            return
        if end and end <= key:
            return
        keys = self._keys.irange(key, end or None, inclusive=(True, False))
        hist = self._hist
        for k in keys:
            kv = hist[k].at(rev)
            if kv is not None:
                yield kv

    def put(self, kv: KeyValue, sub: int) -> None:
        self._append(kv.key, (kv.mod_revision, sub), kv)

    def tombstone(self, key: bytes, rev: Revision) -> None:
        self._append(key, rev, None)

    def _append(self, key: bytes, rev: Revision, kv: KeyValue | None) -> None:
        hist = self._hist.get(key)
        if hist is None:
            hist = self._hist[key] = KeyHistory()
            self._keys.add(key)
        was_live = bool(hist.kvs) and hist.kvs[-1] is not None
        hist.revs.append(rev)
        hist.kvs.append(kv)
        self._log.append((rev[0], rev[1], key))
        self.live_keys += (kv is not None) - was_live
        self.data_bytes += record_size(key, kv)

    def compact(self, rev: int) -> None:
        """Drop what no read at a revision >= `rev` can see (see the module docstring)."""
        for key in list(self._keys):
            hist = self._hist[key]
            i = hist.position(rev)
            if i < 0:
                continue
            cut = i + 1 if hist.kvs[i] is None else i
            if cut == 0:
                continue
            for kv in hist.kvs[:cut]:
                self.data_bytes -= record_size(key, kv)
            del hist.revs[:cut]
            del hist.kvs[:cut]
            if not hist.revs:
                del self._hist[key]
                self._keys.remove(key)
        end = bisect_right(self._log, (rev, sys.maxsize, b""))
        kept = [entry for entry in self._log[:end] if self._survives(entry)]
        self._log[:end] = kept

    def _survives(self, entry: tuple[int, int, bytes]) -> bool:
        hist = self._hist.get(entry[2])
        return hist is not None and hist.revs[0] == (entry[0], entry[1])

    def log_from(self, rev: int) -> Iterator[tuple[int, int, bytes]]:
        """Stored revisions (main, sub, key) with main >= rev, in revision order."""
        log = self._log
        for i in range(bisect_left(log, (rev, -1, b"")), len(log)):
            yield log[i]

    def entry(self, key: bytes, rev: Revision) -> tuple[KeyValue | None, KeyValue | None]:
        """The entry stored at `rev` for `key` and the entry just before it (None if a
        tombstone or absent)."""
        hist = self._hist[key]
        i = hist.find(rev)
        return hist.kvs[i], (hist.kvs[i - 1] if i > 0 else None)

    def dump(self) -> list[list[Any]]:
        """Every key's history as plain lists (for snapshots), key-ascending."""
        out = []
        for key in self._keys:
            hist = self._hist[key]
            entries = [
                [
                    r[0],
                    r[1],
                    None if kv is None else [kv.create_revision, kv.version, kv.value, kv.lease],
                ]
                for r, kv in zip(hist.revs, hist.kvs, strict=True)
            ]
            out.append([key, entries])
        return out

    @classmethod
    def load(cls, data: list[list[Any]]) -> Index:
        index = cls()
        entries = []
        for key, hist_entries in data:
            for main, sub, body in hist_entries:
                kv = (
                    None
                    if body is None
                    else KeyValue(key, body[0], main, body[1], body[2], body[3])
                )
                entries.append((main, sub, key, kv))
        entries.sort(key=lambda e: (e[0], e[1]))
        for main, sub, key, kv in entries:
            index._append(key, (main, sub), kv)
        return index
