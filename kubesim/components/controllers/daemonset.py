"""The DaemonSet controller (pkg/controller/daemon: daemon_controller.go, update.go,
util/daemonset_util.go, v1.32).

One pod per eligible node: a node is eligible when the template's nodeName (if any),
nodeSelector and required node affinity match it and the pod tolerates its NoSchedule and
NoExecute taints (daemon pods always tolerate not-ready / unreachable NoExecute and the
condition NoSchedule taints). A pod whose node stops being eligible is deleted, except
that only an untolerated NoExecute taint removes a running pod. Pods carry a node affinity
to their node (`metadata.name` match field) and are bound by the scheduler; they are
labelled `controller-revision-hash` and `pod-template-generation`. Failed daemon pods are
deleted with a per-node backoff (1 s doubling to 15 min). RollingUpdate replaces old pods
within maxUnavailable (rounded up; default 1) or, with maxSurge, starts the new pod first
and deletes the old once the new is available. ControllerRevision objects are not served
by this simulator, so the revision hash is computed from the template.
"""

from __future__ import annotations

from typing import Any

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
from kubesim.components.controllers.deployment.util import scaled_value
from kubesim.components.controllers.expectations import ControllerExpectations
from kubesim.components.controllers.ownership import ControllerRefManager
from kubesim.components.controllers.replicaset import NAMESPACE_TERMINATING_CAUSE
from kubesim.components.scheduler.selectors import find_untolerated_taint, required_node_affinity

DAEMONSETS = "daemonsets.apps"
REVISION_HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
BURST_REPLICAS = 250
#: DaemonSetStatus fields serialized even when zero (the others are omitempty).
REQUIRED_STATUS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
STATUS_UPDATE_RETRIES = 1
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 900.0
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def daemon_pod_spec(spec: Obj) -> Obj:
    """AddOrUpdateDaemonPodTolerations on a shallow copy of the template's pod spec (a new
    tolerations list; other values shared with `spec`, as upstream's NewPod shares them):
    node_should_run asks it for every node on every sync and only reads it."""
    out = dict(spec)
    wanted = list(_DAEMON_TOLERATIONS)
    if out.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    tolerations = list(out.get("tolerations") or [])
    for key, effect in wanted:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(tolerations) if t.get("key") == key and t.get("effect") == effect
                and (t.get("operator") or "Equal") == "Exists" and not t.get("value")]
        if same:
            tolerations[same[0]] = tol
        else:
            tolerations.append(tol)
    out["tolerations"] = tolerations
    return out


def node_should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run, should continue running)."""
    spec = ds["spec"]["template"].get("spec") or {}
    name = node["metadata"]["name"]
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    pod = {"spec": daemon_pod_spec(spec)}
    if not required_node_affinity(pod)(node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = pod["spec"]["tolerations"]
    if find_untolerated_taint(taints, tolerations, ("NoSchedule", "NoExecute")) is not None:
        return False, find_untolerated_taint(taints, tolerations, ("NoExecute",)) is None
    return True, True


def target_node(pod: Obj) -> str:
    """GetTargetNodeName: spec.nodeName, else the node the metadata.name affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(field.get("values") or []) == 1:
                return field["values"][0]
    return ""


def with_node_affinity(spec: Obj, node: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        required["nodeSelectorTerms"] = [term]


def _by_creation_and_phase(pods: list[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest, then by name."""
    def key(p: Obj) -> tuple[int, str, str]:
        return (0 if (p.get("spec") or {}).get("nodeName") else 1, p["metadata"].get("creationTimestamp", ""),
                p["metadata"]["name"])
    return sorted(pods, key=key)


class _Backoff:
    """flowcontrol.Backoff for failed daemon pods, per DaemonSet and node."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (duration, last update)

    def in_backoff(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def get(self, key: str) -> float:
        return self._entries.get(key, (0.0, 0.0))[0]

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * BACKOFF_MAX:
            self._entries[key] = (BACKOFF_INITIAL, now)
        else:
            self._entries[key] = (min(entry[0] * 2, BACKOFF_MAX), now)


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, cc: ControllerContext, workers: int = 2) -> None:
        super().__init__(cc, workers)
        self.expectations = ControllerExpectations()
        self.backoff = _Backoff()
        self.recorder = EventRecorder(cc.client, cc.ctx, "daemonset-controller", cc.now)
        self.ds_informer = cc.informers.informer(DAEMONSETS)
        self.pod_informer = cc.informers.informer("pods")
        self.node_informer = cc.informers.informer("nodes")
        self.ds_informer.add_event_handler(EventHandler(
            on_add=self._enqueue_obj, on_update=lambda old, cur: self._enqueue_obj(cur), on_delete=self._ds_deleted))
        self.pod_informer.add_event_handler(EventHandler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))
        self.node_informer.add_event_handler(EventHandler(on_add=self._node_added, on_update=self._node_updated))

    # -- event handlers -------------------------------------------------------------------
    def _enqueue_obj(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.enqueue(object_key(obj))

    def _ds_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.expectations.delete(object_key(obj))
        self._enqueue_obj(obj)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        ds = self.ds_informer.indexer.get_by_key(f"{namespace}/{ref.get('name')}")
        return ds if ds is not None and ds["metadata"].get("uid") == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        if meta.is_being_deleted(pod):
            self._pod_deleted(pod)
            return
        ds = self._resolve(pod["metadata"].get("namespace", ""), meta.controller_of(pod))
        if ds is not None:
            self.expectations.creation_observed(object_key(ds))
            self._enqueue_obj(ds)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        if meta.is_being_deleted(cur):
            self._pod_deleted(cur)
            return
        namespace = cur["metadata"].get("namespace", "")
        old_ref, cur_ref = meta.controller_of(old), meta.controller_of(cur)
        if old_ref != cur_ref and old_ref is not None:
            ds = self._resolve(namespace, old_ref)
            if ds is not None:
                self._enqueue_obj(ds)
        ds = self._resolve(namespace, cur_ref)
        if ds is not None:
            self._enqueue_obj(ds)
            min_ready = ds["spec"].get("minReadySeconds", 0)
            if min_ready > 0 and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                self.enqueue_after(object_key(ds), min_ready + 1)

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = unwrap(obj)
        ds = self._resolve(pod["metadata"].get("namespace", ""), meta.controller_of(pod))
        if ds is not None:
            self.expectations.deletion_observed(object_key(ds))
            self._enqueue_obj(ds)

    def _node_added(self, node: Obj) -> None:
        for ds in self.ds_informer.indexer.list():
            if node_should_run(node, ds)[0]:
                self._enqueue_obj(ds)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata", {}).get("labels") == cur.get("metadata", {}).get("labels")
                and old.get("spec") == cur.get("spec")):
            return  # shouldIgnoreNodeUpdate: only labels, taints and spec matter
        for ds in self.ds_informer.indexer.list():
            if node_should_run(old, ds) != node_should_run(cur, ds):
                self._enqueue_obj(ds)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.ds_informer.indexer.get_by_key(key)
        if cached is None:
            self.expectations.delete(key)
            return
        ds = deep_copy(cached)
        nodes = self.node_informer.indexer.list()
        if ds["spec"].get("selector") == {}:
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if meta.is_being_deleted(ds):
            return
        hash_ = podutil.compute_hash(ds["spec"]["template"], ds.get("status", {}).get("collisionCount"))
        if not self.expectations.satisfied(key, self.cc.now()):
            await self._update_status(ds, nodes, hash_, observed=False)
            return
        err: APIError | None = None
        try:
            await self._manage(ds, nodes, hash_)
            if self.expectations.satisfied(key, self.cc.now()) and \
                    ds["spec"].get("updateStrategy", {}).get("type") == "RollingUpdate":
                await self._rolling_update(ds, nodes, hash_)
        except APIError as e:
            err = e
        await self._update_status(ds, nodes, hash_, observed=True)
        if err is not None:
            raise err

    async def _nodes_to_pods(self, ds: Obj) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: the claimed pods by target node (terminal deleted ones out)."""
        namespace = ds["metadata"]["namespace"]
        selector = selectors.from_label_selector(ds["spec"].get("selector"))
        candidates = [p for p in self.pod_informer.indexer.by_index("namespace", namespace)
                      if not (meta.is_being_deleted(p) and podutil.phase(p) in ("Succeeded", "Failed"))]
        manager = ControllerRefManager(self.client, ds, DAEMONSETS,
                                       lambda p: selector.matches(p["metadata"].get("labels")))
        out: dict[str, list[Obj]] = {}
        for pod in await manager.claim("pods", candidates):
            node = target_node(pod)
            if node:
                out.setdefault(node, []).append(pod)
        return out

    async def _manage(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        node_pods = await self._nodes_to_pods(ds)
        create: list[str] = []
        delete: list[str] = []
        for node in nodes:
            c, d = self._pods_should_be_on_node(node, node_pods, ds, hash_)
            create += c
            delete += d
        existing = {n["metadata"]["name"] for n in nodes}
        for node_name in sorted(node_pods):
            if node_name not in existing:
                delete += [p["metadata"]["name"] for p in node_pods[node_name] if not p["spec"].get("nodeName")]
        await self._sync_nodes(ds, delete, create, hash_)

    def _pods_should_be_on_node(self, node: Obj, node_pods: dict[str, list[Obj]], ds: Obj,
                                hash_: str) -> tuple[list[str], list[str]]:
        should_run, should_continue = node_should_run(node, ds)
        name = node["metadata"]["name"]
        pods = node_pods.get(name)
        create: list[str] = []
        delete: list[str] = []
        if should_run and not pods:
            create.append(name)
        elif should_continue:
            running = []
            for pod in pods or []:
                if meta.is_being_deleted(pod):
                    continue
                if podutil.phase(pod) == "Failed":
                    key, now = f"{ds['metadata']['uid']}/{name}", self.cc.now()
                    if self.backoff.in_backoff(key, now):
                        self.enqueue_after(object_key(ds), self.backoff.get(key))
                        continue
                    self.backoff.next(key, now)
                    self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                        f"Found failed daemon pod {pod['metadata']['namespace']}/"
                                        f"{pod['metadata']['name']} on node {name}, will try to kill it")
                    delete.append(pod["metadata"]["name"])
                elif podutil.phase(pod) == "Succeeded":
                    self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                        f"Found succeeded daemon pod {pod['metadata']['namespace']}/"
                                        f"{pod['metadata']['name']} on node {name}, will try to delete it")
                    delete.append(pod["metadata"]["name"])
                else:
                    running.append(pod)
            running = _by_creation_and_phase(running)
            if self._max_surge(ds, 1) == 0:
                delete += [p["metadata"]["name"] for p in running[1:]]
            elif len(running) <= 1:
                if not running and should_run:
                    create.append(name)
            else:
                newest_new = oldest_old = None
                for pod in running:
                    if pod["metadata"].get("labels", {}).get(REVISION_HASH_LABEL) == hash_:
                        if newest_new is None:
                            newest_new = pod
                            continue
                    elif oldest_old is None:
                        oldest_old = pod
                        continue
                    delete.append(pod["metadata"]["name"])
                if newest_new is not None and oldest_old is not None and (
                        not podutil.is_pod_ready(oldest_old) or podutil.is_pod_available(
                            newest_new, ds["spec"].get("minReadySeconds", 0), self.cc.now())):
                    delete.append(oldest_old["metadata"]["name"])
        elif pods:
            delete += [p["metadata"]["name"] for p in pods if not meta.is_being_deleted(p)]
        return create, delete

    async def _sync_nodes(self, ds: Obj, delete: list[str], create: list[str], hash_: str) -> None:
        key = object_key(ds)
        create_n, delete_n = min(len(create), BURST_REPLICAS), min(len(delete), BURST_REPLICAS)
        self.expectations.set(key, create_n, delete_n, self.cc.now())
        template = deep_copy(ds["spec"]["template"])
        template["spec"] = daemon_pod_spec(template.get("spec") or {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels[TEMPLATE_GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
        labels[REVISION_HASH_LABEL] = hash_
        errors: list[APIError] = []
        pos, batch = 0, min(create_n, 1)
        while pos < create_n:
            results = await self.ctx.gather(*(self._create_pod(ds, template, create[i]) for i in range(pos, pos + batch)))
            failed = api_errors(results)
            for _ in failed:
                self.expectations.creation_observed(key)
            errors += failed
            pos += batch
            skipped = create_n - pos
            if failed and skipped > 0:
                self.expectations.lower(key, add=skipped)
                break
            batch = min(2 * batch, create_n - pos)
        results = await self.ctx.gather(*(self._delete_pod(ds, name) for name in delete[:delete_n]))
        errors += api_errors(results)
        if errors:
            raise errors[0]

    async def _create_pod(self, ds: Obj, template: Obj, node: str) -> None:
        pod = podutil.pod_from_template(template, ds)
        with_node_affinity(pod["spec"], node)
        try:
            created = await self.client.create("pods", pod, ds["metadata"]["namespace"])
        except APIError as err:
            causes = (err.status.get("details") or {}).get("causes") or []
            if any(c.get("reason") == NAMESPACE_TERMINATING_CAUSE for c in causes):
                return
            self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {err.message}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, ds: Obj, name: str) -> None:
        try:
            await self.client.delete("pods", ds["metadata"]["namespace"], name)
        except APIError as err:
            self.expectations.deletion_observed(object_key(ds))
            if err.code == 404:
                return
            self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {err.message}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    # -- rolling update -------------------------------------------------------------------
    @staticmethod
    def _rolling(ds: Obj) -> Obj:
        return (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}

    def _max_surge(self, ds: Obj, desired: int) -> int:
        if (ds["spec"].get("updateStrategy") or {}).get("type") != "RollingUpdate":
            return 0
        return scaled_value(self._rolling(ds).get("maxSurge", 0), desired, True)

    def _find_updated(self, pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
        """findUpdatedPodsOnNode: (new pod, old pod, at most one of each)."""
        new = old = None
        for pod in pods:
            if meta.is_being_deleted(pod):
                continue
            if pod["metadata"].get("labels", {}).get(REVISION_HASH_LABEL) == hash_:
                if new is not None:
                    return None, None, False
                new = pod
            else:
                if old is not None:
                    return None, None, False
                old = pod
        return new, old, True

    async def _rolling_update(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        node_pods = await self._nodes_to_pods(ds)
        by_name = {n["metadata"]["name"]: n for n in nodes}
        desired = sum(1 for n in nodes if node_should_run(n, ds)[0])
        max_surge = self._max_surge(ds, desired)
        max_unavailable = scaled_value(self._rolling(ds).get("maxUnavailable", 1), desired, True)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        min_ready, now = ds["spec"].get("minReadySeconds", 0), self.cc.now()
        if max_surge == 0:
            unavailable = 0
            replace: list[str] = []
            candidates: list[str] = []
            for node_name in sorted(node_pods):
                new, old, ok = self._find_updated(node_pods[node_name], hash_)
                if not ok or (old is None) == (new is None):
                    unavailable += 1
                elif new is not None:
                    if not podutil.is_pod_available(new, min_ready, now):
                        unavailable += 1
                elif old is not None and not podutil.is_pod_available(old, min_ready, now):
                    replace.append(old["metadata"]["name"])
                    unavailable += 1
                elif old is not None and unavailable < max_unavailable:
                    candidates.append(old["metadata"]["name"])
            room = max(0, min(max_unavailable - unavailable, len(candidates)))
            await self._sync_nodes(ds, replace + candidates[:room], [], hash_)
            return
        old_to_delete: list[str] = []
        should_not_run: list[str] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        surge = available = 0
        for node_name in sorted(node_pods):
            new, old, ok = self._find_updated(node_pods[node_name], hash_)
            if not ok:
                surge += 1
                continue
            current = old if old is not None else new
            if current is not None and podutil.is_pod_available(current, min_ready, now):
                available += 1
            node = by_name.get(node_name)
            if old is None:
                continue
            if new is None:
                runs = node is not None and node_should_run(node, ds)[0]
                if not podutil.is_pod_available(old, min_ready, now):
                    if not runs:
                        old_to_delete.append(old["metadata"]["name"])
                    else:
                        allowed_nodes.append(node_name)
                elif not runs:
                    should_not_run.append(old["metadata"]["name"])
                elif surge < max_surge:
                    candidate_nodes.append(node_name)
            elif not podutil.is_pod_available(new, min_ready, now):
                surge += 1
            else:
                old_to_delete.append(old["metadata"]["name"])
        deletable = min(available - desired, len(should_not_run))
        if deletable > 0:
            old_to_delete += should_not_run[:deletable]
        room = max(0, min(max_surge - surge, len(candidate_nodes)))
        await self._sync_nodes(ds, old_to_delete, allowed_nodes + candidate_nodes[:room], hash_)

    # -- status ---------------------------------------------------------------------------
    async def _update_status(self, ds: Obj, nodes: list[Obj], hash_: str, observed: bool) -> None:
        node_pods = await self._nodes_to_pods(ds)
        desired = current = misscheduled = ready = updated = available = 0
        min_ready, now = ds["spec"].get("minReadySeconds", 0), self.cc.now()
        for node in nodes:
            should_run, _ = node_should_run(node, ds)
            pods = node_pods.get(node["metadata"]["name"]) or []
            if not should_run:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = _by_creation_and_phase(pods)[0]
            if podutil.is_pod_ready(pod):
                ready += 1
                if podutil.is_pod_available(pod, min_ready, now):
                    available += 1
            if pod["metadata"].get("labels", {}).get(REVISION_HASH_LABEL) == hash_:
                updated += 1
        new: dict[str, Any] = {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                               "numberMisscheduled": misscheduled, "numberReady": ready,
                               "updatedNumberScheduled": updated, "numberAvailable": available,
                               "numberUnavailable": desired - available}
        await self._store_status(ds, new, observed)
        if min_ready > 0 and ready != available:
            self.enqueue_after(object_key(ds), min_ready)

    async def _store_status(self, ds: Obj, new: dict[str, Any], observed: bool) -> None:
        generation = ds["metadata"].get("generation", 0)
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in new.items()) and old.get("observedGeneration", 0) >= generation:
            return
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            body = deep_copy(ds)
            status = body.setdefault("status", {})
            if observed:
                status["observedGeneration"] = generation
            for k, v in new.items():
                if v or k in REQUIRED_STATUS:
                    status[k] = v
                else:
                    status.pop(k, None)  # omitempty
            try:
                await self.client.update(DAEMONSETS, body, "status")
                return
            except APIError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                namespace, name = split_meta_namespace_key(object_key(ds))
                ds = await self.client.get(DAEMONSETS, namespace, name)
