"""The ResourceQuota controller (pkg/controller/resourcequota, v1.32).

It keeps each ResourceQuota's `status.hard` equal to `spec.hard` and `status.used` equal
to what the namespace's objects consume (`quota.CalculateUsage` with the evaluators the
apiserver's quota admission uses). The apiserver charges usage at admission time, but
refuses any quota whose `status.hard` is still empty, so a new quota only starts to
enforce once this controller has computed it.

Two queues as upstream: `resourcequota_priority` for quotas missing usage for a hard
resource (new or edited quotas) and `resourcequota_primary` for the rest; both run the
same sync. A quota is recalculated when it is added or its `spec.hard` changes, when an
object it counts is deleted (replenishment: a pod that reaches Succeeded/Failed, a Service
whose quota type changes, any deletion), and on the full resync every
`--resource-quota-sync-period` (5 min). The quota monitor watches every namespaced
resource that can be listed, watched and deleted (events excepted), through the shared
informers the garbage collector also uses. A pod stuck terminating for its grace period
past its deletionTimestamp counts only in `count/pods` (QuotaV1Pod), from the next full
resync on.
"""

from __future__ import annotations

from kubesim.api import kinds, meta
from kubesim.api.copying import deep_copy
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.resourcequota.check import QuotaDoc
from kubesim.components.apiserver.admission.resourcequota.evaluators import (
    IGNORED_RESOURCES,
    Registry,
    object_count_name,
)
from kubesim.components.client.events import EventHandler
from kubesim.components.client.store import DeletedFinalStateUnknown, Indexer, Obj
from kubesim.components.controllers.base import Controller, ControllerContext, object_key, unwrap
from kubesim.runtime.context import Timer

RESOURCE_QUOTAS = "resourcequotas"
#: --resource-quota-sync-period default.
RESYNC_PERIOD = 300.0
TERMINAL_PHASES = ("Succeeded", "Failed")


def monitored_resources() -> list[str]:
    """Namespaced resources that can be listed, watched and deleted, events excepted."""
    out = {kind.group_resource for kind in kinds.KINDS
           if kind.namespaced and {"list", "watch", "delete"} <= set(kind.verbs)
           and kind.group_resource not in IGNORED_RESOURCES and kind.group_resource != "events.events.k8s.io"}
    return sorted(out)


def quota_service_type(service: Obj) -> str:
    """GetQuotaServiceType: the type a Service is charged as ("" for ClusterIP and others)."""
    svc_type = (service.get("spec") or {}).get("type") or ""
    return svc_type if svc_type in ("NodePort", "LoadBalancer") else ""


def charged_as_live_pod(pod: Obj, now: float | None = None) -> bool:
    """QuotaV1Pod: a pod in a terminal phase is not charged, nor (given `now`, Unix
    seconds) one stuck terminating for its grace period past its deletionTimestamp (a
    lost node must not block scaling up elsewhere)."""
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False
    md = pod.get("metadata") or {}
    grace = md.get("deletionGracePeriodSeconds")
    if now is not None and md.get("deletionTimestamp") and grace is not None:
        return now <= meta.parse_timestamp(md["deletionTimestamp"]) + grace
    return True


class _PriorityQueue(Controller):
    """The `resourcequota_priority` queue: quotas missing usage, synced first."""

    name = "resourcequota_priority"

    def __init__(self, cc: ControllerContext, workers: int, owner: ResourceQuotaController) -> None:
        super().__init__(cc, workers)
        self.owner = owner

    async def sync(self, key: str) -> None:
        await self.owner.sync(key)


class ResourceQuotaController(Controller):
    """The `resourcequota_primary` queue, the priority queue and the quota monitor."""

    name = "resourcequota_primary"

    def __init__(self, cc: ControllerContext, workers: int = 5, resync_period: float = RESYNC_PERIOD) -> None:
        super().__init__(cc, workers)
        self.resync_period = resync_period
        self.registry = Registry()
        self.priority = _PriorityQueue(cc, workers, self)
        self._resync_timer: Timer | None = None
        self.quota_informer = cc.informers.informer(RESOURCE_QUOTAS)
        self.quota_informer.add_event_handler(EventHandler(
            on_add=self._add_quota, on_update=self._update_quota))
        self.listers: dict[str, Indexer] = {}
        for resource in monitored_resources():
            informer = cc.informers.informer(resource)
            self.listers[resource] = informer.indexer
            informer.add_event_handler(EventHandler(
                on_update=lambda old, cur, r=resource: self._object_updated(r, old, cur),
                on_delete=lambda obj, r=resource: self._object_deleted(r, obj)))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        super().start()
        self.priority.start()
        self._resync_timer = self.ctx.call_every(self.resync_period, self._enqueue_all)

    def stop(self) -> None:
        super().stop()
        self.priority.stop()
        if self._resync_timer is not None:
            self._resync_timer.cancel()
            self._resync_timer = None

    # -- event handlers -------------------------------------------------------------------
    def _add_quota(self, quota: Obj) -> None:
        """addQuota: a quota missing usage for any hard resource goes to the priority queue."""
        key = object_key(quota)
        spec_hard = (quota.get("spec") or {}).get("hard") or {}
        st = quota.get("status") or {}
        if spec_hard != (st.get("hard") or {}) or any(name not in (st.get("used") or {}) for name in spec_hard):
            self.priority.enqueue(key)
        else:
            self.enqueue(key)

    def _update_quota(self, old: Obj, cur: Obj) -> None:
        if rl.equals(rl.parse((old.get("spec") or {}).get("hard")), rl.parse((cur.get("spec") or {}).get("hard"))):
            return
        self._add_quota(cur)

    def _enqueue_all(self) -> None:
        for quota in self.quota_informer.indexer.list():
            self.enqueue(object_key(quota))

    def _object_updated(self, resource: str, old: Obj, cur: Obj) -> None:
        if resource == "pods":
            changed = charged_as_live_pod(old) and not charged_as_live_pod(cur)
        elif resource == "services":
            changed = quota_service_type(old) != quota_service_type(cur)
        else:
            return
        if changed:
            self._replenish(resource, cur)

    def _object_deleted(self, resource: str, obj: Obj | DeletedFinalStateUnknown) -> None:
        self._replenish(resource, unwrap(obj))

    def _replenish(self, resource: str, obj: Obj) -> None:
        """replenishQuota: requeue the namespace's quotas that track this resource."""
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        evaluator = self.registry.get(resource)
        for quota in self.quota_informer.indexer.by_index("namespace", namespace):
            hard = list((quota.get("status") or {}).get("hard") or {})
            if evaluator.matching_resources(hard):
                self.enqueue(object_key(quota))

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.quota_informer.indexer.get_by_key(key)
        if cached is None:
            return
        quota = deep_copy(cached)
        old = quota.get("status") or {}
        hard = rl.parse((quota.get("spec") or {}).get("hard"))
        used = rl.add({}, rl.parse(old.get("used")))
        used.update(self.calculate_usage(quota, hard))
        used = rl.mask(used, hard)
        old_used = rl.parse(old.get("used"))
        dirty = (old.get("hard") is None or old.get("used") is None
                 or not rl.equals(hard, rl.parse(old.get("hard"))) or not rl.equals(used, old_used))
        if not dirty:
            return
        quota["status"] = {"hard": rl.to_json(hard), "used": rl.to_json(used)}
        await self.client.update(RESOURCE_QUOTAS, quota, "status")

    def calculate_usage(self, quota: Obj, hard: rl.ResourceList) -> rl.ResourceList:
        """quota.CalculateUsage: the observed usage of every hard resource an evaluator knows."""
        namespace = quota["metadata"]["namespace"]
        scopes = QuotaDoc.of(quota).scopes()
        names = list(hard)
        now = self.cc.now()
        usage: rl.ResourceList = {}
        for resource, indexer in self.listers.items():
            evaluator = self.registry.get(resource)
            matched = evaluator.matching_resources(names)
            if not matched:
                continue
            stats: rl.ResourceList = {name: rl.ZERO for name in matched}
            for obj in indexer.by_index("namespace", namespace):
                if all(evaluator.matches_scope(scope, obj) for scope in scopes):
                    used = evaluator.usage(obj)
                    if resource == "pods" and not charged_as_live_pod(obj, now):
                        used = rl.mask(used, [object_count_name("pods")])
                    stats = rl.add(stats, rl.mask(used, matched))
            usage = rl.add(usage, stats)
        return rl.mask(usage, names)
