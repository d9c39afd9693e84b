"""The watch cache's sliding window of recent events (``watchCache``'s cyclic buffer,
k8s.io/apiserver pkg/storage/cacher/watch_cache.go).

Capacity starts at the lower bound and is resized as upstream does: doubled when the window
is full and its oldest event is younger than ``event_fresh_duration``, halved when full and
its newest quarter is older. :meth:`EventWindow.since` answers which events a watch from a
resourceVersion must get, or that the resourceVersion is too old.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Attrs = tuple[dict[str, str], dict[str, str]]

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


@dataclass(frozen=True)
class CacheEvent:
    """``watchCacheEvent``: the object after the change and, for updates and deletes, before.
    For DELETED, ``prev_obj`` is the last stored state with the deletion's resourceVersion."""

    type: str
    key: str
    obj: Obj | None
    attrs: Attrs | None
    prev_obj: Obj | None
    prev_attrs: Attrs | None
    resource_version: int
    record_time: float


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class EventWindow:
    def __init__(self, lower_bound: int, upper_bound: int, fresh_duration: float) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.fresh_duration = fresh_duration
        self.capacity = lower_bound
        self.events: deque[CacheEvent] = deque()
        self.list_resource_version = 0
        self.removed_since_relist = False

    def __len__(self) -> int:
        return len(self.events)

    def reset(self, list_resource_version: int) -> None:
        """``Replace``: a fresh list at ``list_resource_version``; no history before it."""
        self.events.clear()
        self.removed_since_relist = False
        self.list_resource_version = list_resource_version

    def add(self, event: CacheEvent) -> None:
        self._resize(event.record_time)
        if len(self.events) >= self.capacity:
            self.events.popleft()
            self.removed_since_relist = True
        self.events.append(event)

    def _resize(self, now: float) -> None:
        if len(self.events) < self.capacity:
            return
        if now - self.events[0].record_time < self.fresh_duration:
            self.capacity = min(self.capacity * 2, self.upper_bound)
        elif now - self.events[len(self.events) - self.capacity // 4].record_time > \
                self.fresh_duration:
            self.capacity = max(self.capacity // 2, self.lower_bound)
            while len(self.events) > self.capacity:
                self.events.popleft()
                self.removed_since_relist = True

    def oldest_deliverable(self) -> int:
        """The oldest resourceVersion whose events the window can still deliver."""
        if self.list_resource_version > 0 and not self.removed_since_relist:
            return self.list_resource_version + 1
        if self.events:
            return self.events[0].resource_version
        return self.list_resource_version + 1

    def since(self, resource_version: int) -> list[CacheEvent]:
        """The events after ``resource_version`` (``getAllEventsSinceLocked``); TooOld when
        some of them already left the window."""
        oldest = self.oldest_deliverable()
        if resource_version < oldest - 1:
            raise TooOld(resource_version, oldest - 1)
        # a binary search over the window, as upstream's sort.Search over its cyclic buffer
        # (listing every version first made each watch start O(window))
        first = bisect.bisect_right(self.events, resource_version, key=_version)
        tail = list(itertools.islice(reversed(self.events), len(self.events) - first))
        tail.reverse()  # taken from the newest end: the cost is the events returned
        return tail


def _version(event: CacheEvent) -> int:
    return event.resource_version
