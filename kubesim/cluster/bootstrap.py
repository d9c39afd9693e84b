"""Bootstrap of a whole cluster, the driver's side: wait for each stage as `kubeadm init`,
`kubeadm join` and the components bring it up, with a progress display of counts and rates.

Stages: an etcd leader; every kube-apiserver ready (system namespaces and priority
classes are created by their own bootstrap controllers); the kubeadm addon objects
(`addons.py`: the kube-proxy DaemonSet); kube-scheduler and kube-controller-manager
holding their Leases; every node registered and Ready; the control plane's static pods
Running as mirror pods (as kubeadm's wait-control-plane phase); a kube-proxy pod Ready on every
node; then the spec's workloads, created and their pods available. Node counts come from the controller manager's own gauges
(`node_collector_zone_size`, `node_collector_unhealthy_nodes_in_zone` of the leading
replica), so watching thousands of nodes register costs the driver nothing; the end is
confirmed by listing the Nodes once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from kubesim.cluster.addons import api, create, kube_proxy_objects, workload_objects
from kubesim.cluster.build import Placed, etcd_leader
from kubesim.cluster.spec import ClusterSpec
from kubesim.runtime.base import Runtime

POLL = 1.0  # simulated seconds between checks
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
NODE_GAUGES = ("node_collector_zone_size", "node_collector_unhealthy_nodes_in_zone", "leader_election_master_status")


@dataclass
class Stage:
    name: str
    total: int
    done: int = 0
    started: float = 0.0  # simulated
    finished: float | None = None
    wall_started: float = 0.0
    wall_finished: float | None = None
    task: TaskID | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        sim = None if self.finished is None else self.finished - self.started
        wall = None if self.wall_finished is None else self.wall_finished - self.wall_started
        return {"stage": self.name, "count": self.done, "simulated_seconds": sim, "wall_seconds": wall,
                "per_simulated_second": self.done / sim if sim else None}


class Bootstrap:
    def __init__(self, runtime: Runtime, spec: ClusterSpec, placed: Placed, console: Console | None) -> None:
        self.rt = runtime
        self.spec = spec
        self.placed = placed
        self.console = console
        self.stages: list[Stage] = []
        self.progress: Progress | None = None
        nodes = len(placed.kubelets)
        self.timeout = 300.0 + 0.2 * nodes

    async def run(self) -> dict[str, Any]:
        if self.console is None:
            return await self._stages()
        with Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=self.console,
                      transient=False) as progress:
            self.progress = progress
            return await self._stages()

    def _stage(self, name: str, total: int) -> Stage:
        stage = Stage(name, total, started=self.rt.now(), wall_started=time.perf_counter())
        if self.progress is not None:
            stage.task = self.progress.add_task(name, total=total, rate="")
        self.stages.append(stage)
        return stage

    def _update(self, stage: Stage, done: int) -> None:
        stage.done = done
        if stage.task is not None and self.progress is not None:
            sim = self.rt.now() - stage.started
            wall = time.perf_counter() - stage.wall_started
            rate = f"{done / sim:,.1f}/s simulated, {done / wall:,.1f}/s wall" if sim > 0 and wall > 0 else ""
            self.progress.update(stage.task, completed=done, rate=rate if stage.name.startswith("nodes") else "")

    async def _until(self, stage: Stage, count: Any) -> None:
        """Poll `count()` until it reaches the stage's total."""
        deadline = self.rt.now() + self.timeout
        while True:
            done = await count()
            self._update(stage, done)
            if done >= stage.total:
                break
            if self.rt.now() >= deadline:
                raise TimeoutError(f"bootstrap: {stage.name}: {done} of {stage.total} after {self.timeout:g}s")
            await self.rt.sleep(POLL if stage.total > 1 else 0.1)
        stage.finished = self.rt.now()
        stage.wall_finished = time.perf_counter()

    async def _stages(self) -> dict[str, Any]:
        rt, placed = self.rt, self.placed
        await self._until(self._stage("etcd leader", 1),
                          lambda: _count_true([etcd_leader(rt, placed)], lambda leader: leader is not None))
        await self._until(self._stage("kube-apiservers ready", len(placed.apiservers)),
                          lambda: _count_true([rt.ask(a, ["ready"], timeout=5.0) for a in placed.apiservers],
                                              lambda ready: ready is True))
        addons = self._stage("kubeadm addons", 1)
        await create(rt, placed.apiservers, placed.token, kube_proxy_objects(self.spec))
        self._update(addons, 1)
        addons.finished, addons.wall_finished = rt.now(), time.perf_counter()
        leases = [name for name, kind in (("kube-scheduler", "scheduler/"),
                                          ("kube-controller-manager", "controller-manager/"))
                  if any(a.startswith(kind) for a in placed.controllers)]
        await self._until(self._stage("scheduler, kcm leaders", len(leases)), lambda: self._held(leases))
        nodes = len(placed.kubelets)
        registered, ready = self._stage("nodes registered", nodes), self._stage("nodes Ready", nodes)
        deadline = rt.now() + self.timeout
        while True:
            counts = await self._node_counts()
            self._update(registered, counts[0])
            self._update(ready, counts[1])
            for stage, count in zip((registered, ready), counts, strict=True):
                if stage.finished is None and count >= nodes:
                    stage.finished, stage.wall_finished = rt.now(), time.perf_counter()
            if ready.finished is not None and registered.finished is not None:
                break
            if rt.now() >= deadline:
                raise TimeoutError(f"bootstrap: {counts[0]} of {nodes} nodes registered, {counts[1]} Ready "
                                   f"after {self.timeout:g}s")
            await rt.sleep(POLL)
        await self._until(self._stage("control-plane pods Running", len(placed.static_pods)), self._static_pods_running)
        await self._until(self._stage("kube-proxy pods Ready", nodes), self._kube_proxy_ready)
        replicas = sum(w.replicas for w in self.spec.workloads)
        if replicas:  # deployed once the nodes have joined, as after `kubeadm join`
            await create(rt, placed.apiservers, placed.token, workload_objects(self.spec))
            await self._until(self._stage("workload pods available", replicas), self._workloads_available)
        listed = await self._ready_nodes()
        if listed != nodes:
            raise RuntimeError(f"bootstrap: the controller manager counted {nodes} Ready nodes, the API lists {listed}")
        return {"stages": [s.to_dict() for s in self.stages], "nodes_ready": listed}

    async def _held(self, leases: list[str]) -> int:
        held = 0
        for name in leases:
            reply = await api(self.rt, self.placed.apiservers, self.placed.token, "GET", f"{LEASES}/{name}")
            if reply["code"] == 200 and (reply["body"].get("spec") or {}).get("holderIdentity"):
                held += 1
        return held

    async def _node_counts(self) -> tuple[int, int]:
        """(registered, Ready) nodes by the leading controller manager's node gauges."""
        samples = await self.rt.metric_samples(NODE_GAUGES)
        leaders = {labels.get("instance") for name, labels, value in samples
                   if name == "leader_election_master_status" and labels.get("name") == "kube-controller-manager"
                   and value == 1.0}
        size = unhealthy = 0.0
        for name, labels, value in samples:
            if labels.get("instance") not in leaders:
                continue
            if name == "node_collector_zone_size":
                size += value
            elif name == "node_collector_unhealthy_nodes_in_zone":
                unhealthy += value
        return int(size), int(size - unhealthy)

    async def _static_pods_running(self) -> int:
        """The control plane's mirror pods Running (kubeadm's wait-control-plane phase)."""
        reply = await api(self.rt, self.placed.apiservers, self.placed.token, "GET", "/api/v1/namespaces/kube-system/pods",
                          query={"labelSelector": "tier=control-plane"})
        if reply["code"] != 200:
            return 0
        running = {p["metadata"]["name"] for p in reply["body"]["items"]
                   if (p.get("status") or {}).get("phase") == "Running"}
        return len(running.intersection(self.placed.static_pods))

    async def _kube_proxy_ready(self) -> int:
        reply = await api(self.rt, self.placed.apiservers, self.placed.token, "GET",
                          "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
        return int((reply["body"].get("status") or {}).get("numberReady") or 0) if reply["code"] == 200 else 0

    async def _workloads_available(self) -> int:
        total = 0
        for w in self.spec.workloads:
            reply = await api(self.rt, self.placed.apiservers, self.placed.token, "GET",
                              f"/apis/apps/v1/namespaces/{w.namespace}/deployments/{w.name}")
            if reply["code"] == 200:
                total += int((reply["body"].get("status") or {}).get("availableReplicas") or 0)
        return total

    async def _ready_nodes(self) -> int:
        reply = await api(self.rt, self.placed.apiservers, self.placed.token, "GET", "/api/v1/nodes",
                          query={"resourceVersion": "0"}, timeout=120.0)
        if reply["code"] != 200:
            raise RuntimeError(f"listing nodes: {reply['code']} {reply['body']}")
        return sum(1 for n in reply["body"]["items"]
                   if any(c["type"] == "Ready" and c["status"] == "True"
                          for c in (n.get("status") or {}).get("conditions") or ()))


async def _count_true(calls: list[Any], good: Any) -> int:
    answers = await asyncio.gather(*calls, return_exceptions=True)
    return sum(1 for a in answers if not isinstance(a, BaseException) and good(a))
