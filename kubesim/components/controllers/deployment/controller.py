"""The Deployment controller (pkg/controller/deployment, v1.32): deployment_controller.go,
sync.go, rolling.go, recreate.go and progress.go.

A sync claims the Deployment's ReplicaSets, then either only updates status (being
deleted), scales proportionally (paused, or a scaling event: some active ReplicaSet's
desired-replicas annotation differs from spec.replicas), or rolls out:
- RollingUpdate: grow the new ReplicaSet (named `<deployment>-<pod-template-hash>`) while
  the total stays within replicas + maxSurge; shrink old ones, unhealthy replicas first,
  while available pods stay at least replicas - maxUnavailable;
- Recreate: scale every old ReplicaSet to 0, wait until none of their pods runs, then
  create and scale up the new one.
Old ReplicaSets beyond revisionHistoryLimit are deleted once the rollout is complete.
Status carries replicas / updated / ready / available / unavailable counts and the
Available and Progressing conditions; without progress for progressDeadlineSeconds the
Progressing condition turns False with ProgressDeadlineExceeded. Rollback through the
deprecated extensions/v1beta1 rollbackTo is not modelled.

Status writes carry on from the resourceVersion the previous write returned, where the
upstream controller reuses its stale copy and retries after a conflict.
"""

from __future__ import annotations

from kubesim.api import meta, selectors
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import (
    Controller,
    ControllerContext,
    Requeue,
    object_key,
    unwrap,
)
from kubesim.components.controllers.deployment import util
from kubesim.components.controllers.indexes import CONTROLLER_UID, controller_uid_index
from kubesim.components.controllers.ownership import ControllerRefManager

DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"
#: maxRetries of the deployment controller's work queue.
MAX_RETRIES = 15


class DeploymentController(Controller):
    name = "deployment"
    max_retries = MAX_RETRIES

    def __init__(self, cc: ControllerContext, workers: int = 5) -> None:
        super().__init__(cc, workers)
        self.recorder = EventRecorder(cc.client, cc.ctx, "deployment-controller", cc.now)
        self.d_informer = cc.informers.informer(DEPLOYMENTS)
        self.rs_informer = cc.informers.informer(REPLICASETS, indexers={CONTROLLER_UID: controller_uid_index})
        self.pod_informer = cc.informers.informer("pods", indexers={CONTROLLER_UID: controller_uid_index})
        self.d_informer.add_event_handler(EventHandler(
            on_add=self._enqueue_obj, on_update=lambda old, cur: self._enqueue_obj(cur),
            on_delete=self._enqueue_obj))
        self.rs_informer.add_event_handler(EventHandler(
            on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs))
        self.pod_informer.add_event_handler(EventHandler(on_delete=self._delete_pod))

    # -- event handlers -------------------------------------------------------------------
    def _enqueue_obj(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.enqueue(object_key(obj))

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.indexer.get_by_key(f"{namespace}/{ref.get('name')}")
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _deployments_for_rs(self, rs: Obj) -> list[Obj]:
        md = rs["metadata"]
        out = []
        for d in self.d_informer.indexer.by_index("namespace", md.get("namespace", "")):
            try:
                sel = selectors.from_label_selector(d["spec"].get("selector"))
            except selectors.SelectorError:
                continue
            if not sel.empty() and sel.matches(md.get("labels")):
                out.append(d)
        return out

    def _add_rs(self, rs: Obj) -> None:
        if meta.is_being_deleted(rs):
            self._delete_rs(rs)
            return
        ref = meta.controller_of(rs)
        if ref is not None:
            d = self._resolve(rs["metadata"].get("namespace", ""), ref)
            if d is not None:
                self._enqueue_obj(d)
            return
        for d in self._deployments_for_rs(rs):
            self._enqueue_obj(d)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        namespace = cur["metadata"].get("namespace", "")
        cur_ref, old_ref = meta.controller_of(cur), meta.controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            d = self._resolve(namespace, old_ref)
            if d is not None:
                self._enqueue_obj(d)
        if cur_ref is not None:
            d = self._resolve(namespace, cur_ref)
            if d is not None:
                self._enqueue_obj(d)
            return
        if ref_changed or old["metadata"].get("labels") != cur["metadata"].get("labels"):
            for d in self._deployments_for_rs(cur):
                self._enqueue_obj(d)

    def _delete_rs(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        rs = unwrap(obj)
        d = self._resolve(rs["metadata"].get("namespace", ""), meta.controller_of(rs))
        if d is not None:
            self._enqueue_obj(d)

    def _delete_pod(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A Recreate deployment waits for its old pods to go: sync when the last one does."""
        pod = unwrap(obj)
        namespace = pod["metadata"].get("namespace", "")
        ref = meta.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.indexer.get_by_key(f"{namespace}/{ref.get('name')}")
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return
        d = self._resolve(namespace, meta.controller_of(rs))
        if d is None or d["spec"].get("strategy", {}).get("type") != "Recreate":
            return
        owned = self.rs_informer.indexer.by_index(CONTROLLER_UID, d["metadata"]["uid"])
        if not any(self.pod_informer.indexer.by_index(CONTROLLER_UID, r["metadata"]["uid"]) for r in owned):
            self._enqueue_obj(d)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.d_informer.indexer.get_by_key(key)
        if cached is None:
            return
        d = deep_copy(cached)
        if d["spec"].get("selector") == {}:
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if d.get("status", {}).get("observedGeneration", 0) < d["metadata"].get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"]["generation"]
                await self._update_status(d)
            return
        rs_list = await self._claim_replicasets(d)
        if meta.is_being_deleted(d):
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
            await self._sync_status(d, [*old_rss, new_rs], new_rs)
            return
        await self._check_paused_conditions(d)
        if d["spec"].get("paused"):
            await self._scale_sync(d, rs_list)
            return
        if await self._is_scaling_event(d, rs_list):
            await self._scale_sync(d, rs_list)
            return
        if d["spec"].get("strategy", {}).get("type") == "Recreate":
            await self._rollout_recreate(d, rs_list)
        else:
            await self._rollout_rolling(d, rs_list)

    async def _claim_replicasets(self, d: Obj) -> list[Obj]:
        namespace = d["metadata"]["namespace"]
        try:
            selector = selectors.from_label_selector(d["spec"].get("selector"))
        except selectors.SelectorError:
            return []
        manager = ControllerRefManager(self.client, d, DEPLOYMENTS,
                                       lambda rs: selector.matches(rs["metadata"].get("labels")))
        return await manager.claim(REPLICASETS, self.rs_informer.indexer.by_index("namespace", namespace))

    def _pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """getPodMapForDeployment: the deployment's pods by owning ReplicaSet uid."""
        selector = selectors.from_label_selector(d["spec"].get("selector"))
        pod_map: dict[str, list[Obj]] = {rs["metadata"]["uid"]: [] for rs in rs_list}
        for rs_uid, pods in pod_map.items():
            pods.extend(p for p in self.pod_informer.indexer.by_index(CONTROLLER_UID, rs_uid)
                        if selector.matches(p["metadata"].get("labels")))
        return pod_map

    async def _update_status(self, d: Obj) -> None:
        updated = await self.client.update(DEPLOYMENTS, d, "status")
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]

    async def _check_paused_conditions(self, d: Obj) -> None:
        if not util.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = util.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == util.TIMED_OUT:
            return
        paused_cond = cond is not None and cond.get("reason") == util.PAUSED
        if d["spec"].get("paused") and not paused_cond:
            util.set_condition(status, util.new_condition(
                "Progressing", "Unknown", util.PAUSED, "Deployment is paused", self.cc.timestamp()))
        elif not d["spec"].get("paused") and paused_cond:
            util.set_condition(status, util.new_condition(
                "Progressing", "Unknown", util.RESUMED, "Deployment is resumed", self.cc.timestamp()))
        else:
            return
        await self._update_status(d)

    async def _new_and_old(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision."""
        old_rss = util.find_old_rss(d, rs_list)
        return await self._get_new_rs(d, rs_list, old_rss, create), old_rss

    async def _get_new_rs(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = util.find_new_rs(d, rs_list)
        new_revision = util.max_revision(old_rss) + 1
        status = d.setdefault("status", {})
        if existing is not None:
            rs = deep_copy(existing)
            annotations_updated = util.set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = d["spec"].get("minReadySeconds", 0)
            if annotations_updated or rs["spec"].get("minReadySeconds", 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return await self.client.update(REPLICASETS, rs)
            needs_update = util.set_deployment_revision(d, rs["metadata"]["annotations"].get(util.REVISION, ""))
            if util.has_progress_deadline(d) and util.get_condition(status, "Progressing") is None:
                util.set_condition(status, util.new_condition(
                    "Progressing", "True", util.FOUND_NEW_RS, f'Found new replica set "{rs["metadata"]["name"]}"',
                    self.cc.timestamp()))
                needs_update = True
            if needs_update:
                await self._update_status(d)
            return rs
        if not create:
            return None
        template = deep_copy(d["spec"]["template"])
        pod_hash = podutil.compute_hash(template, status.get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), util.POD_TEMPLATE_HASH: pod_hash}
        selector = deep_copy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[util.POD_TEMPLATE_HASH] = pod_hash
        new_rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"{d['metadata']['name']}-{pod_hash}", "namespace": d["metadata"]["namespace"],
            "ownerReferences": [podutil.controller_ref(d)], "labels": dict(tmeta["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                     "selector": selector, "template": template}}
        new_count = util.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = new_count
        util.set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, new_rs, d["metadata"]["namespace"])
        except APIError as err:
            if err.code == 409 and err.reason == "AlreadyExists":
                found = self.rs_informer.indexer.get_by_key(f"{d['metadata']['namespace']}/{new_rs['metadata']['name']}")
                if found is None:
                    raise
                ref = meta.controller_of(found)
                if ref is not None and ref.get("uid") == d["metadata"]["uid"] and util.equal_ignore_hash(
                        d["spec"]["template"], found["spec"]["template"]):
                    created, already_exists = found, True
                else:
                    status["collisionCount"] = status.get("collisionCount", 0) + 1
                    await self._update_status(d)
                    raise
            elif any(c.get("reason") == "NamespaceTerminating"
                     for c in (err.status.get("details") or {}).get("causes") or []):
                raise
            else:
                msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {err.message}'
                if util.has_progress_deadline(d):
                    util.set_condition(status, util.new_condition(
                        "Progressing", "False", util.FAILED_RS_CREATE, msg, self.cc.timestamp()))
                    try:
                        await self._update_status(d)
                    except APIError:
                        pass
                self.recorder.event(d, "Warning", util.FAILED_RS_CREATE, msg)
                raise
        if not already_exists and new_count > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {created['metadata']['name']} from 0 to {new_count}")
        needs_update = util.set_deployment_revision(d, str(new_revision))
        if not already_exists and util.has_progress_deadline(d):
            util.set_condition(status, util.new_condition(
                "Progressing", "True", util.NEW_REPLICA_SET,
                f'Created new replica set "{created["metadata"]["name"]}"', self.cc.timestamp()))
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return created

    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        for rs in util.active([*old_rss, new_rs]):
            annotations = rs["metadata"].get("annotations") or {}
            desired = annotations.get(util.DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != util.replicas(d):
                return True
        return False

    # -- scaling --------------------------------------------------------------------------
    async def _scale_sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """sync: scale proportionally, clean up when paused, update status."""
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        await self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        target = util.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if util.replicas(target) != util.replicas(d):
                await self._scale_rs_and_record(target, util.replicas(d), d)
            return
        if util.is_saturated(d, new_rs):
            for old in util.active(old_rss):
                await self._scale_rs_and_record(old, 0, d)
            return
        if not util.is_rolling_update(d):
            return
        all_rss = util.active([*old_rss, new_rs])
        allowed = util.replicas(d) + util.max_surge(d) if util.replicas(d) > 0 else 0
        to_add = allowed - util.total_replicas(all_rss)
        operation = ""
        if to_add > 0:
            all_rss, operation = util.by_size_newer(all_rss), "up"
        elif to_add < 0:
            all_rss, operation = util.by_size_older(all_rss), "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                share = util.proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = util.replicas(rs) + share
                added += share
            else:
                sizes[rs["metadata"]["name"]] = util.replicas(rs)
        for i, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if i == 0 and to_add != 0:
                sizes[name] = max(0, sizes[name] + to_add - added)
            await self._scale_rs(rs, sizes[name], d, operation)

    async def _scale_rs_and_record(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if util.replicas(rs) == new_scale:
            return False, rs
        return await self._scale_rs(rs, new_scale, d, "up" if util.replicas(rs) < new_scale else "down")

    async def _scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        size_changed = util.replicas(rs) != new_scale
        desired, max_replicas = util.replicas(d), util.replicas(d) + util.max_surge(d)
        if not size_changed and not util.replicas_annotations_need_update(rs, desired, max_replicas):
            return False, rs
        old_scale = util.replicas(rs)
        body = deep_copy(rs)
        body["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(body, desired, max_replicas)
        updated = await self.client.update(REPLICASETS, body)
        if size_changed:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {updated['metadata']['name']} "
                                f"from {old_scale} to {new_scale}")
        return size_changed, updated

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        """cleanupDeployment: delete old ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [rs for rs in old_rss if not meta.is_being_deleted(rs)]
        diff = len(cleanable) - limit
        if diff <= 0:
            return
        for rs in util.by_revision(cleanable)[:diff]:
            if (util.status_of(rs, "replicas") != 0 or util.replicas(rs) != 0
                    or rs["metadata"].get("generation", 0) > util.status_of(rs, "observedGeneration")
                    or meta.is_being_deleted(rs)):
                continue
            try:
                await self.client.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            except APIError as err:
                if err.code != 404:
                    raise

    # -- rollouts -------------------------------------------------------------------------
    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        if await self._reconcile_new_rs(all_rss, new_rs, d):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if await self._reconcile_old_rss(all_rss, util.active(old_rss), new_rs, d):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if util.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    async def _reconcile_new_rs(self, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        if util.replicas(new_rs) == util.replicas(d):
            return False
        if util.replicas(new_rs) > util.replicas(d):
            return (await self._scale_rs_and_record(new_rs, util.replicas(d), d))[0]
        count = util.new_rs_new_replicas(d, all_rss, new_rs)
        return (await self._scale_rs_and_record(new_rs, count, d))[0]

    async def _reconcile_old_rss(self, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        if util.total_replicas(old_rss) == 0:
            return False
        min_available = util.replicas(d) - util.max_unavailable(d)
        new_unavailable = util.replicas(new_rs) - util.status_of(new_rs, "availableReplicas")
        max_scaled_down = util.total_replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = await self._cleanup_unhealthy(old_rss, d, max_scaled_down)
        scaled = await self._scale_down_old_for_rolling([*old_rss, new_rs], old_rss, d)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, old_rss: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        """cleanupUnhealthyReplicas: shrink old ReplicaSets by their unavailable replicas."""
        old_rss = util.by_creation(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            if util.replicas(rs) == 0 or util.replicas(rs) == util.status_of(rs, "availableReplicas"):
                continue
            count = min(max_cleanup - total, util.replicas(rs) - util.status_of(rs, "availableReplicas"))
            if count < 0:
                # the ReplicaSet's status still counts pods its spec no longer wants
                raise Requeue(f"when cleaning up unhealthy replicas, got invalid request to scale down "
                              f"{rs['metadata']['namespace']}/{rs['metadata']['name']} "
                              f"{util.replicas(rs)} -> {util.replicas(rs) - count}")
            _, old_rss[i] = await self._scale_rs_and_record(rs, util.replicas(rs) - count, d)
            total += count
        return old_rss, total

    async def _scale_down_old_for_rolling(self, all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> int:
        min_available = util.replicas(d) - util.max_unavailable(d)
        available = util.total_status(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        total, budget = 0, available - min_available
        for rs in util.by_creation(old_rss):
            if total >= budget:
                break
            if util.replicas(rs) == 0:
                continue
            count = min(util.replicas(rs), budget - total)
            await self._scale_rs_and_record(rs, util.replicas(rs) - count, d)
            total += count
        return total

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        scaled = False
        for rs in util.active(old_rss):
            scaled = (await self._scale_rs_and_record(rs, 0, d))[0] or scaled
        if scaled or self._old_pods_running(new_rs, old_rss, self._pod_map(d, rs_list)):
            await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
        assert new_rs is not None
        await self._scale_rs_and_record(new_rs, util.replicas(d), d)
        if util.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)

    @staticmethod
    def _old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
        if util.total_status(old_rss, "replicas") > 0:
            return True
        for rs_uid, pods in pod_map.items():
            if new_rs is not None and new_rs["metadata"]["uid"] == rs_uid:
                continue
            if any(podutil.phase(p) not in ("Failed", "Succeeded") for p in pods):
                return True
        return False

    # -- status ---------------------------------------------------------------------------
    def _calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
        available = util.total_status(all_rss, "availableReplicas")
        unavailable = max(0, util.total_replicas([rs for rs in all_rss if rs is not None]) - available)
        old = d.get("status") or {}
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 0),
            "replicas": util.total_status(all_rss, "replicas"),
            "updatedReplicas": util.total_status([new_rs], "replicas"),
            "readyReplicas": util.total_status(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": unavailable,
        }
        # DeploymentStatus's counts are omitempty: a zero is not written
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = [dict(c) for c in old["conditions"]]
        stamp = self.cc.timestamp()
        if available >= util.replicas(d) - util.max_unavailable(d):
            cond = util.new_condition("Available", "True", util.MINIMUM_REPLICAS_AVAILABLE,
                                      "Deployment has minimum availability.", stamp)
        else:
            cond = util.new_condition("Available", "False", util.MINIMUM_REPLICAS_UNAVAILABLE,
                                      "Deployment does not have minimum availability.", stamp)
        util.set_condition(status, cond)
        return status

    async def _sync_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        """syncDeploymentStatus."""
        new_status = self._calculate_status(all_rss, new_rs, d)
        if new_status == (d.get("status") or {}):
            return
        d["status"] = new_status
        await self._update_status(d)

    async def _sync_rollout_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> None:
        """syncRolloutStatus: counts, Available, Progressing and ReplicaFailure conditions."""
        status = self._calculate_status(all_rss, new_rs, d)
        if not util.has_progress_deadline(d):
            util.remove_condition(status, "Progressing")
        current = util.get_condition(d.get("status") or {}, "Progressing")
        complete_rollout = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None
                            and current.get("reason") == util.NEW_RS_AVAILABLE)
        stamp = self.cc.timestamp()
        what = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
        if util.has_progress_deadline(d) and not complete_rollout:
            if util.deployment_complete(d, status):
                util.set_condition(status, util.new_condition(
                    "Progressing", "True", util.NEW_RS_AVAILABLE, f"{what} has successfully progressed.", stamp))
            elif util.deployment_progressing(d, status):
                cond = util.new_condition("Progressing", "True", util.REPLICA_SET_UPDATED,
                                          f"{what} is progressing.", stamp)
                if current is not None:
                    if current["status"] == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    util.remove_condition(status, "Progressing")
                util.set_condition(status, cond)
            elif util.deployment_timed_out(d, status, self.cc.now()):
                util.set_condition(status, util.new_condition(
                    "Progressing", "False", util.TIMED_OUT, f"{what} has timed out progressing.", stamp))
        failures = self._replica_failures(all_rss, new_rs)
        if failures:
            util.set_condition(status, failures[0])
        else:
            util.remove_condition(status, "ReplicaFailure")
        if status == (d.get("status") or {}):
            self._requeue_stuck(d, status)
            return
        d["status"] = status
        await self._update_status(d)

    @staticmethod
    def _replica_failures(all_rss: list[Obj], new_rs: Obj | None) -> list[Obj]:
        def failures(rs: Obj) -> list[Obj]:
            return [{"type": c["type"], "status": c["status"], "lastUpdateTime": c.get("lastTransitionTime"),
                     "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason", ""),
                     "message": c.get("message", "")}
                    for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"]
        if new_rs is not None and failures(new_rs):
            return failures(new_rs)
        return [c for rs in all_rss if rs is not None for c in failures(rs)]

    def _requeue_stuck(self, d: Obj, status: Obj) -> None:
        """requeueStuckDeployment: come back when the progress deadline would pass."""
        current = util.get_condition(d.get("status") or {}, "Progressing")
        if not util.has_progress_deadline(d) or current is None:
            return
        if util.deployment_complete(d, status) or current.get("reason") == util.TIMED_OUT:
            return
        after = (meta.parse_timestamp(current["lastUpdateTime"]) + d["spec"]["progressDeadlineSeconds"]
                 - self.cc.now())
        key = object_key(d)
        if after < 1.0:
            self.enqueue_rate_limited(key)
        else:
            self.enqueue_after(key, after + 1.0)
