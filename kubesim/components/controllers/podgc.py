"""The pod garbage collector (pkg/controller/podgc/gc_controller.go, v1.32).

Every 20 s: terminated pods beyond `--terminated-pod-gc-threshold` (12500) are deleted,
oldest first; pods bound to a node that is gone are deleted once the node has stayed gone
for the 40 s quarantine (confirmed with a live read), after being marked Failed with the
DisruptionTarget condition (DeletionByPodGC, "PodGC: node no longer exists"); pods being
deleted that were never scheduled are force-deleted. Deletions use grace period 0.
Quarantined node names wait in the `orphaned_pods_nodes` delaying queue.
"""

from __future__ import annotations

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.store import Obj
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import Controller, ControllerContext
from kubesim.runtime.context import Timer

GC_CHECK_PERIOD = 20.0
QUARANTINE_TIME = 40.0
TERMINATED_POD_GC_THRESHOLD = 12500


class PodGCController(Controller):
    name = "orphaned_pods_nodes"

    def __init__(self, cc: ControllerContext, terminated_pod_threshold: int = TERMINATED_POD_GC_THRESHOLD) -> None:
        super().__init__(cc, workers=0)
        self.threshold = terminated_pod_threshold
        self.pod_informer = cc.informers.informer("pods")
        self.node_informer = cc.informers.informer("nodes")
        self._timer: Timer | None = None
        self._deleted = cc.ctx.metrics.counter(
            "pod_gc_collector_force_delete_pods_total",
            "Number of pods that are being forcefully deleted since the Pod GC Controller started.",
            ["namespace", "reason"])

    def start(self) -> None:
        super().start()
        self._timer = self.ctx.call_every(GC_CHECK_PERIOD, self._gc, first=GC_CHECK_PERIOD)

    def stop(self) -> None:
        super().stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _gc(self) -> None:
        pods = self.pod_informer.indexer.list()
        nodes = {n["metadata"]["name"] for n in self.node_informer.indexer.list()}
        if self.threshold > 0:
            await self._gc_terminated(pods)
        await self._gc_orphaned(pods, nodes)
        await self._gc_unscheduled_terminating(pods)

    async def _gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if podutil.phase(p) in ("Succeeded", "Failed")]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        oldest = sorted(terminated, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        for pod in oldest[:excess]:
            await self._force_delete(pod, "terminated")

    async def _gc_orphaned(self, pods: list[Obj], nodes: set[str]) -> None:
        for pod in pods:
            node = pod["spec"].get("nodeName")
            if node and node not in nodes:
                self.enqueue_after(node, QUARANTINE_TIME)
        gone: set[str] = set()
        while (node := self.queue.get()) is not None:
            if node not in nodes:
                try:
                    await self.client.get("nodes", "", node)
                except APIError as err:
                    if err.code == 404:
                        gone.add(node)
            self.queue.done(node)
        for pod in pods:
            if pod["spec"].get("nodeName") in gone:
                await self._fail_and_delete(pod)

    async def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        for pod in pods:
            if meta.is_being_deleted(pod) and not pod["spec"].get("nodeName"):
                await self._force_delete(pod, "unscheduled")

    async def _fail_and_delete(self, pod: Obj) -> None:
        """markFailedAndDeletePodWithCondition."""
        body = deep_copy(pod)
        status = body.setdefault("status", {})
        if podutil.phase(pod) not in ("Succeeded", "Failed"):
            status["phase"] = "Failed"
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                           "message": "PodGC: node no longer exists", "lastTransitionTime": self.cc.timestamp()})
        status["conditions"] = conditions
        try:
            await self.client.update("pods", body, "status")
        except APIError as err:
            if err.code == 404:
                return
            raise
        await self._force_delete(pod, "orphaned")

    async def _force_delete(self, pod: Obj, reason: str) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete("pods", md["namespace"], md["name"], grace_period_seconds=0)
        except APIError as err:
            if err.code != 404:
                raise
            return
        self._deleted.labels(md["namespace"], reason).inc()
