"""Reading and writing ResourceQuotas for admission.

After ``kubernetes/plugin/pkg/admission/resourcequota/resource_access.go``: quotas come
from the watch cache (with a live list when it has none for the namespace, see
:class:`~kubesim.components.apiserver.admission.live_lookup.LiveListFallback`); a quota
this apiserver has just written is taken from its own look-aside cache while the watch
cache still holds an older resourceVersion, so back-to-back admissions do not read a
stale ``status.used`` and lose a round to a certain conflict.
"""

from __future__ import annotations

from kubesim.components.apiserver.admission.attributes import Obj
from kubesim.components.apiserver.admission.interfaces import (
    RESOURCE_QUOTAS,
    ActorContext,
    Lister,
    QuotaStatusUpdater,
)
from kubesim.components.apiserver.admission.live_lookup import ExpiringLRU, LiveListFallback
from kubesim.components.apiserver.admission.resourcequota.check import QuotaDoc

LIVE_LOOKUP_CAPACITY = 100
UPDATED_QUOTAS_CAPACITY = 100


def _resource_version(obj: Obj) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class QuotaAccessor:
    """``quotaAccessor``: ``get_quotas`` of a namespace and ``update_quota_status``."""

    def __init__(self, lister: Lister, ctx: ActorContext, update_status: QuotaStatusUpdater):
        self._ctx = ctx
        self._quotas = LiveListFallback(lister, ctx, RESOURCE_QUOTAS, LIVE_LOOKUP_CAPACITY)
        self._update_status = update_status
        self._updated = ExpiringLRU(UPDATED_QUOTAS_CAPACITY)

    async def get_quotas(self, namespace: str) -> list[QuotaDoc]:
        return [QuotaDoc.of(self._newest(obj)) for obj in await self._quotas.list(namespace)]

    async def update_quota_status(self, quota: QuotaDoc) -> None:
        stored = await self._update_status(quota.to_obj())
        self._updated.add(f"{quota.namespace}/{quota.name}", stored)

    def _newest(self, obj: Obj) -> Obj:
        """``checkCache``: our own last write if the cache has not caught up with it."""
        meta = obj["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        written = self._updated.get(key, self._ctx.now())
        if written is None:
            return obj
        if _resource_version(obj) >= _resource_version(written):
            self._updated.remove(key)
            return obj
        return written
