"""Caches the plugins keep beside their listers.

:class:`ExpiringLRU` is apimachinery's ``LRUExpireCache`` (``util/cache/lruexpirecache.go``):
a bounded LRU whose entries expire. :class:`LiveListFallback` is the pattern LimitRanger
(``GetLimitRanges``) and ResourceQuota (``quotaAccessor.GetQuotas``) share: when the
watch cache lists nothing for a namespace, the object may just not have reached the cache
yet, so list storage directly, remember the answer for a TTL, and let concurrent callers
for one namespace share one live list (``singleflight``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from kubesim.components.apiserver.admission.attributes import Obj
from kubesim.components.apiserver.admission.interfaces import ActorContext, Lister

LIVE_LOOKUP_TTL = 30.0  # liveTTL of LimitRanger and the quota accessor; forceLiveLookupTTL


class ExpiringLRU:
    """At most ``capacity`` entries; the least recently used one goes first."""

    def __init__(self, capacity: int):
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def add(self, key: str, value: Any, expires_at: float = float("inf")) -> None:
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, key: str, now: float) -> Any | None:
        """The live value, or None (an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def remove(self, key: str) -> None:
        self._entries.pop(key, None)


class LiveListFallback:
    """Lists ``resource`` in a namespace from the cache, falling back to a live list."""

    def __init__(self, lister: Lister, ctx: ActorContext, resource: str, capacity: int):
        self._lister = lister
        self._ctx = ctx
        self._resource = resource
        self._live = ExpiringLRU(capacity)
        self._in_flight: dict[str, asyncio.Future[list[Obj]]] = {}

    async def list(self, namespace: str) -> list[Obj]:
        items = await self._lister.list(self._resource, namespace)
        if items:
            return items
        cached = self._live.get(namespace, self._ctx.now())
        if cached is None:
            cached = await self._live_list(namespace)
        return list(cached)

    async def _live_list(self, namespace: str) -> list[Obj]:
        pending = self._in_flight.get(namespace)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[Obj]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._in_flight[namespace] = future
        try:
            items = await self._lister.list(self._resource, namespace, live=True)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            future.set_exception(err)
            raise
        finally:
            del self._in_flight[namespace]
        self._live.add(namespace, items, self._ctx.now() + LIVE_LOOKUP_TTL)
        future.set_result(items)
        return items


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a shared future's exception as retrieved when no other caller awaited it."""
    if not future.cancelled():
        future.exception()
