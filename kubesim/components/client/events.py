"""The informer's delta handling (client-go's Reflector + DeltaFIFO + processDeltas), pure.

The actor that owns an `Informer` does the I/O: it lists (with `relist_resource_version()`),
hands the result to `on_list`, watches from `resource_version` and hands each event to
`on_watch_event`. When `on_watch_event` reports that the watch expired (410 Gone) the
actor lists again; objects that vanished meanwhile are then delivered to `on_delete` as
`DeletedFinalStateUnknown` carrying their last known state. `tick(now)` runs the periodic
resync, which re-delivers every cached object as `on_update(obj, obj)`.

As in client-go's shared informer, every event is applied to the `Indexer` before the
handlers see it, a list or an ADDED/MODIFIED event for a cached key is an update, and an
update that does not change the resourceVersion (a relist that found nothing new, or a
resync) is a sync: it is delivered only when the informer has a resync period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesim.components.client.store import (
    DeletedFinalStateUnknown,
    Indexer,
    Obj,
    meta_namespace_key,
    resource_version,
)

HTTP_GONE = 410


@dataclass(frozen=True)
class EventHandler:
    """cache.ResourceEventHandlerFuncs: any of the three may be None."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj | DeletedFinalStateUnknown], None] | None = None


class Informer:
    """A shared index informer's cache and event distribution, driven by its owner."""

    def __init__(self, indexer: Indexer | None = None, resync_period: float = 0.0) -> None:
        self.indexer = indexer if indexer is not None else Indexer()
        self.resync_period = resync_period
        self.has_synced = False
        self._handlers: list[EventHandler] = []
        self._next_resync: float | None = None
        self._last_rv_unavailable = False

    def add_event_handler(self, handler: EventHandler) -> None:
        """Register a handler; it is first told `on_add` for every object already cached."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.indexer.list():
                handler.on_add(obj)

    @property
    def resource_version(self) -> str:
        """Where a watch should resume from (the last list or event seen)."""
        return self.indexer.resource_version

    def relist_resource_version(self) -> str:
        """The resourceVersion for the next list, as the reflector chooses it.

        "0" (any cached state) before the first list, "" (a consistent read) after the
        last resourceVersion expired, otherwise the last one seen.
        """
        if self._last_rv_unavailable:
            return ""
        return self.indexer.resource_version or "0"

    def on_list(self, items: list[Obj], list_resource_version: str, now: float) -> None:
        """Apply a full list: known objects missing from it are deleted (DeletedFinalStateUnknown)."""
        listed = {meta_namespace_key(obj) for obj in items}
        vanished = [obj for obj in self.indexer.list() if meta_namespace_key(obj) not in listed]
        for obj in items:
            self._upsert(obj)
        for last in vanished:
            gone = DeletedFinalStateUnknown(meta_namespace_key(last), last)
            self.indexer.delete(gone)
            self._distribute_delete(gone)
        self.indexer.resource_version = list_resource_version
        self._last_rv_unavailable = False
        if not self.has_synced:
            self.has_synced = True
            if self.resync_period > 0:
                self._next_resync = now + self.resync_period

    def on_watch_event(self, event_type: str, obj: dict[str, Any]) -> bool:
        """Apply one watch event; returns False when the watch expired and a relist is due.

        `event_type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (`obj` is then a Status).
        """
        if event_type == "ERROR":
            if obj.get("code") == HTTP_GONE:
                self._last_rv_unavailable = True
            return False
        if event_type in ("ADDED", "MODIFIED"):
            self._upsert(obj)
        elif event_type == "DELETED":
            if self.indexer.get(obj) is not None:
                self.indexer.delete(obj)
                self._distribute_delete(obj)
        elif event_type != "BOOKMARK":
            raise ValueError(f"unknown watch event type {event_type!r}")
        rv = resource_version(obj)
        if rv:
            self.indexer.resource_version = rv
        return True

    def tick(self, now: float) -> float | None:
        """Resync if due; returns when the next resync is due (None: resync is off)."""
        if self._next_resync is None:
            return None
        if now >= self._next_resync:
            for obj in self.indexer.list():
                self._distribute_update(obj, obj)
            self._next_resync = now + self.resync_period
        return self._next_resync

    def _upsert(self, obj: Obj) -> None:
        old = self.indexer.get(obj)
        self.indexer.update(obj)
        if old is None:
            for handler in self._handlers:
                if handler.on_add is not None:
                    handler.on_add(obj)
        elif resource_version(old) != resource_version(obj) or self.resync_period > 0:
            self._distribute_update(old, obj)

    def _distribute_update(self, old: Obj, new: Obj) -> None:
        for handler in self._handlers:
            if handler.on_update is not None:
                handler.on_update(old, new)

    def _distribute_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                handler.on_delete(obj)
