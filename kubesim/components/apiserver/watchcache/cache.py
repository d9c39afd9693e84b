"""``WatchCache``: the cacher of one kind (k8s.io/apiserver pkg/storage/cacher/cacher.go,
watch_cache.go, delegator logic as of kube-apiserver 1.32).

A reflector task lists the kind's prefix from etcd (consistently, in pages) and then watches the
prefix from the list's revision with ``prev_kv``. Each etcd event updates the current objects,
enters the event window and is dispatched to the watchers; an empty watch response (a progress
notification) only moves the cache's resourceVersion. When the etcd watch ends, the reflector
opens a new one from the last revision it saw, so its watchers lose and repeat nothing; only if
that revision was compacted does it re-list, and then (as upstream does) it terminates every
watcher, whose clients resume or re-list.

Reads wait (up to ``block_timeout``) for the cache to reach the resourceVersion they need, asking
etcd for progress notifications every ``progress_request_period`` meanwhile (the
``conditionalProgressRequester``); a consistent list (resourceVersion "") first reads etcd's
current revision, and falls back to etcd if the cache does not get there in time. Bookmarks go
every ``bookmark_tick`` to the watchers that asked for them and are due (every
``bookmark_frequency``, 2 s before their deadline, or at once while they wait for the
initial-events-end bookmark).

Objects in list items and watch events are the cache's own: callers treat them as read-only.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from sortedcontainers import SortedDict

from kubesim.api import status
from kubesim.api.copying import deep_copy
from kubesim.components.apiserver.storage import ListOptions, ResourceStore, codec, keys
from kubesim.components.apiserver.storage.errors import too_large_resource_version
from kubesim.components.apiserver.storage.etcd_ops import State
from kubesim.components.apiserver.storage.listing import list_object
from kubesim.components.apiserver.storage.options import NOT_OLDER_THAN, parse_resource_version
from kubesim.components.apiserver.storage.predicate import Attrs, Predicate
from kubesim.components.apiserver.watchcache.budget import TimeBudget
from kubesim.components.apiserver.watchcache.indexed import (
    IndexedWatchers,
    exact_match,
    trigger_field,
    watch_scope,
)
from kubesim.components.apiserver.watchcache.settings import CacheSettings
from kubesim.components.apiserver.watchcache.watcher import CacheWatcher
from kubesim.components.apiserver.watchcache.window import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    MODIFIED,
    CacheEvent,
    EventWindow,
    TooOld,
)
from kubesim.components.etcd.backend import Response, WatchStream
from kubesim.components.etcd.errors import EtcdError

Obj = dict[str, Any]
LIST_PAGE = 10_000  # the reflector's page size when (re)filling the cache


class Clock(Protocol):
    """What the cache needs from its actor (an actor's ``ctx`` is one)."""

    def now(self) -> float: ...

    def sleep(self, delay: float) -> Awaitable[None]: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


@dataclass(frozen=True)
class _Element:
    obj: Obj
    attrs: Attrs


class WatchCache:
    def __init__(self, store: ResourceStore, clock: Clock,
                 settings: CacheSettings | None = None) -> None:
        self.store = store
        self.kind = store.kind
        self.clock = clock
        self.settings = settings or CacheSettings()
        self.prefix = keys.resource_prefix(self.kind)
        self.resource_version = 0
        self._attrs = Predicate(self.kind).attrs
        self._objects: SortedDict = SortedDict()
        s = self.settings
        self._window = EventWindow(s.lower_bound_capacity, s.upper_bound_capacity,
                                   s.event_fresh_duration)
        self._trigger = trigger_field(self.kind)
        self._watchers = IndexedWatchers()
        self._budget = TimeBudget(s.dispatch_budget, s.dispatch_budget_refresh_per_second,
                                  clock.now())
        self._ready = asyncio.Event()
        self._advanced = asyncio.Event()
        self._stream: WatchStream | None = None
        self._last_processed = 0  # the revision bookmarks carry
        self._fresh_waiters = 0
        self._progress_task: asyncio.Task[Any] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the reflector and the bookmark timer; return once the first list is in."""
        self._tasks = [self.clock.spawn(self._reflect()), self.clock.spawn(self._bookmarks())]
        await self._ready.wait()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._stream is not None:
            await self._stream.cancel()
        self._terminate_all()

    # ------------------------------------------------------------------ reflector
    async def _reflect(self) -> None:
        while not self._stopping:
            try:
                await self._relist()
            except (status.APIError, EtcdError):
                await self.clock.sleep(self.settings.relist_backoff)
                continue
            while not self._stopping:
                outcome = await self._watch_from(self.resource_version)
                if outcome == "compacted":
                    break  # the revision we would resume from is gone: re-list
                await self.clock.sleep(self.settings.relist_backoff)  # then resume the watch

    async def _relist(self) -> None:
        self._ready.clear()
        self._terminate_all()
        items: list[Obj] = []
        page = ListOptions(limit=LIST_PAGE)
        while True:
            listed = await self.store.list("", page)
            items.extend(listed["items"])
            token = listed["metadata"].get("continue")
            if not token:
                break
            page = ListOptions(limit=LIST_PAGE, continue_token=token)
        revision = int(listed["metadata"]["resourceVersion"])
        self._objects = SortedDict({_key(self.kind, o): _Element(o, self._attrs(o)) for o in items})
        self._window.reset(revision)
        self._set_revision(revision)
        self._last_processed = revision
        self._ready.set()

    async def _watch_from(self, revision: int) -> str:
        """Follow etcd from ``revision`` + 1: "compacted", "broken" (ended) or "failed"."""
        start = self.prefix.encode()
        try:
            stream = await self.store.backend.watch({
                "key": start, "range_end": keys.prefix_end(start), "start_revision": revision + 1,
                "prev_kv": True, "progress_notify": True})
        except EtcdError:
            return "failed"
        self._stream = stream
        try:
            while True:
                resp = await stream.next()
                if resp is None:
                    return "broken"
                if resp.get("canceled"):
                    return "compacted" if resp.get("compact_revision") else "broken"
                if not resp.get("created"):
                    await self._process(resp)
        finally:
            self._stream = None

    async def _process(self, resp: Response) -> None:
        events = resp.get("events") or []
        if not events:  # a progress notification: everything up to here was seen
            revision = int(resp["header"]["revision"])
            if revision > self.resource_version:
                self._last_processed = revision
                self._set_revision(revision)
            return
        for ev in events:
            cache_event = self._apply(ev)
            if cache_event is not None:
                await self._dispatch(cache_event)

    def _apply(self, ev: dict[str, Any]) -> CacheEvent | None:
        kv = ev["kv"]
        key = kv["key"].decode()
        revision = int(kv["mod_revision"])
        if revision <= self.resource_version:
            return None  # seen already
        prev = self._objects.get(key)
        now = self.clock.now()
        if ev.get("type", "PUT") == "PUT":
            obj = codec.decode(kv["value"], revision)
            attrs = self._attrs(obj)
            kind = ADDED if prev is None else MODIFIED
            event = CacheEvent(kind, key, obj, attrs, prev.obj if prev else None,
                               prev.attrs if prev else None, revision, now)
            self._objects[key] = _Element(obj, attrs)
        else:
            prev_kv = ev.get("prev_kv")
            if prev_kv:
                last = codec.decode(prev_kv["value"], revision)
            elif prev is not None:
                last = codec.with_version(prev.obj, revision)
            else:
                last = None
            self._objects.pop(key, None)
            if last is None:
                event = None  # a key the cache never held: nothing to tell
            else:
                attrs = prev.attrs if prev is not None else self._attrs(last)
                event = CacheEvent(DELETED, key, last, attrs, last, attrs, revision, now)
        if event is not None:
            self._window.add(event)
        self._last_processed = revision
        self._set_revision(revision)
        return event

    def _set_revision(self, revision: int) -> None:
        self.resource_version = revision
        self._advanced.set()
        self._advanced = asyncio.Event()

    # ------------------------------------------------------------------ dispatch
    async def _dispatch(self, event: CacheEvent) -> None:
        blocked = [w for w in self._candidates(event) if w.wants(event) and not w.add(event)]
        if not blocked:
            return
        started = self.clock.now()
        budget = self._budget.take_available(started)
        for watcher in blocked:
            added = False
            while not added:
                remaining = budget - (self.clock.now() - started)
                if remaining > 0:
                    await self._wait(watcher.wait_for_space(), remaining)
                added = watcher.add(event)
                if not added and remaining <= 0:
                    self._terminate(watcher)  # could not keep up
                    break
        self._budget.return_unused(budget - (self.clock.now() - started))

    def _candidates(self, event: CacheEvent) -> list[CacheWatcher]:
        """``startDispatching``: the watchers of the event's scopes and trigger values."""
        assert event.attrs is not None
        fields = event.attrs[1]
        values: list[str] | None = None
        if self._trigger is not None:
            values = [fields.get(self._trigger, "")]
            if event.prev_attrs is not None:
                previous = event.prev_attrs[1].get(self._trigger, "")
                if previous != values[0]:
                    values.append(previous)
        return self._watchers.for_event(fields.get("metadata.namespace", ""),
                                        fields.get("metadata.name", ""), values)

    async def _wait(self, awaitable: Awaitable[Any], timeout: float) -> bool:
        """Await ``awaitable`` for at most ``timeout`` simulated seconds; True if it finished."""
        waiter = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
            return waiter.done()
        finally:
            waiter.cancel()
            timer.cancel()

    def _terminate(self, watcher: CacheWatcher) -> None:
        watcher.terminate()
        self._forget(watcher)

    def _terminate_all(self) -> None:
        for watcher in self._watchers:
            self._terminate(watcher)

    def _forget(self, watcher: CacheWatcher) -> None:
        self._watchers.remove(watcher)

    # ------------------------------------------------------------------ bookmarks
    async def _bookmarks(self) -> None:
        while not self._stopping:
            await self.clock.sleep(self.settings.bookmark_tick)
            now = self.clock.now()
            for watcher in self._watchers:
                if watcher.deadline is not None and now >= watcher.deadline:
                    self._terminate(watcher)
            bookmark = CacheEvent(BOOKMARK, "", self._bookmark_object(), None, None, None,
                                  self._last_processed, now)
            for watcher in self._watchers:
                if watcher.allow_bookmarks and (watcher.wants_end_bookmark()
                                                or watcher.next_bookmark <= now):
                    watcher.add(bookmark)
                    watcher.next_bookmark = self._next_bookmark(watcher, now)

    def _bookmark_object(self) -> Obj:
        return {"kind": self.kind.kind, "apiVersion": self.kind.api_version,
                "metadata": {"resourceVersion": str(self._last_processed),
                             "creationTimestamp": None}}

    def _next_bookmark(self, watcher: CacheWatcher, now: float) -> float:
        """``nextBookmarkTime``: every bookmark_frequency, or 2 s before the deadline; never
        again once that moment has passed."""
        due = now + self.settings.bookmark_frequency
        if watcher.deadline is not None:
            due = min(due, watcher.deadline - 2.0)
        return due if due >= now else math.inf

    # ------------------------------------------------------------------ freshness
    async def _storage_revision(self) -> int:
        """``GetCurrentResourceVersionFromStorage``: etcd's revision, read linearizably."""
        start = self.prefix.encode()
        resp = await self.store.ops.call("range", {
            "key": start, "range_end": keys.prefix_end(start), "limit": 1, "keys_only": True})
        return int(resp["header"]["revision"])

    async def wait_until_fresh(self, revision: int) -> None:
        """``waitUntilFreshAndBlock``: until the cache is at ``revision``; 504 "Too large
        resource version" after block_timeout."""
        if self.resource_version >= revision:
            return
        deadline = self.clock.now() + self.settings.block_timeout
        self._fresh_waiters += 1
        if self._progress_task is None:
            self._progress_task = self.clock.spawn(self._request_progress())
        try:
            while self.resource_version < revision:
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    raise too_large_resource_version(revision, self.resource_version,
                                                     self.settings.too_high_retry_seconds)
                await self._wait(self._advanced.wait(), remaining)
        finally:
            self._fresh_waiters -= 1

    async def _request_progress(self) -> None:
        """``conditionalProgressRequester``: while reads wait, ask etcd for progress."""
        try:
            while self._fresh_waiters > 0 and not self._stopping:
                await self.clock.sleep(self.settings.progress_request_period)
                if self._stream is not None and self._fresh_waiters > 0:
                    # a send on the watch stream: the loop does not wait for the answer
                    self.clock.spawn(self._stream.request_progress())
        finally:
            self._progress_task = None

    # ------------------------------------------------------------------ reads
    async def list(self, namespace: str, options: ListOptions | None = None) -> Obj:
        options = options or ListOptions()
        if _delegate_list(options) or not self.ready:
            return await self.store.list(namespace, options)
        consistent = options.resource_version == ""
        target = await self._storage_revision() if consistent else options.min_resource_version
        try:
            await self.wait_until_fresh(target)
        except status.APIError:
            if not consistent:
                raise
            return await self.store.list(namespace, options)  # the consistent-read fallback
        pred = Predicate.of(self.kind, options)
        namespace = namespace or (pred.single_namespace() or "" if self.kind.namespaced else "")
        items = [e.obj for e in self._range(keys.list_prefix(self.kind, namespace))
                 if pred.matches_attrs(e.attrs)]
        return list_object(self.kind, items, self.resource_version)

    def _range(self, prefix: str) -> list[_Element]:
        end = keys.prefix_end(prefix.encode()).decode()
        return [self._objects[k] for k in self._objects.irange(prefix, end, (True, False))]

    async def get(self, namespace: str, name: str, resource_version: str = "") -> Obj:
        """A get: from etcd for resourceVersion "", else from the cache once it is at least
        that fresh."""
        revision = parse_resource_version(resource_version)
        if not resource_version or not self.ready:
            return await self.store.get(namespace, name)
        await self.wait_until_fresh(revision)
        element = self._objects.get(self.store.key(namespace, name).decode())
        if element is None:
            raise status.not_found(self.kind.resource, name, self.kind.group)
        return deep_copy(element.obj)

    def cached_state(self, key: bytes) -> State | None:
        """``GetByKey`` for an update to start from (``Cacher.GuaranteedUpdate``): the object
        the cache holds under ``key`` with its bytes and revision, or None. It may be behind
        etcd: the update's compare-and-swap finds out."""
        if not self.ready:
            return None
        element = self._objects.get(key.decode())
        if element is None:
            return None
        obj = element.obj
        return State(obj, codec.encode(obj), int(obj["metadata"]["resourceVersion"]))

    def current(self, namespace: str, name: str) -> Obj | None:
        """The object the cache holds now (read-only; None if it holds none or is not
        ready): the state a write starts from, as the Cacher hands it to GuaranteedUpdate."""
        if not self.ready:
            return None
        element = self._objects.get(self.store.key(namespace, name).decode())
        return None if element is None else element.obj

    # ------------------------------------------------------------------ watch
    async def watch(self, namespace: str, options: ListOptions | None = None) -> CacheWatcher:
        options = options or ListOptions()
        requested = options.min_resource_version
        await self._ready.wait()
        pred = Predicate.of(self.kind, options)
        namespace = namespace or (pred.single_namespace() or "" if self.kind.namespaced else "")
        prefix = keys.list_prefix(self.kind, namespace)
        now = self.clock.now()
        deadline = None if options.timeout_seconds is None else now + options.timeout_seconds
        send = options.send_initial_events
        try:
            common = requested
            if send is not None and not options.resource_version:
                common = await self._storage_revision()
            elif send is not None and requested == 0:
                common = self.resource_version
            if send:
                await self.wait_until_fresh(common)
        except status.APIError as e:
            return self._error_watcher(prefix, pred, e.status)
        bookmark_after = common if send and options.allow_watch_bookmarks else 0
        start = common if send is False else requested
        trigger_value = None if self._trigger is None else exact_match(pred, self._trigger)
        watcher = CacheWatcher(
            prefix=prefix, predicate=pred, start_rv=start,
            buffer_size=self.settings.suggested_buffer(
                self._window.capacity, self._trigger is not None, trigger_value is not None),
            allow_bookmarks=options.allow_watch_bookmarks, bookmark_after_rv=bookmark_after,
            deadline=deadline, forget=self._forget)
        # the interval and the registration happen with no await in between: no event is
        # missed nor repeated between the two
        if send or (send is None and requested == 0):
            watcher.start_rv = self.resource_version
            watcher.push_initial([{"type": ADDED, "object": e.obj} for e in self._range(prefix)
                                  if pred.matches_attrs(e.attrs)])
        else:
            try:
                since = self._window.since(start)
            except TooOld as e:
                return self._error_watcher(prefix, pred, status.gone(e.requested, e.oldest).status)
            watcher.push_history(since)
        watcher.next_bookmark = now if watcher.wants_end_bookmark() else \
            self._next_bookmark(watcher, now)
        self._watchers.add(watcher, watch_scope(namespace, pred), trigger_value)
        return watcher

    def _error_watcher(self, prefix: str, pred: Predicate, error: Obj) -> CacheWatcher:
        """``newErrWatcher``: one ERROR event, then the end."""
        watcher = CacheWatcher(prefix=prefix, predicate=pred, start_rv=0, buffer_size=1,
                               allow_bookmarks=False, bookmark_after_rv=0, deadline=None,
                               forget=self._forget)
        watcher.push_initial([{"type": ERROR, "object": error}])
        watcher.terminate()
        return watcher

    def watcher_count(self) -> int:
        return len(self._watchers)


def _key(kind: Any, obj: Obj) -> str:
    metadata = obj["metadata"]
    return keys.object_key(kind, metadata.get("namespace", ""), metadata["name"]).decode()


def _delegate_list(options: ListOptions) -> bool:
    """``shouldDelegateList`` (1.32, ConsistentListFromCache on): lists the cache does not
    serve go to etcd."""
    if options.continue_token:
        return True
    if options.limit > 0 and options.resource_version != "0":
        return True
    return options.resource_version_match not in ("", NOT_OLDER_THAN)
