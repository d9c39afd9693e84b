"""A node's network link to the control plane, as a switch in front of its API client.

Node faults cut a node off the network without touching the control plane's actors: while
the link is down every request the node's agents make fails at once, as a connect to the
apiserver fails when the node's interface is down (`NodeNetworkDown`, a `CallTimeout`, so
callers handle it like any unanswered call), and the watches they hold end, so their
informers list and watch again with their usual backoff once the link is back. Work on
the node itself (containers, probes, restarts) goes on.

On the `sim` runtime a partition of the node's machine (`SimRuntime.partition`) has the same
effect on an actor-message client; this switch works on every runtime and client.
"""

from __future__ import annotations

from typing import Any

from kubesim.components.client.api import APIClient, Obj, WatchStream
from kubesim.runtime.errors import CallTimeout


class NodeNetworkDown(CallTimeout):
    """The node's network is down: the request never reached an apiserver."""


class _GatedWatch:
    """A watch stream that ends when the link goes down."""

    def __init__(self, link: NetworkLink, stream: WatchStream) -> None:
        self._link = link
        self._stream = stream
        self.ended = False

    async def next(self) -> Obj | None:
        if self.ended:
            return None
        event = await self._stream.next()
        return None if self.ended else event

    async def stop(self) -> None:
        self.ended = True
        self._link._watches.pop(self, None)
        await self._stream.stop()


class NetworkLink:
    """An `APIClient` that passes requests through while `up`; see the module docstring."""

    def __init__(self, client: APIClient, node: str) -> None:
        self._client = client
        self.node = node
        self.up = True
        self._watches: dict[_GatedWatch, None] = {}  # insertion-ordered, for replay

    def cut(self) -> list[WatchStream]:
        """Take the link down; returns the streams it ended (the caller stops them)."""
        self.up = False
        ended = list(self._watches)
        for watch in ended:
            watch.ended = True
        self._watches.clear()
        return [w._stream for w in ended]

    def restore(self) -> None:
        self.up = True

    def _check(self, verb: str, resource: str) -> None:
        if not self.up:
            raise NodeNetworkDown(f"node {self.node}: {verb} {resource}: network is unreachable")

    async def get(self, resource: str, namespace: str, name: str, subresource: str = "") -> Obj:
        self._check("get", resource)
        return await self._client.get(resource, namespace, name, subresource=subresource)

    async def list(self, resource: str, namespace: str = "", **kwargs: Any) -> Obj:
        self._check("list", resource)
        return await self._client.list(resource, namespace, **kwargs)

    async def watch(self, resource: str, namespace: str = "", **kwargs: Any) -> WatchStream:
        self._check("watch", resource)
        stream = await self._client.watch(resource, namespace, **kwargs)
        gated = _GatedWatch(self, stream)
        if not self.up:  # the link went down while the watch was being opened
            gated.ended = True
            await stream.stop()
        else:
            self._watches[gated] = None
        return gated

    async def create(self, resource: str, obj: Obj, namespace: str = "", subresource: str = "",
                     dry_run: bool = False) -> Obj:
        self._check("create", resource)
        return await self._client.create(resource, obj, namespace, subresource=subresource, dry_run=dry_run)

    async def update(self, resource: str, obj: Obj, subresource: str = "") -> Obj:
        self._check("update", resource)
        return await self._client.update(resource, obj, subresource=subresource)

    async def patch(self, resource: str, namespace: str, name: str, body: Any,
                    patch_type: str = "application/strategic-merge-patch+json", subresource: str = "") -> Obj:
        self._check("patch", resource)
        return await self._client.patch(resource, namespace, name, body, patch_type=patch_type,
                                        subresource=subresource)

    async def delete(self, resource: str, namespace: str, name: str, **kwargs: Any) -> Obj:
        self._check("delete", resource)
        return await self._client.delete(resource, namespace, name, **kwargs)
