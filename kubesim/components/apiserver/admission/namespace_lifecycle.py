"""NamespaceLifecycle: no new content in a missing or terminating namespace, and the
immortal namespaces cannot be deleted.

After ``k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go`` (a
mutating plugin in kube-apiserver 1.32). A namespace missing from the watch cache gets a
50 ms grace for the cache to catch up, then a live read of storage; a namespace this
apiserver has just deleted is read live for 30 s even if the cache still shows it Active.
"""

from __future__ import annotations

from kubesim.api import status
from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation, forbidden
from kubesim.components.apiserver.admission.interfaces import (
    NAMESPACES,
    ActorContext,
    Lister,
    Plugin,
)
from kubesim.components.apiserver.admission.live_lookup import LIVE_LOOKUP_TTL, ExpiringLRU

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
MISSING_NAMESPACE_WAIT = 0.05  # missingNamespaceWait
FORCE_LIVE_LOOKUP_CAPACITY = 100
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"  # v1.NamespaceTerminatingCause


class NamespaceLifecycle(Plugin):
    name = "NamespaceLifecycle"
    operations = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

    def __init__(self, lister: Lister, ctx: ActorContext):
        self._lister = lister
        self._ctx = ctx
        self._force_live_lookup = ExpiringLRU(FORCE_LIVE_LOOKUP_CAPACITY)

    async def admit(self, attrs: Attributes) -> None:
        is_namespace = attrs.is_kind("", "Namespace")
        if attrs.operation == Operation.DELETE and is_namespace and attrs.name in IMMORTAL_NAMESPACES:
            raise status.forbidden(attrs.resource, attrs.name, "this namespace may not be deleted",
                                   attrs.group)
        if not attrs.namespace and not is_namespace:
            return  # cluster-scoped
        if is_namespace:
            if attrs.operation == Operation.DELETE:
                self._force_live_lookup.add(attrs.name, True, self._ctx.now() + LIVE_LOOKUP_TTL)
            return
        if attrs.operation == Operation.DELETE:
            return

        namespace = await self._lister.get(NAMESPACES, "", attrs.namespace)
        if namespace is None and attrs.operation == Operation.CREATE:
            # Give the cache time to observe a namespace created just before this request.
            await self._ctx.sleep(MISSING_NAMESPACE_WAIT)
            namespace = await self._lister.get(NAMESPACES, "", attrs.namespace)
        force_live = (namespace is not None and _phase(namespace) == "Active"
                      and self._force_live_lookup.get(attrs.namespace, self._ctx.now()) is not None)
        if namespace is None or force_live:
            namespace = await self._lister.get(NAMESPACES, "", attrs.namespace, live=True)
            if namespace is None:
                raise status.not_found(NAMESPACES, attrs.namespace)

        if attrs.operation == Operation.CREATE and _phase(namespace) == "Terminating":
            err = forbidden(attrs, f"unable to create new content in namespace {attrs.namespace} "
                                   "because it is being terminated")
            err.status["details"].setdefault("causes", []).append({
                "reason": NAMESPACE_TERMINATING_CAUSE,
                "message": f"namespace {attrs.namespace} is being terminated",
                "field": "metadata.namespace"})
            raise err


def _phase(namespace: Obj) -> str:
    return str((namespace.get("status") or {}).get("phase") or "")
