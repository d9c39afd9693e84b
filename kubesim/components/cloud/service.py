"""The service controller of cloud-controller-manager (k8s.io/cloud-provider
controllers/service/controller.go, v1.32): a load balancer for each Service of type
LoadBalancer.

A Service that wants a load balancer (type LoadBalancer, no loadBalancerClass) first gets
the `service.kubernetes.io/load-balancer-cleanup` finalizer, then the cloud's
EnsureLoadBalancer (which returns once the load balancer is provisioned, after the
modelled delay), then `status.loadBalancer.ingress`. A Service being deleted, or changed
to another type, has its load balancer deleted, its status cleared and the finalizer
removed. The load balancer's hosts are the nodes with a provider ID that are not being
deleted, not labelled `node.kubernetes.io/exclude-from-external-load-balancers` and not
tainted `ToBeDeletedByClusterAutoscaler` (the StableLoadBalancerNodeSet predicates);
when that set changes every load-balanced Service is synced again. Events:
EnsuringLoadBalancer, EnsuredLoadBalancer, DeletingLoadBalancer, DeletedLoadBalancer,
SyncLoadBalancerFailed. Failures retry with the queue's backoff (5 s doubling to 5 min).
Each load balancer sync counts in service_controller_loadbalancer_sync_total.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj
from kubesim.components.client.workqueue import ItemExponentialFailureRateLimiter
from kubesim.components.cloud.provider import CloudProvider, CloudProviderError
from kubesim.components.controllers.base import Controller, ControllerContext, Requeue, object_key

LB_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
MERGE = "application/merge-patch+json"
#: minRetryDelay / maxRetryDelay of the service queue.
MIN_RETRY_DELAY = 5.0
MAX_RETRY_DELAY = 300.0


def wants_load_balancer(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass") is None


def has_finalizer(service: Obj) -> bool:
    return LB_CLEANUP_FINALIZER in ((service.get("metadata") or {}).get("finalizers") or [])


def needs_cleanup(service: Obj) -> bool:
    """needsCleanup: our finalizer is there and the Service is going or no longer wants one."""
    return has_finalizer(service) and (meta.is_being_deleted(service) or not wants_load_balancer(service))


def _lb_view(service: Obj) -> tuple[Any, ...]:
    spec = service.get("spec") or {}
    md = service.get("metadata") or {}
    return (wants_load_balancer(service), spec.get("ports"), spec.get("loadBalancerSourceRanges"),
            spec.get("externalTrafficPolicy"), spec.get("loadBalancerIP"), md.get("annotations"),
            md.get("uid"), bool(md.get("deletionTimestamp")), md.get("finalizers"))


def needs_update(old: Obj, new: Obj) -> bool:
    """needsUpdate: something the load balancer is built from changed."""
    return _lb_view(old) != _lb_view(new)


def node_included(node: Obj) -> bool:
    """The StableLoadBalancerNodeSet predicates."""
    if meta.is_being_deleted(node) or not (node.get("spec") or {}).get("providerID"):
        return False
    if EXCLUDE_LABEL in ((node.get("metadata") or {}).get("labels") or {}):
        return False
    taints = (node.get("spec") or {}).get("taints") or []
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)


class ServiceController(Controller):
    name = "service"

    def __init__(self, cc: ControllerContext, cloud: CloudProvider, workers: int = 1) -> None:
        super().__init__(cc, workers, ItemExponentialFailureRateLimiter(MIN_RETRY_DELAY, MAX_RETRY_DELAY))
        self.cloud = cloud
        self.recorder = EventRecorder(cc.client, cc.ctx, "service-controller", cc.now)
        self.syncs = cc.ctx.metrics.counter(
            "service_controller_loadbalancer_sync_total",
            "[ALPHA] A metric counting the amount of times any load balancer has been configured, "
            "as an effect of service/node changes on the cluster")
        self.svc_informer = cc.informers.informer("services")
        self.node_informer = cc.informers.informer("nodes")
        self.svc_informer.add_event_handler(EventHandler(
            on_add=self._add_service, on_update=self._update_service))
        self.node_informer.add_event_handler(EventHandler(
            on_add=lambda n: self._node_changed(None, n), on_update=self._node_changed,
            on_delete=self._node_deleted))

    # -- event handlers -------------------------------------------------------------------
    def _add_service(self, svc: Obj) -> None:
        if wants_load_balancer(svc) or needs_cleanup(svc):
            self.enqueue(object_key(svc))

    def _update_service(self, old: Obj, cur: Obj) -> None:
        if needs_update(old, cur) or needs_cleanup(cur):
            self.enqueue(object_key(cur))

    def _node_changed(self, old: Obj | None, cur: Obj) -> None:
        if (old is not None and node_included(old)) != node_included(cur):
            self._sync_all_load_balancers()

    def _node_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self._sync_all_load_balancers()

    def _sync_all_load_balancers(self) -> None:
        """nodeSyncLoop: the host set changed, so every load balancer is updated."""
        for svc in self.svc_informer.indexer.list():
            if wants_load_balancer(svc) and has_finalizer(svc):
                self.enqueue(object_key(svc))

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.svc_informer.indexer.get_by_key(key)
        if cached is None:
            return  # the finalizer made sure its load balancer went before it did
        svc = deep_copy(cached)
        try:
            if needs_cleanup(svc):
                self.syncs.inc()
                await self._cleanup(svc)
            elif wants_load_balancer(svc):
                self.syncs.inc()
                await self._ensure(svc)
        except CloudProviderError as err:
            self.recorder.event(svc, "Warning", "SyncLoadBalancerFailed", f"Error syncing load balancer: {err}")
            raise Requeue(str(err)) from err

    def hosts(self) -> list[Obj]:
        return [n for n in self.node_informer.indexer.list() if node_included(n)]

    async def _ensure(self, svc: Obj) -> None:
        md = svc["metadata"]
        if not has_finalizer(svc):
            patched = await self.client.patch("services", md["namespace"], md["name"], {"metadata": {
                "finalizers": [*(md.get("finalizers") or []), LB_CLEANUP_FINALIZER],
                "resourceVersion": md["resourceVersion"]}}, MERGE)
            svc["metadata"] = patched["metadata"]
        self.recorder.event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        status = await self.cloud.ensure_load_balancer(svc, self.hosts())
        self.recorder.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        if ((svc.get("status") or {}).get("loadBalancer") or {}) != status:
            await self.client.patch("services", md["namespace"], md["name"],
                                    {"status": {"loadBalancer": status}}, MERGE, "status")

    async def _cleanup(self, svc: Obj) -> None:
        md = svc["metadata"]
        self.recorder.event(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        await self.cloud.ensure_load_balancer_deleted(svc)
        self.recorder.event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        if (svc.get("status") or {}).get("loadBalancer"):
            await self.client.patch("services", md["namespace"], md["name"],
                                    {"status": {"loadBalancer": {"ingress": None}}}, MERGE, "status")
        fresh = await self.client.get("services", md["namespace"], md["name"])
        rest = [f for f in fresh["metadata"].get("finalizers") or [] if f != LB_CLEANUP_FINALIZER]
        await self.client.patch("services", md["namespace"], md["name"], {"metadata": {
            "finalizers": rest or None, "resourceVersion": fresh["metadata"]["resourceVersion"]}}, MERGE)
