"""In-memory stand-ins for what the handler injects into admission: a store with a watch
cache that can lag behind it, the quota status writer, and an actor context."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Coroutine
from typing import Any

from kubesim.api import status
from kubesim.components.apiserver.admission import (
    LIMIT_RANGES,
    NAMESPACES,
    PRIORITY_CLASSES,
    RESOURCE_QUOTAS,
    Attributes,
    Operation,
)

Obj = dict[str, Any]


class FakeCtx:
    """Virtual time that moves only when admission sleeps; tasks on the running loop."""

    def __init__(self) -> None:
        self.time = 0.0
        self.slept: list[float] = []
        self.on_sleep: list[Any] = []  # callables run when a sleep ends

    def now(self) -> float:
        return self.time

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.time += delay
        for hook in self.on_sleep:
            hook()
        await asyncio.sleep(0)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro)


class FakeStore:
    """Objects by resource and (namespace, name), plus the cache view the Lister serves.

    ``auto_sync`` makes every write visible in the cache at once; without it the cache
    changes only on :meth:`sync`. ``rng`` adds random yields to reads and writes so
    concurrent admissions interleave differently per seed; ``slow_writes`` makes every
    status write yield once first, so concurrent writers all read before any writes.
    """

    def __init__(self, auto_sync: bool = True, rng: random.Random | None = None,
                 slow_writes: bool = False) -> None:
        self.stored: dict[str, dict[tuple[str, str], Obj]] = {}
        self.cache: dict[str, dict[tuple[str, str], Obj]] = {}
        self.revision = 0
        self.auto_sync = auto_sync
        self.rng = rng
        self.slow_writes = slow_writes
        self.live_reads: list[tuple[str, str]] = []
        self.status_writes = 0
        self.conflicts = 0

    async def _yield(self) -> None:
        for _ in range(self.rng.randrange(4) if self.rng else 0):
            await asyncio.sleep(0)

    def put(self, resource: str, obj: Obj, cached: bool = True) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        self.revision += 1
        meta["resourceVersion"] = str(self.revision)
        key = (meta.get("namespace", ""), meta["name"])
        self.stored.setdefault(resource, {})[key] = obj
        if cached and self.auto_sync:
            self.cache.setdefault(resource, {})[key] = copy.deepcopy(obj)
        return copy.deepcopy(obj)

    def sync(self) -> None:
        self.cache = copy.deepcopy(self.stored)

    def stored_obj(self, resource: str, namespace: str, name: str) -> Obj:
        return self.stored[resource][(namespace, name)]

    async def get(self, resource: str, namespace: str, name: str, *,
                  live: bool = False) -> Obj | None:
        await self._yield()
        if live:
            self.live_reads.append((resource, namespace))
        obj = (self.stored if live else self.cache).get(resource, {}).get((namespace, name))
        return copy.deepcopy(obj)

    async def list(self, resource: str, namespace: str, *, live: bool = False) -> list[Obj]:
        await self._yield()
        if live:
            self.live_reads.append((resource, namespace))
        objects = (self.stored if live else self.cache).get(resource, {})
        return [copy.deepcopy(objects[key]) for key in sorted(objects) if key[0] == namespace]

    async def update_quota_status(self, quota: Obj) -> Obj:
        """PUT resourcequotas/<name>/status with resourceVersion as precondition."""
        await self._yield()
        if self.slow_writes:
            await asyncio.sleep(0)
        meta = quota["metadata"]
        current = self.stored[RESOURCE_QUOTAS].get((meta["namespace"], meta["name"]))
        if current is None:
            raise status.not_found(RESOURCE_QUOTAS, meta["name"])
        if current["metadata"]["resourceVersion"] != meta["resourceVersion"]:
            self.conflicts += 1
            raise status.conflict(RESOURCE_QUOTAS, meta["name"])
        self.status_writes += 1
        updated = copy.deepcopy(current)
        updated["status"] = copy.deepcopy(quota["status"])
        return self.put(RESOURCE_QUOTAS, updated)


def namespace(name: str, phase: str = "Active") -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
            "status": {"phase": phase}}


def pod(name: str = "p", ns: str = "ns", containers: list[Obj] | None = None, **spec: Any) -> Obj:
    ctrs = containers if containers is not None else [{"name": "app", "image": "nginx",
                                                       "resources": {}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": ctrs, **spec}}


def container(name: str = "app", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def priority_class(name: str, value: int, global_default: bool = False,
                   policy: str = "PreemptLowerPriority") -> Obj:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": global_default,
            "preemptionPolicy": policy}


def limit_range(name: str, *items: Obj, ns: str = "ns") -> Obj:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name, "namespace": ns},
            "spec": {"limits": list(items)}}


def quota(name: str, hard: dict[str, str], used: dict[str, str] | None = None, ns: str = "ns",
          **spec: Any) -> Obj:
    """A ResourceQuota whose status the quota controller has already computed."""
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": ns},
            "spec": {"hard": dict(hard), **spec},
            "status": {"hard": dict(hard),
                       "used": dict(used) if used is not None else {k: "0" for k in hard}}}


def create(obj: Obj, resource: str, group: str = "", dry_run: bool = False) -> Attributes:
    meta = obj["metadata"]
    return Attributes(Operation.CREATE, resource, group=group, kind=obj["kind"],
                      namespace=meta.get("namespace", ""), name=meta["name"], object=obj,
                      dry_run=dry_run)


def update(obj: Obj, old: Obj, resource: str, group: str = "") -> Attributes:
    meta = obj["metadata"]
    return Attributes(Operation.UPDATE, resource, group=group, kind=obj["kind"],
                      namespace=meta.get("namespace", ""), name=meta["name"], object=obj,
                      old_object=old)


__all__ = ["LIMIT_RANGES", "NAMESPACES", "PRIORITY_CLASSES", "RESOURCE_QUOTAS", "FakeCtx",
           "FakeStore", "container", "create", "limit_range", "namespace", "pod",
           "priority_class", "quota", "update"]
