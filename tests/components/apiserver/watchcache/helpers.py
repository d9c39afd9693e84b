"""Test support: a watch cache over an in-process etcd, driven on the sim runtime (virtual time,
so block timeouts and bookmark periods cost nothing)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kubesim.api import kinds
from kubesim.components.apiserver.storage import ListOptions, ResourceStore
from kubesim.components.apiserver.watchcache import CacheSettings, CacheWatcher, WatchCache
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.context import Context
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.store_backend import StoreBackend

EPOCH = 1_700_000_000.0
HOST = Address("apiserver", "a0")
T = TypeVar("T")


class Host(Actor):
    """Owns the tasks of the caches under test; receives nothing."""

    def receive(self, sender: Address, message: Any) -> Any:
        raise ValueError(f"unexpected message {message!r}")


def kind(resource: str, group: str = "") -> kinds.Kind:
    return next(k for k in kinds.KINDS if (k.group, k.resource) == (group, resource))


class Env:
    """One in-process etcd, stores and caches on it, and the host actor's context."""

    def __init__(self, ctx: Context, backend: Any) -> None:
        self.ctx = ctx
        self.backend = backend
        self.rng = random.Random(1)

    def store(self, resource: str = "pods", group: str = "") -> ResourceStore:
        return ResourceStore(kind(resource, group), self.backend,
                             now=lambda: EPOCH + self.ctx.now(), rng=self.rng)

    async def cache(self, resource: str = "pods", group: str = "",
                    settings: CacheSettings | None = None) -> WatchCache:
        cache = WatchCache(self.store(resource, group), self.ctx, settings)
        await cache.start()
        return cache


def run_sim(scenario: Callable[[Env], Awaitable[T]], seed: int = 1, backend: Any = None,
            limit: float = 3_600.0) -> T:
    rt = SimRuntime(seed=seed)
    rt.add_machine(Machine("cp-0", "zone-a", "control-plane"))
    rt.spawn(ActorSpec(HOST, Host, "cp-0", {}))
    with rt:
        async def main(r: SimRuntime) -> T:
            env = Env(r.actor(HOST).ctx, backend or StoreBackend())
            return await scenario(env)

        return rt.run(main, limit=limit)


async def drain(watcher: CacheWatcher, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events (fewer if the watch ends first)."""
    out = []
    while len(out) < count:
        event = await watcher.next()
        if event is None:
            break
        out.append(event)
    return out


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of each event."""
    return [(e["type"], e["object"]["metadata"].get("name", ""),
             e["object"]["metadata"].get("resourceVersion", "")) for e in events]


def query(k: kinds.Kind | None = None, **params: str) -> ListOptions:
    return ListOptions.from_query(k or kind("pods"), params)
