"""The ReplicaSet controller (pkg/controller/replicaset/replica_set.go, v1.32).

Keeps `spec.replicas` active pods per ReplicaSet: claims pods by selector and
ownerReference, creates missing pods in slow-start batches (1, 2, 4, ... stopping at the
first failing batch, at most burstReplicas = 500 per sync) and deletes surplus pods in
the order of `pods.rank_for_deletion` (unscheduled, pending, not ready, cheap to delete,
doubled up on a node with related pods, recently ready, restarting, young first).
Expectations stop a sync from acting again before the informer has seen its own creations
and deletions. Status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
observedGeneration, the ReplicaFailure condition) is written through `status`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubesim.api import meta, selectors
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj, split_meta_namespace_key
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import (
    Controller,
    ControllerContext,
    api_errors,
    object_key,
    unwrap,
)
from kubesim.components.controllers.expectations import UIDTrackingExpectations
from kubesim.components.controllers.indexes import CONTROLLER_UID, controller_uid_index, orphan_key
from kubesim.components.controllers.ownership import ControllerRefManager

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


async def slow_start_batch(cc: ControllerContext, count: int,
                           create: Callable[[], Awaitable[None]]) -> tuple[int, APIError | None]:
    """controller.slowStartBatch: run `create()` count times in doubling batches.

    Returns (successes, the first error of the first failing batch).
    """
    remaining, successes, batch = count, 0, min(count, SLOW_START_INITIAL_BATCH)
    while batch > 0:
        results = await cc.ctx.gather(*(create() for _ in range(batch)))
        errors = api_errors(results)
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def set_condition(status: Obj, cond: Obj) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    status["conditions"] = [*conditions, cond]


def remove_condition(status: Obj, cond_type: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != cond_type]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


class ReplicaSetController(Controller):
    name = "replicaset"
    resource = "replicasets.apps"
    kind = "ReplicaSet"

    def __init__(self, cc: ControllerContext, workers: int = 5) -> None:
        super().__init__(cc, workers)
        self.expectations = UIDTrackingExpectations()
        self.recorder = EventRecorder(cc.client, cc.ctx, "replicaset-controller", cc.now)
        self.rs_informer = cc.informers.informer(self.resource, indexers={CONTROLLER_UID: controller_uid_index})
        self.pod_informer = cc.informers.informer("pods", indexers={CONTROLLER_UID: controller_uid_index})
        self.rs_informer.add_event_handler(EventHandler(
            on_add=lambda rs: self.enqueue(object_key(rs)),
            on_update=lambda old, cur: self.enqueue(object_key(cur)),
            on_delete=self._delete_rs))
        self.pod_informer.add_event_handler(EventHandler(
            on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod))

    # -- event handlers -------------------------------------------------------------------
    def _delete_rs(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = object_key(obj)
        self.expectations.delete(key)
        self.enqueue(key)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        """resolveControllerRef: the ReplicaSet a controllerRef names, if it is ours."""
        if ref is None or ref.get("kind") != self.kind:
            return None
        rs = self.rs_informer.indexer.get_by_key(f"{namespace}/{ref.get('name')}")
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return rs

    def _pod_replicasets(self, pod: Obj) -> list[Obj]:
        """GetPodReplicaSets: ReplicaSets in the pod's namespace whose selector matches it."""
        md = pod["metadata"]
        out = []
        for rs in self.rs_informer.indexer.by_index("namespace", md.get("namespace", "")):
            try:
                sel = selectors.from_label_selector(rs["spec"].get("selector"))
            except selectors.SelectorError:
                continue
            if not sel.empty() and sel.matches(md.get("labels")):
                out.append(rs)
        return out

    def _add_pod(self, pod: Obj) -> None:
        if meta.is_being_deleted(pod):
            self._delete_pod(pod)
            return
        ref = meta.controller_of(pod)
        if ref is not None:
            rs = self._resolve(pod["metadata"].get("namespace", ""), ref)
            if rs is not None:
                key = object_key(rs)
                self.expectations.creation_observed(key)
                self.enqueue(key)
            return
        for rs in self._pod_replicasets(pod):
            self.enqueue(object_key(rs))

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        label_changed = old["metadata"].get("labels") != cur["metadata"].get("labels")
        if meta.is_being_deleted(cur):
            self._delete_pod(cur)
            if label_changed:
                self._delete_pod(old)
            return
        cur_ref, old_ref = meta.controller_of(cur), meta.controller_of(old)
        ref_changed = cur_ref != old_ref
        namespace = cur["metadata"].get("namespace", "")
        if ref_changed and old_ref is not None:
            rs = self._resolve(namespace, old_ref)
            if rs is not None:
                self.enqueue(object_key(rs))
        if cur_ref is not None:
            rs = self._resolve(namespace, cur_ref)
            if rs is None:
                return
            self.enqueue(object_key(rs))
            min_ready = rs["spec"].get("minReadySeconds", 0)
            if not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur) and min_ready > 0:
                self.enqueue_after(object_key(rs), min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self._pod_replicasets(cur):
                self.enqueue(object_key(rs))

    def _delete_pod(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = unwrap(obj)
        rs = self._resolve(pod["metadata"].get("namespace", ""), meta.controller_of(pod))
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed_of(key, object_key(pod))
        self.enqueue(key)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_meta_namespace_key(key)
        rs = self.rs_informer.indexer.get_by_key(key)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key, self.cc.now())
        try:
            selector = selectors.from_label_selector(rs["spec"].get("selector"))
        except selectors.SelectorError:
            return
        # FilterPodsByOwner (v1.31+): the pods it controls and the namespace's orphans, from
        # the controller-uid index, not a scan of every pod in the namespace
        owned = self.pod_informer.indexer.by_index(CONTROLLER_UID, rs["metadata"].get("uid", ""))
        orphans = self.pod_informer.indexer.by_index(CONTROLLER_UID, orphan_key(namespace))
        candidates = [p for p in (*owned, *orphans) if podutil.is_pod_active(p)]
        manager = ControllerRefManager(self.client, rs, self.resource,
                                       lambda p: selector.matches(p["metadata"].get("labels")))
        filtered = await manager.claim("pods", candidates)
        manage_err: APIError | None = None
        if needs_sync and not meta.is_being_deleted(rs):
            manage_err = await self._manage_replicas(filtered, rs)
        new_status = self._calculate_status(rs, filtered, manage_err)
        updated = await self._update_status(rs, new_status)
        spec = updated["spec"]
        st = updated.get("status") or {}
        min_ready = spec.get("minReadySeconds", 0)
        if (manage_err is None and min_ready > 0 and st.get("readyReplicas", 0) == spec.get("replicas", 1)
                and st.get("availableReplicas", 0) != spec.get("replicas", 1)):
            self.enqueue_after(key, min_ready)
        if manage_err is not None:
            raise manage_err

    async def _manage_replicas(self, filtered: list[Obj], rs: Obj) -> APIError | None:
        key = object_key(rs)
        diff = len(filtered) - rs["spec"].get("replicas", 1)
        if diff < 0:
            want = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, want, self.cc.now())
            successes, err = await slow_start_batch(self.cc, want, lambda: self._create_pod(rs))
            for _ in range(want - successes):
                self.expectations.creation_observed(key)
            return err
        if diff > 0:
            diff = min(diff, BURST_REPLICAS)
            related = self._indirectly_related_pods(rs)
            victims = filtered
            if diff < len(filtered):
                ranks = podutil.ranks_by_related_pods_on_node(filtered, related)
                victims = podutil.rank_for_deletion(filtered, ranks, self.cc.now())
            victims = victims[:diff]
            self.expectations.expect_deletions_of(key, [object_key(p) for p in victims], self.cc.now())
            errors = api_errors(await self.ctx.gather(*(self._delete_pod_of(rs, p) for p in victims)))
            return errors[0] if errors else None
        return None

    async def _create_pod(self, rs: Obj) -> None:
        pod = podutil.pod_from_template(rs["spec"]["template"], rs)
        try:
            created = await self.client.create("pods", pod, rs["metadata"]["namespace"])
        except APIError as err:
            causes = (err.status.get("details") or {}).get("causes") or []
            if any(c.get("reason") == NAMESPACE_TERMINATING_CAUSE for c in causes):
                return
            self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {err.message}")
            raise
        self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod_of(self, rs: Obj, pod: Obj) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete("pods", md["namespace"], md["name"])
        except APIError as err:
            self.expectations.deletion_observed_of(object_key(rs), object_key(pod))
            if err.code == 404:
                return
            self.recorder.event(rs, "Warning", "FailedDelete", f"Error deleting: {err.message}")
            raise
        self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']}")

    def _indirectly_related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet that shares this one's controller (its Deployment)."""
        ref = meta.controller_of(rs)
        owners = [rs]
        if ref is not None:
            owners = self.rs_informer.indexer.by_index(CONTROLLER_UID, ref.get("uid", ""))
        related: dict[str, Obj] = {}
        for owner in owners:
            for pod in self.pod_informer.indexer.by_index(CONTROLLER_UID, owner["metadata"]["uid"]):
                related[pod["metadata"]["uid"]] = pod
        return [related[uid] for uid in sorted(related)]

    def _calculate_status(self, rs: Obj, filtered: list[Obj], manage_err: APIError | None) -> Obj:
        st = deep_copy(rs.get("status") or {})
        template_labels = selectors.selector_from_set((rs["spec"]["template"].get("metadata") or {}).get("labels"))
        min_ready = rs["spec"].get("minReadySeconds", 0)
        now = self.cc.now()
        labeled = sum(1 for p in filtered if template_labels.matches(p["metadata"].get("labels")))
        ready = [p for p in filtered if podutil.is_pod_ready(p)]
        available = sum(1 for p in ready if podutil.is_pod_available(p, min_ready, now))
        failure = podutil.condition(rs, "ReplicaFailure")
        if manage_err is not None and failure is None:
            diff = len(filtered) - rs["spec"].get("replicas", 1)
            reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
            set_condition(st, {"type": "ReplicaFailure", "status": "True",
                               "lastTransitionTime": self.cc.timestamp(), "reason": reason,
                               "message": manage_err.message})
        elif manage_err is None and failure is not None:
            remove_condition(st, "ReplicaFailure")
        st.update(replicas=len(filtered), fullyLabeledReplicas=labeled, readyReplicas=len(ready),
                  availableReplicas=available)
        return st

    async def _update_status(self, rs: Obj, new_status: Obj) -> Obj:
        """updateReplicaSetStatus: write only on change, one retry on a conflict."""
        old = rs.get("status") or {}
        generation = rs["metadata"].get("generation", 0)
        fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
        if (all(old.get(f, 0) == new_status.get(f, 0) for f in fields)
                and old.get("observedGeneration", 0) == generation
                and old.get("conditions") == new_status.get("conditions")):
            return rs
        new_status["observedGeneration"] = generation
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            body = deep_copy(rs)
            body["status"] = new_status
            try:
                return await self.client.update(self.resource, body, "status")
            except APIError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                rs = await self.client.get(self.resource, rs["metadata"]["namespace"], rs["metadata"]["name"])
        return rs
