"""The taint-eviction controller (pkg/controller/tainteviction/taint_eviction.go, v1.32;
formerly the node lifecycle controller's NoExecuteTaintManager).

A pod on a node with NoExecute taints it does not all tolerate is deleted at once; one that
tolerates them all for a limited time (the smallest tolerationSeconds among the matching
tolerations, e.g. the 300 s DefaultTolerationSeconds admits for not-ready / unreachable)
is deleted when that time has passed since the taint was seen, unless the taint goes away
first. Before deleting, the pod gets the DisruptionTarget condition (reason
DeletionByTaintManager). Node and pod changes are worked through the `noexec_taint_node`
and `noexec_taint_pod` queues; scheduled deletions are timers (TimedWorkerQueue).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj, pod_node_name_index
from kubesim.components.controllers.base import Controller, ControllerContext, object_key, unwrap
from kubesim.components.controllers.indexes import NODE_NAME
from kubesim.components.scheduler.selectors import tolerates
from kubesim.runtime.context import Timer

#: retries of a pod deletion.
DELETE_RETRIES = 5


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


def min_toleration_time(taints: list[Obj], tolerations: list[Obj]) -> float | None:
    """GetMatchingTolerations + getMinTolerationTime: None if some taint is not tolerated,
    -1 if every taint is tolerated forever, else the seconds until eviction."""
    used: list[Obj] = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return None
        used.append(match)
    times = [max(0, int(t["tolerationSeconds"])) for t in used if t.get("tolerationSeconds") is not None]
    return float(min(times)) if times else -1.0


@dataclass
class _Work:
    created_at: float
    fire_at: float
    timer: Timer | None


class _NodeWorkers(Controller):
    name = "noexec_taint_node"

    def __init__(self, cc: ControllerContext, workers: int, owner: TaintEvictionController) -> None:
        super().__init__(cc, workers)
        self.owner = owner

    async def sync(self, key: str) -> None:
        self.owner.node_updated(key)


class TaintEvictionController(Controller):
    """The `noexec_taint_pod` queue, the node queue and the scheduled deletions."""

    name = "noexec_taint_pod"

    def __init__(self, cc: ControllerContext, workers: int = 8) -> None:
        super().__init__(cc, workers)
        self.recorder = EventRecorder(cc.client, cc.ctx, "taint-eviction-controller", cc.now)
        self.nodes = _NodeWorkers(cc, workers, self)
        self.tainted: dict[str, list[Obj]] = {}
        self.work: dict[str, _Work | None] = {}
        self.node_informer = cc.informers.informer("nodes")
        self.pod_informer = cc.informers.informer("pods", indexers={NODE_NAME: pod_node_name_index})
        self.node_informer.add_event_handler(EventHandler(
            on_add=lambda n: self.nodes.enqueue(object_key(n)),
            on_update=self._node_changed,
            on_delete=lambda n: self.nodes.enqueue(object_key(n))))
        self.pod_informer.add_event_handler(EventHandler(
            on_add=self._pod_added, on_update=self._pod_changed, on_delete=self._pod_deleted))
        self._deletions = cc.ctx.metrics.counter(
            "taint_eviction_controller_pod_deletions_total",
            "Total number of Pods deleted by TaintEvictionController since its start.")

    def start(self) -> None:
        super().start()
        self.nodes.start()

    def stop(self) -> None:
        super().stop()
        self.nodes.stop()
        for work in self.work.values():
            if work is not None and work.timer is not None:
                work.timer.cancel()
        self.work.clear()

    # -- handlers -------------------------------------------------------------------------
    def _node_changed(self, old: Obj, cur: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(cur):
            self.nodes.enqueue(object_key(cur))

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(object_key(pod))

    def _pod_changed(self, old: Obj, cur: Obj) -> None:
        if (old["spec"].get("nodeName") != cur["spec"].get("nodeName")
                or old["spec"].get("tolerations") != cur["spec"].get("tolerations")):
            self.enqueue(object_key(cur))

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.enqueue(object_key(unwrap(obj)))

    # -- handleNodeUpdate / handlePodUpdate -----------------------------------------------
    def node_updated(self, name: str) -> None:
        node = self.node_informer.indexer.get_by_key(name)
        if node is None:
            self.tainted.pop(name, None)
            return
        taints = no_execute_taints(node)
        if taints:
            self.tainted[name] = taints
        else:
            self.tainted.pop(name, None)
        pods = self.pod_informer.indexer.by_index(NODE_NAME, name)
        now = self.cc.now()
        for pod in pods:
            if not taints:
                self._cancel(object_key(pod), pod)
            else:
                self._process_pod(pod, taints, now)

    async def sync(self, key: str) -> None:
        pod = self.pod_informer.indexer.get_by_key(key)
        if pod is None:
            self._cancel(key, None)
            return
        node = (pod.get("spec") or {}).get("nodeName")
        taints = self.tainted.get(node or "")
        if node and taints:
            self._process_pod(pod, taints, self.cc.now())

    def _process_pod(self, pod: Obj, taints: list[Obj], now: float) -> None:
        key = object_key(pod)
        wait = min_toleration_time(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if wait is None:
            self._cancel(key, pod)
            self._schedule(key, pod, now, now)
            return
        if wait < 0:
            self._cancel(key, pod)
            return
        start = now
        scheduled = self.work.get(key)
        if scheduled is not None:
            start = scheduled.created_at
            if start + wait < now + wait:
                return
            self._cancel(key, pod)
        self._schedule(key, pod, start, start + wait)

    def _schedule(self, key: str, pod: Obj, created_at: float, fire_at: float) -> None:
        """TimedWorkerQueue.AddWork: ignored if work for this pod exists (or just ran)."""
        if key in self.work:
            return
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        delay = max(0.0, fire_at - self.cc.now())
        work = _Work(created_at, fire_at, None)
        self.work[key] = work
        work.timer = self.ctx.call_later(delay, self._fire, key, pod)

    def _cancel(self, key: str, pod: Obj | None) -> None:
        """cancelWorkWithEvent."""
        if key not in self.work:
            return
        work = self.work.pop(key)
        if work is not None and work.timer is not None:
            work.timer.cancel()
            if pod is not None:
                self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    async def _fire(self, key: str, pod: Obj) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for _ in range(DELETE_RETRIES):
            try:
                await self._condition_and_delete(namespace, name)
            except APIError as err:
                if err.code == 404:
                    break
                await self.ctx.sleep(0.01)
                continue
            self._deletions.inc()
            self.work[key] = None  # keep the key: no second deletion for this pod
            return
        self.work.pop(key, None)

    async def _condition_and_delete(self, namespace: str, name: str) -> None:
        pod = await self.client.get("pods", namespace, name)
        conditions = (pod.get("status") or {}).get("conditions") or []
        target = next((c for c in conditions if c.get("type") == "DisruptionTarget"), None)
        if target is None or target.get("status") != "True":
            body = deep_copy(pod)
            conds = [c for c in body.setdefault("status", {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
            conds.append({"type": "DisruptionTarget", "status": "True", "lastTransitionTime": self.cc.timestamp(),
                          "reason": "DeletionByTaintManager",
                          "message": "Taint manager: deleting due to NoExecute taint"})
            body["status"]["conditions"] = conds
            await self.client.update("pods", body, "status")
        await self.client.delete("pods", namespace, name)
