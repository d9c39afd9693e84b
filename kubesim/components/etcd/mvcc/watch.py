"""WatchHub: etcd's watchable store and watch-server logic, as a pure object the member pumps.

Watchers belong to a stream (an int the member picks per client watch stream); watch ids
are per stream, auto-assigned from 0 when the request's watch_id is 0, as etcd 3.4 does.
Each watcher has `next_rev`, the lowest revision it has not been sent yet:

- created with start_revision 0 or in the future, a watcher is *synced*: `notify(events)`
  hands it the live events of each applied write;
- created with start_revision <= the current revision, it is *unsynced*: `sync()` replays
  the store's history to it (at most `max_revs` revisions per watcher per call, etcd's
  watchBatchMaxRevs) and then makes it synced; if its start is below the compact
  revision it gets etcd's compacted response (header revision 0, compact_revision set,
  canceled) and is dropped.

Both paths only send events with revision >= next_rev and move next_rev past what they
send, so calling notify and sync in any order never duplicates nor loses an event; the
member should call notify with the store's drained events after each apply, then sync.

Every method returns the WatchResponses to send as (stream, response) pairs, in order.
Filters, prev_kv and the "all events filtered -> nothing sent" rule follow etcd; the
fragment flag is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Any

from kubesim.components.etcd.backend import Request, Response
from kubesim.components.etcd.mvcc.store import Event, KVStore

WATCH_BATCH_MAX_REVS = 1000  # mvcc.watchBatchMaxRevs
ERR_EMPTY_RANGE = "mvcc: watcher range is empty"
ERR_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"
RANGES_OF_KEPT = 65_536  # keys whose range watchers are remembered

Outbox = list[tuple[int, Response]]


@dataclass(eq=False)
class Watcher:
    stream: int
    id: int
    key: bytes
    end: bytes | None  # None: the single key; b"": every key >= key
    next_rev: int
    prev_kv: bool
    no_put: bool
    no_delete: bool
    progress_notify: bool
    seq: int  # creation order, for deterministic output
    synced: bool = True
    idle: bool = True  # no events sent since the last progress tick

    def matches(self, key: bytes) -> bool:
        if self.end is None:
            return key == self.key
        return self.key <= key and (not self.end or key < self.end)

    def wants(self, event: Event) -> bool:
        return not (
            (self.no_put and event.type == "PUT") or (self.no_delete and event.type == "DELETE")
        )


def watch_response(
    revision: int,
    watch_id: int,
    *,
    events: list[dict[str, Any]] | None = None,
    created: bool = False,
    canceled: bool = False,
    compact_revision: int = 0,
    cancel_reason: str = "",
) -> Response:
    """A WatchResponse with every field; the header holds only the revision."""
    return {
        "header": {"revision": revision},
        "watch_id": watch_id,
        "created": created,
        "canceled": canceled,
        "compact_revision": compact_revision,
        "cancel_reason": cancel_reason,
        "fragment": False,
        "events": events or [],
    }


class WatchHub:
    """All watchers of one member, over one store."""

    def __init__(self, store: KVStore) -> None:
        self.store = store
        self._watchers: dict[tuple[int, int], Watcher] = {}
        self._single: dict[bytes, dict[tuple[int, int], Watcher]] = {}
        self._ranges: dict[tuple[int, int], Watcher] = {}
        # the range watchers of each key written lately, found by a scan of every range
        # watcher once per key (a pod's key is written about eight times in its life);
        # emptied when a range watcher comes or goes (etcd keeps them in an interval tree)
        self._ranges_of: dict[bytes, list[Watcher]] = {}
        self._unsynced: dict[tuple[int, int], Watcher] = {}
        self._next_id: dict[int, int] = {}
        self._seq = count()
        self._notified_rev = store.revision

    def __len__(self) -> int:
        return len(self._watchers)

    def has_unsynced(self) -> bool:
        return bool(self._unsynced)

    def create(self, req: Request, stream: int = 0) -> Response:
        """Register a watcher from a WatchCreateRequest; return the "created" response
        (canceled, with watch_id -1 and a reason, for an empty range or a taken id)."""
        key = req.get("key") or b"\0"
        range_end = req.get("range_end", b"")
        end = None if not range_end else (b"" if range_end == b"\0" else range_end)
        cur = self.store.revision
        if end and key >= end:
            return watch_response(
                cur, -1, created=True, canceled=True, cancel_reason=ERR_EMPTY_RANGE
            )
        watch_id = req.get("watch_id", 0)
        if watch_id == 0:
            watch_id = self._next_id.get(stream, 0)
            while (stream, watch_id) in self._watchers:
                watch_id += 1
            self._next_id[stream] = watch_id + 1
        elif (stream, watch_id) in self._watchers:
            return watch_response(
                cur, -1, created=True, canceled=True, cancel_reason=ERR_DUPLICATE_ID
            )
        filters = set(req.get("filters") or [])
        start = req.get("start_revision", 0) or cur + 1
        w = Watcher(
            stream=stream,
            id=watch_id,
            key=key,
            end=end,
            next_rev=start,
            prev_kv=bool(req.get("prev_kv")),
            no_put="NOPUT" in filters,
            no_delete="NODELETE" in filters,
            progress_notify=bool(req.get("progress_notify")),
            seq=next(self._seq),
            synced=start > cur,
        )
        self._add(w)
        return watch_response(cur, watch_id, created=True)

    def cancel(self, watch_id: int, stream: int = 0) -> Response | None:
        """Cancel a watcher; None (etcd sends nothing) if there is no such watcher."""
        w = self._watchers.get((stream, watch_id))
        if w is None:
            return None
        self._remove(w)
        return watch_response(self.store.revision, watch_id, canceled=True)

    def has_watcher(self, watch_id: int, stream: int = 0) -> bool:
        return (stream, watch_id) in self._watchers

    def close_stream(self, stream: int) -> None:
        for w in [w for w in self._watchers.values() if w.stream == stream]:
            self._remove(w)
        self._next_id.pop(stream, None)

    def progress(self) -> Response:
        """The answer to a WatchProgressRequest: watch_id -1, the current revision."""
        return watch_response(self.store.revision, -1)

    def request_progress(self, watch_id: int, stream: int = 0) -> Outbox:
        """etcd 3.5's ``watchStream.RequestProgress(id)``: if the watcher is synced (it has
        been sent every event up to the current revision), an empty response for it with
        the current revision; nothing otherwise (the caller asks again later)."""
        w = self._watchers.get((stream, watch_id))
        rev = self.store.revision
        if w is None or not w.synced or rev < w.next_rev - 1:
            return []
        return [(w.stream, watch_response(rev, w.id))]

    def progress_tick(self) -> Outbox:
        """etcd's progress ticker (every 10 minutes by default): each synced watcher with
        progress_notify that got no events since the last tick gets an empty response."""
        out: Outbox = []
        for w in self._watchers.values():
            if not w.progress_notify:
                continue
            if w.idle and w.synced:
                out.append((w.stream, watch_response(self.store.revision, w.id)))
            w.idle = True
        return out

    def notify(self, events: list[Event]) -> Outbox:
        """Live events of applied writes (in revision order) for the synced watchers: one
        response per watcher and revision, header revision = that revision."""
        out: Outbox = []
        i = 0
        while i < len(events):
            rev = events[i].kv.mod_revision
            j = i
            batches: dict[Watcher, list[Event]] = {}
            while j < len(events) and events[j].kv.mod_revision == rev:
                ev = events[j]
                for w in self._interested(ev.kv.key):
                    if w.synced and rev >= w.next_rev:
                        batches.setdefault(w, []).append(ev)
                j += 1
            for w in sorted(batches, key=lambda w: w.seq):
                w.next_rev = rev + 1
                self._send(out, w, batches[w], rev)
            self._notified_rev = max(self._notified_rev, rev)
            i = j
        return out

    def sync(self, max_revs: int = WATCH_BATCH_MAX_REVS) -> Outbox:
        """Catch the unsynced watchers up from the store's history (see module docstring)."""
        out: Outbox = []
        cur = self.store.revision
        compacted = self.store.compact_revision
        for w in sorted(self._unsynced.values(), key=lambda w: w.seq):
            if w.next_rev < compacted:
                self._remove(w)
                out.append(
                    (w.stream, watch_response(0, w.id, compact_revision=compacted, canceled=True))
                )
                continue
            batch: list[Event] = []
            revs = 0
            more_rev = 0
            for ev in self.store.history_events(w.next_rev, w.matches):
                rev = ev.kv.mod_revision
                if rev > cur:
                    break
                if not batch or rev > batch[-1].kv.mod_revision:
                    revs += 1
                    if revs > max_revs:
                        more_rev = rev
                        break
                batch.append(ev)
            w.next_rev = more_rev or max(w.next_rev, cur + 1)
            if batch:
                self._send(out, w, batch, cur)
            if not more_rev:
                w.synced = True
                del self._unsynced[(w.stream, w.id)]
        return out

    def on_restore(self) -> None:
        """The store was replaced by a snapshot: every watcher catches up again from where
        it stands (etcd moves synced watchers to unsynced on restore)."""
        for w in self._watchers.values():
            if w.synced:
                w.next_rev = max(w.next_rev, self._notified_rev + 1)
                w.synced = False
                self._unsynced[(w.stream, w.id)] = w
        self._notified_rev = self.store.revision

    def _send(self, out: Outbox, w: Watcher, events: list[Event], rev: int) -> None:
        wanted = [ev.to_dict(prev_kv=w.prev_kv) for ev in events if w.wants(ev)]
        if wanted:
            w.idle = False
            out.append((w.stream, watch_response(rev, w.id, events=wanted)))

    def _interested(self, key: bytes) -> list[Watcher]:
        single = self._single.get(key)
        found = list(single.values()) if single else []
        ranges = self._ranges_of.get(key)
        if ranges is None:
            if len(self._ranges_of) >= RANGES_OF_KEPT:
                self._ranges_of.clear()
            ranges = self._ranges_of[key] = [w for w in self._ranges.values() if w.matches(key)]
        found.extend(ranges)
        return found

    def _add(self, w: Watcher) -> None:
        ident = (w.stream, w.id)
        self._watchers[ident] = w
        if w.end is None:
            self._single.setdefault(w.key, {})[ident] = w
        else:
            self._ranges[ident] = w
            self._ranges_of.clear()
        if not w.synced:
            self._unsynced[ident] = w

    def _remove(self, w: Watcher) -> None:
        ident = (w.stream, w.id)
        del self._watchers[ident]
        self._unsynced.pop(ident, None)
        if w.end is None:
            single = self._single[w.key]
            del single[ident]
            if not single:
                del self._single[w.key]
        else:
            del self._ranges[ident]
            self._ranges_of.clear()
