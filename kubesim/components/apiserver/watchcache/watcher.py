"""``CacheWatcher``: one watch served from the cache (k8s.io/apiserver pkg/storage/cacher/
cache_watcher.go).

It first yields its initial events (the state it starts from, or the window's events after its
resourceVersion), then the cache's live events, turned into what this watcher should see
(``convertToWatchEvent``): an object that starts matching the selectors arrives as ADDED, one
that stops matching as DELETED (its last matching state, at the event's resourceVersion).

The live buffer is bounded. When it is full the cache waits a little (its dispatch time
budget) for the consumer to make room and otherwise terminates the watcher: what is buffered is
still delivered, then the stream ends, as kube-apiserver closes a watch that cannot keep up;
the client resumes from the last resourceVersion it saw or re-lists.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from kubesim.components.apiserver.storage import codec
from kubesim.components.apiserver.storage.predicate import Predicate
from kubesim.components.apiserver.watchcache.window import (
    ADDED,
    BOOKMARK,
    DELETED,
    MODIFIED,
    Attrs,
    CacheEvent,
)

Obj = dict[str, Any]
Event = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"  # metav1.InitialEventsAnnotationKey


class CacheWatcher:
    def __init__(self, *, prefix: str, predicate: Predicate, start_rv: int, buffer_size: int,
                 allow_bookmarks: bool, bookmark_after_rv: int, deadline: float | None,
                 forget: Callable[[CacheWatcher], None]) -> None:
        self.prefix = prefix
        self.predicate = predicate
        self.start_rv = start_rv
        self.buffer_size = buffer_size
        self.allow_bookmarks = allow_bookmarks
        self.bookmark_after_rv = bookmark_after_rv
        self.deadline = deadline
        self.next_bookmark = 0.0  # when the next periodic bookmark is due
        self.terminated = False  # closed by the cache (overflow, re-list, stop)
        self._forget = forget
        self._initial: deque[Event] = deque()
        self._input: deque[CacheEvent] = deque()
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._stopped = False
        # the initial-events-end bookmark: taken into the buffer, turned into an event
        self._end_bookmark_received = self._end_bookmark_sent = bookmark_after_rv == 0

    # ---------------------------------------------------------------- consumer side
    async def next(self) -> Event | None:
        """The next event ({"type", "object"}), or None once the watch has ended."""
        while True:
            if self._initial:
                return self._initial.popleft()
            if self._input:
                event = self._input.popleft()
                self._space.set()
                converted = self._convert(event)
                if converted is not None:
                    return converted
                continue
            if self._stopped:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def stop(self) -> None:
        """End the watch (the client went away); buffered events are dropped."""
        self._initial.clear()
        self._input.clear()
        self._close()
        self._forget(self)

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ---------------------------------------------------------------- cache side
    def _close(self) -> None:
        self._stopped = True
        self._wakeup.set()
        self._space.set()

    def terminate(self) -> None:
        """Closed by the cache: the buffered events are delivered, then the stream ends."""
        self.terminated = True
        self._close()

    def push_initial(self, events: list[Event]) -> None:
        self._initial.extend(events)
        self._wakeup.set()

    def add(self, event: CacheEvent) -> bool:
        """``nonblockingAdd``: False when the buffer is full (or, for a bookmark, when it is
        older than the initial-events-end bookmark this watcher waits for)."""
        if self._stopped:
            return True
        if event.type == BOOKMARK and event.resource_version < self.bookmark_after_rv:
            return False
        if len(self._input) >= self.buffer_size:
            return False
        if event.type == BOOKMARK:
            self._end_bookmark_received = True
        self._input.append(event)
        self._wakeup.set()
        return True

    def wants(self, event: CacheEvent) -> bool:
        """Whether the event concerns this watcher's keys at all (cheap pre-filter)."""
        return event.key.startswith(self.prefix)

    async def wait_for_space(self) -> None:
        self._space.clear()
        await self._space.wait()

    # ---------------------------------------------------------------- conversion
    def _passes(self, key: str, attrs: Attrs | None) -> bool:
        return attrs is not None and key.startswith(self.prefix) and \
            self.predicate.matches_attrs(attrs)

    def push_history(self, events: list[CacheEvent]) -> None:
        """Initial events from the cache's window (all newer than this watch's start)."""
        self._initial.extend(e for e in map(self._change, events) if e is not None)
        self._wakeup.set()

    def _convert(self, event: CacheEvent) -> Event | None:
        if event.type == BOOKMARK:
            return self._bookmark(event)
        if event.resource_version <= self.start_rv:
            return None  # already part of this watch's initial state
        return self._change(event)

    def _change(self, event: CacheEvent) -> Event | None:
        """``convertToWatchEvent`` for an object change."""
        cur = event.type != DELETED and self._passes(event.key, event.attrs)
        old = event.prev_obj is not None and self._passes(event.key, event.prev_attrs)
        if cur and not old:
            return {"type": ADDED, "object": event.obj}
        if cur and old:
            return {"type": MODIFIED, "object": event.obj}
        if old:
            assert event.prev_obj is not None
            return {"type": DELETED,
                    "object": codec.with_version(event.prev_obj, event.resource_version)}
        return None

    def _bookmark(self, event: CacheEvent) -> Event:
        assert event.obj is not None
        obj = event.obj
        if not self._end_bookmark_sent:
            metadata = {**obj["metadata"], "annotations": {INITIAL_EVENTS_END: "true"}}
            obj = {**obj, "metadata": metadata}
            self._end_bookmark_sent = True
        return {"type": BOOKMARK, "object": obj}

    def wants_end_bookmark(self) -> bool:
        """Still waits for its initial-events-end bookmark (then one is due at every tick)."""
        return not self._end_bookmark_received
