"""Shared informers: client-go's SharedInformerFactory and Reflector, driven by an actor.

One `SharedInformerFactory` per component (kube-controller-manager, kubelet, kube-proxy,
scheduler) shares one `Informer` per watched resource among all its users, so a resource
is listed and watched once however many controllers read it.

API::

    factory = SharedInformerFactory(client, ctx, resync_period=0.0, epoch=0.0)
        # client: an APIClient; ctx: the owning actor's Context (tasks, timers, now, random)
    inf = factory.informer("pods", namespace="", field_selector="spec.nodeName=n1",
                           label_selector="", resync_period=None, indexers={...})
        # the shared Informer for that (resource, namespace, selectors); asking again returns
        # the same one (extra indexers are added to it); register handlers with
        # inf.add_event_handler(EventHandler(on_add=..., on_update=..., on_delete=...))
    lister = factory.lister("pods")              # Lister over the same informer's Indexer
    lister.get(namespace, name) -> Obj | None
    lister.list(namespace=None, selector=None)   # None: every namespace / every object
    factory.start()                              # starts reflectors not yet started (idempotent)
    factory.has_synced() -> bool                 # every started informer has listed once
    await factory.wait_for_cache_sync()          # returns once has_synced()
    factory.stop()                               # cancels reflectors, watches and timers

Each reflector follows client-go's `Reflector.ListAndWatch` (tools/cache/reflector.go, v1.32):
- list in pages of 500 (a resourceVersion="0" list is served whole from the watch cache), at
  the resourceVersion `Informer.relist_resource_version()` chooses; a 410 on a list from a
  given resourceVersion is retried at once as a consistent list (resourceVersion "");
- watch from the last resourceVersion seen with bookmarks and a server timeout drawn from
  [5 min, 10 min); a watch the server ends is re-established from where it left off; a
  watch that ends within a second with no event counts as a failure ("very short watch");
- an expired watch (410 Gone, as an ERROR event or when starting the watch) or any other
  failure makes the reflector list again, after the backoff every ListAndWatch restart waits
  (800 ms doubling to 30 s, jitter 1.0, reset after 2 min without failures); a 429 or a
  5xx when starting a watch is retried after the backoff without a relist;
- once the first list is applied, the informer's resync (if it has a period) runs on a timer.

Objects in the cache are shared between all handlers and listers: never mutate them; copy
first (`copy.deepcopy`) as client-go callers do with `DeepCopy()`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kubesim.api import status
from kubesim.api.selectors import LabelSelector
from kubesim.components.client.api import APIClient, Obj, WatchStream
from kubesim.components.client.events import Informer
from kubesim.components.client.store import NAMESPACE_INDEX, Indexer, IndexFunc
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import RuntimeErrorBase

#: client-go's reflector page size for initial lists (pager.PageSize default).
LIST_PAGE_SIZE = 500
#: minWatchTimeout: each watch asks the server to end it after [min, 2*min) seconds.
MIN_WATCH_TIMEOUT = 300.0
#: a watch that ends sooner than this without a single event is an error.
SHORT_WATCH = 1.0
#: the reflector's backoff manager: NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0).
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
BACKOFF_RESET = 120.0
BACKOFF_FACTOR = 2.0
BACKOFF_JITTER = 1.0


class Backoff:
    """wait.exponentialBackoffManagerImpl: the delay before each restart, pure."""

    def __init__(self) -> None:
        self._duration = BACKOFF_INITIAL
        self._last: float | None = None

    def next(self, now: float, uniform: float) -> float:
        """The delay to wait now; `uniform` is a draw from [0, 1) for the jitter."""
        if self._last is None or now - self._last > BACKOFF_RESET:
            self._duration = BACKOFF_INITIAL
        else:
            self._duration = min(self._duration * BACKOFF_FACTOR, BACKOFF_MAX)
        self._last = now
        return self._duration + uniform * BACKOFF_JITTER * self._duration


@dataclass(frozen=True)
class InformerKey:
    """What makes two informers the same: the resource and the list/watch options."""

    resource: str
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""


class Lister:
    """client-go's generated listers over an informer's Indexer (read-only, shared objects)."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.indexer.get_by_key(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None, selector: LabelSelector | None = None) -> list[Obj]:
        """Objects of `namespace` ("" for cluster-scoped, None for all) matching `selector`."""
        objs = self.indexer.list() if namespace is None else self.indexer.by_index(NAMESPACE_INDEX, namespace)
        if selector is None:
            return objs
        return [o for o in objs if selector.matches((o.get("metadata") or {}).get("labels"))]


class _Reflector:
    """ListAndWatch for one informer, as a task of the owning actor."""

    def __init__(self, factory: SharedInformerFactory, key: InformerKey, informer: Informer) -> None:
        self.factory = factory
        self.key = key
        self.informer = informer
        self.backoff = Backoff()
        self.task: asyncio.Task[None] | None = None
        self.stream: WatchStream | None = None
        self.resync_timer: Timer | None = None

    @property
    def ctx(self) -> Context:
        return self.factory.ctx

    @property
    def client(self) -> APIClient:
        return self.factory.client

    async def run(self) -> None:
        first = True
        while True:
            if not first:
                await self.ctx.sleep(self.backoff.next(self.ctx.now(), self.ctx.random.random()))
            first = False
            try:
                await self._list()
                await self._watch()
            except (status.APIError, RuntimeErrorBase):
                continue

    async def _list(self) -> None:
        rv = self.informer.relist_resource_version()
        try:
            items, list_rv = await self._paged_list(rv)
        except status.APIError as err:
            if err.code != 410 or rv in ("", "0"):
                raise
            self.informer.on_watch_event("ERROR", err.status)  # remembers the expiry
            items, list_rv = await self._paged_list(self.informer.relist_resource_version())
        self.informer.on_list(items, list_rv, self.ctx.now())
        self.factory._synced_one()
        self._schedule_resync()

    async def _paged_list(self, rv: str) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        token = ""
        while True:
            page = await self.client.list(
                self.key.resource,
                self.key.namespace,
                label_selector=self.key.label_selector,
                field_selector=self.key.field_selector,
                resource_version=rv if not token else "",
                limit=0 if rv == "0" else LIST_PAGE_SIZE,
                continue_token=token,
            )
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def _watch(self) -> None:
        """Watch until a relist is due (returns) or a failure (raises)."""
        while True:
            timeout = int(MIN_WATCH_TIMEOUT * (1.0 + self.ctx.random.random()))
            try:
                stream = await self.client.watch(
                    self.key.resource,
                    self.key.namespace,
                    label_selector=self.key.label_selector,
                    field_selector=self.key.field_selector,
                    resource_version=self.informer.resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=timeout,
                )
            except status.APIError as err:
                if err.code == 410:
                    self.informer.on_watch_event("ERROR", err.status)
                    return
                if err.code == 429 or err.code >= 500:
                    await self.ctx.sleep(self.backoff.next(self.ctx.now(), self.ctx.random.random()))
                    continue
                raise
            if not await self._consume(stream):
                return

    async def _consume(self, stream: WatchStream) -> bool:
        """Apply events until the stream ends; False when a relist is due."""
        self.stream = stream
        started = self.ctx.now()
        events = 0
        try:
            while True:
                event = await stream.next()
                if event is None:
                    if events == 0 and self.ctx.now() - started < SHORT_WATCH:
                        return False
                    return True
                events += 1
                if not self.informer.on_watch_event(event["type"], event["object"]):
                    await stream.stop()
                    return False
        finally:
            self.stream = None

    def _schedule_resync(self) -> None:
        if self.resync_timer is not None:
            self.resync_timer.cancel()
            self.resync_timer = None
        due = self.informer.tick(self.ctx.now())
        if due is not None:
            self.resync_timer = self.ctx.call_later(max(0.0, due - self.ctx.now()), self._schedule_resync)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.resync_timer is not None:
            self.resync_timer.cancel()
        if self.stream is not None:
            self.ctx.spawn(self.stream.stop())


class SharedInformerFactory:
    """informers.SharedInformerFactory for one actor; see the module docstring."""

    def __init__(self, client: APIClient, ctx: Context, *, resync_period: float = 0.0) -> None:
        self.client = client
        self.ctx = ctx
        self.resync_period = resync_period
        self._informers: dict[InformerKey, Informer] = {}
        self._reflectors: dict[InformerKey, _Reflector] = {}
        self._synced: asyncio.Event | None = None

    def informer(
        self,
        resource: str,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float | None = None,
        indexers: dict[str, IndexFunc] | None = None,
    ) -> Informer:
        key = InformerKey(resource, namespace, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            period = self.resync_period if resync_period is None else resync_period
            inf = Informer(Indexer(), resync_period=period)
            self._informers[key] = inf
        if indexers:
            missing = {n: f for n, f in indexers.items() if not inf.indexer.has_indexer(n)}
            if missing:
                inf.indexer.add_indexers(missing)
        return inf

    def lister(self, resource: str, *, namespace: str = "", label_selector: str = "",
               field_selector: str = "") -> Lister:
        return Lister(self.informer(resource, namespace=namespace, label_selector=label_selector,
                                    field_selector=field_selector).indexer)

    def start(self) -> None:
        for key, inf in self._informers.items():
            if key not in self._reflectors:
                reflector = _Reflector(self, key, inf)
                self._reflectors[key] = reflector
                reflector.task = self.ctx.spawn(reflector.run())

    def has_synced(self) -> bool:
        return bool(self._reflectors) and all(
            self._informers[key].has_synced for key in self._reflectors
        )

    async def wait_for_cache_sync(self) -> None:
        """cache.WaitForCacheSync over every started informer."""
        while not self.has_synced():
            if self._synced is None or self._synced.is_set():
                self._synced = asyncio.Event()
            await self._synced.wait()

    def stop(self) -> None:
        for reflector in self._reflectors.values():
            reflector.stop()
        self._reflectors.clear()

    def _synced_one(self) -> None:
        if self._synced is not None and self.has_synced():
            self._synced.set()
