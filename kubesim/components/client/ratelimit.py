"""client-go's client-side rate limiting: every request of a clientset waits for a token of
its own bucket (``flowcontrol.NewTokenBucketRateLimiter`` from the rest config's QPS and
Burst). kube-scheduler (``clientConnection.qps`` / ``burst``: 50 / 100) builds separate
clientsets for its API calls, its events and its leader election;
kube-controller-manager (``--kube-api-qps`` / ``--kube-api-burst``: 20 / 30) builds one per
controller (``ClientBuilder.ClientOrDie(name)``) and one for the shared informers. Each gets
its own :class:`RateLimitedClient`.
"""

from __future__ import annotations

from typing import Any

from kubesim.components.client.api import APIClient, Obj, WatchStream
from kubesim.components.client.workqueue import BucketRateLimiter
from kubesim.runtime.context import Context


class RateLimitedClient:
    """An :class:`APIClient` whose requests each take a token first."""

    def __init__(self, client: APIClient, ctx: Context, qps: float, burst: int) -> None:
        self.client = client
        self.ctx = ctx
        self.limiter = BucketRateLimiter(qps, burst, ctx.now)

    async def _token(self) -> None:
        delay = self.limiter.when(None)
        if delay > 0:
            await self.ctx.sleep(delay)

    async def get(self, resource: str, namespace: str, name: str, subresource: str = "") -> Obj:
        await self._token()
        return await self.client.get(resource, namespace, name, subresource)

    async def list(self, resource: str, namespace: str = "", **options: Any) -> Obj:
        await self._token()
        return await self.client.list(resource, namespace, **options)

    async def watch(self, resource: str, namespace: str = "", **options: Any) -> WatchStream:
        await self._token()
        return await self.client.watch(resource, namespace, **options)

    async def create(self, resource: str, obj: Obj, namespace: str = "", subresource: str = "",
                     dry_run: bool = False) -> Obj:
        await self._token()
        return await self.client.create(resource, obj, namespace, subresource, dry_run)

    async def update(self, resource: str, obj: Obj, subresource: str = "") -> Obj:
        await self._token()
        return await self.client.update(resource, obj, subresource)

    async def patch(self, resource: str, namespace: str, name: str, body: Any,
                    patch_type: str = "application/strategic-merge-patch+json",
                    subresource: str = "") -> Obj:
        await self._token()
        return await self.client.patch(resource, namespace, name, body, patch_type, subresource)

    async def delete(self, resource: str, namespace: str, name: str, **options: Any) -> Obj:
        await self._token()
        return await self.client.delete(resource, namespace, name, **options)
