"""The interface every in-cluster client (scheduler, controllers, kubelet, kube-proxy, load
generator) uses to reach the apiserver: client-go's dynamic client in spirit.

Resources are named as kubectl names them on the wire: the plural resource, qualified by its
group unless it is in the core group (`pods`, `nodes`, `deployments.apps`,
`endpointslices.discovery.k8s.io`, `leases.coordination.k8s.io`). Objects are plain dicts
as the API serves them. Every failure is an `kubesim.api.status.APIError` carrying the
metav1.Status the apiserver answered (404 NotFound, 409 Conflict/AlreadyExists, 410 Gone,
422 Invalid, 429 TooManyRequests, 500/503/504 when no replica answers), so callers branch on
`err.code` / `err.reason` as client-go callers branch on `apierrors.IsConflict(err)`.

Implementations: the apiserver package provides one that sends each request to an apiserver
replica as an actor message (the in-process fast path) and one over HTTP for real clusters.
"""

from __future__ import annotations

from typing import Any, Protocol

Obj = dict[str, Any]


class WatchStream(Protocol):
    """A watch as the caller sees it. `next()` returns the next event
    (`{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}`; an ERROR
    event's object is a metav1.Status, e.g. 410 Gone) or None once the server ended the
    watch (timeout, replica gone, too slow): the caller then watches again from the last
    resourceVersion it saw, or lists again after a 410."""

    async def next(self) -> Obj | None: ...

    async def stop(self) -> None: ...


class APIClient(Protocol):
    async def get(self, resource: str, namespace: str, name: str, subresource: str = "") -> Obj: ...

    async def list(
        self,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> Obj:
        """A `<Kind>List`: `items`, `metadata.resourceVersion`, `metadata.continue`."""
        ...

    async def watch(
        self,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> WatchStream: ...

    async def create(
        self, resource: str, obj: Obj, namespace: str = "", subresource: str = "", dry_run: bool = False
    ) -> Obj:
        """Create `obj` (namespace from the object unless given); with `subresource` (e.g.
        `binding` on `pods`, `eviction`), `obj` is the subresource's body and the URL's
        name is `obj["metadata"]["name"]`."""
        ...

    async def update(self, resource: str, obj: Obj, subresource: str = "") -> Obj:
        """PUT: optimistic concurrency on `obj.metadata.resourceVersion` (409 Conflict)."""
        ...

    async def patch(
        self,
        resource: str,
        namespace: str,
        name: str,
        body: Any,
        patch_type: str = "application/strategic-merge-patch+json",
        subresource: str = "",
    ) -> Obj: ...

    async def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        """The object as deletion left it (with deletionTimestamp while graceful deletion or
        finalizers keep it) or a Success Status once it is gone."""
        ...
