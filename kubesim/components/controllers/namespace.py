"""The namespace controller (pkg/controller/namespace, v1.32: namespace_controller.go and
deletion/namespaced_resources_deleter.go).

A namespace being deleted is processed 5 s after the event (namespaceDeletionGracePeriod,
so admission caches see it terminating first). Every namespaced resource that can be
listed and deleted is emptied item by item (background propagation); what remains is
reported in the namespace's conditions (NamespaceContentRemaining,
NamespaceFinalizersRemaining, with the upstream messages) and the namespace is retried
after the pods' longest grace period, or 15 s while finalizers hold content. Once nothing
is left the `kubernetes` finalizer is removed through `namespaces/finalize`, and the
apiserver deletes the namespace.
"""

from __future__ import annotations

from kubesim.api import defaults, kinds
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
)
from kubesim.components.controllers.base import Controller, ControllerContext, object_key
from kubesim.components.controllers.pods import phase

NAMESPACE_DELETION_GRACE_PERIOD = 5.0
#: finalizerEstimateSeconds: the wait while finalizers hold remaining content.
FINALIZER_ESTIMATE_SECONDS = 15
OK_CONDITIONS = (
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
     "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


def namespaced_resources() -> list[kinds.Kind]:
    """The namespaced resources a namespace deletion empties, in discovery order."""
    return [k for k in kinds.KINDS if k.namespaced and {"list", "delete"} <= set(k.verbs)]


class ResourcesRemaining(Exception):
    """ResourcesRemainingError: content is still going away; retry after `estimate` s."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, cc: ControllerContext, workers: int = 10) -> None:
        # nsControllerRateLimiter: 5 ms .. 60 s per item, 10 qps / burst 100 overall.
        limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 60.0),
                                   BucketRateLimiter(10.0, 100, cc.ctx.now))
        super().__init__(cc, workers, rate_limiter=limiter)
        self.ns_informer = cc.informers.informer("namespaces")
        self.ns_informer.add_event_handler(EventHandler(
            on_add=self._enqueue, on_update=lambda old, cur: self._enqueue(cur)))

    def _enqueue(self, ns: dict) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.enqueue_after(object_key(ns), NAMESPACE_DELETION_GRACE_PERIOD)

    async def sync(self, key: str) -> None:
        if self.ns_informer.indexer.get_by_key(key) is None:
            return
        try:
            await self._delete(key)
        except ResourcesRemaining as remaining:
            self.enqueue_after(key, remaining.estimate)

    async def _delete(self, name: str) -> None:
        """namespacedResourcesDeleter.Delete."""
        try:
            ns = await self.client.get("namespaces", "", name)
        except APIError as err:
            if err.code == 404:
                return
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns.setdefault("status", {})["phase"] = "Terminating"
            ns = await self.client.update("namespaces", ns, "status")
        if defaults.FINALIZER_KUBERNETES not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        estimate = await self._delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        body = deep_copy(ns)
        body["spec"]["finalizers"] = [f for f in body["spec"]["finalizers"] if f != defaults.FINALIZER_KUBERNETES]
        try:
            await self.client.update("namespaces", body, "finalize")
        except APIError as err:
            if err.code != 404:
                raise

    async def _delete_all_content(self, ns: dict) -> int:
        namespace = ns["metadata"]["name"]
        estimate = 0
        remaining: list[str] = []
        finalizers: dict[str, int] = {}
        for kind in namespaced_resources():
            resource = kind.group_resource
            grace = await self._estimate_pods(namespace) if resource == "pods" else 0
            listed = (await self.client.list(resource, namespace)).get("items") or []
            for item in listed:
                if item["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(resource, namespace, item["metadata"]["name"],
                                             propagation_policy="Background")
                except APIError as err:
                    if err.code != 404:
                        raise
            left = (await self.client.list(resource, namespace)).get("items") or []
            if not left:
                continue
            remaining.append(f"{kind.resource}.{kind.group} has {len(left)} resource instances")
            for item in left:
                for finalizer in item["metadata"].get("finalizers") or []:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
            if grace:
                estimate = max(estimate, grace)
            elif any(item["metadata"].get("finalizers") for item in left):
                estimate = max(estimate, FINALIZER_ESTIMATE_SECONDS)
        await self._update_conditions(ns, remaining, finalizers)
        return estimate

    async def _estimate_pods(self, namespace: str) -> int:
        """estimateGracefulTerminationForPods: the longest grace period of live pods."""
        pods = (await self.client.list("pods", namespace)).get("items") or []
        return max((int(p["spec"].get("terminationGracePeriodSeconds") or 0) for p in pods
                    if phase(p) not in ("Succeeded", "Failed")), default=0)

    async def _update_conditions(self, ns: dict, remaining: list[str], finalizers: dict[str, int]) -> None:
        stamp = self.cc.timestamp()
        old = {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}
        conditions = []
        for cond_type, reason, message in OK_CONDITIONS:
            status = "False"
            if cond_type == "NamespaceContentRemaining" and remaining:
                status, reason = "True", "SomeResourcesRemain"
                message = "Some resources are remaining: " + ", ".join(remaining)
            elif cond_type == "NamespaceFinalizersRemaining" and finalizers:
                status, reason = "True", "SomeFinalizersRemain"
                message = "Some content in the namespace has finalizers remaining: " + ", ".join(
                    f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
            prev = old.get(cond_type)
            if prev is not None and (prev["status"], prev.get("reason"), prev.get("message")) == (status, reason, message):
                conditions.append(prev)
            else:
                conditions.append({"type": cond_type, "status": status, "lastTransitionTime": stamp,
                                   "reason": reason, "message": message})
        if [old.get(c["type"]) for c in conditions] == conditions:
            return
        body = deep_copy(ns)
        body.setdefault("status", {})["conditions"] = conditions
        updated = await self.client.update("namespaces", body, "status")
        ns["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
