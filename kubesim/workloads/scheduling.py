"""The scheduling workload: one kube-scheduler actor whose apiserver is an in-actor
:class:`SchedulingFakeAPIServer`, loaded by message with nodes and pods shaped as
kube-scheduler's scheduler_perf "SchedulingBasic" test does (nodes of 4 CPU, 32 GiB,
110 pods over three zones; pods requesting 100m CPU and 500 MiB), and telling how many
pods it has bound. It measures the scheduler alone, on either runtime.

Messages: ``{"op": "nodes", "count": N}`` and ``{"op": "pods", "count": N}`` create
objects (the reply, ``{"created": N, "now": runtime time}``, comes once all are stored); ``{"op": "progress"}`` answers
``{"nodes": cached nodes, "leading": bool, "bound": pods bound, "now": runtime time}``.
"""

from __future__ import annotations

import random
from typing import Any

from kubesim.components.client.api import APIClient
from kubesim.components.scheduler.actor import SchedulerActor
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime
from kubesim.runtime.context import Context
from kubesim.testing.scheduling_apiserver import SchedulingFakeAPIServer

ADDRESS = Address("scheduler", "bench")
MACHINE = Machine("cp-bench", zone="zone-0", role="control-plane")
ZONES = 3


def bench_node(index: int) -> dict[str, Any]:
    """scheduler_perf's node-default.yaml, with a zone and a hostname label."""
    name = f"node-{index:05}"
    capacity = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": f"zone-{index % ZONES}"}},
            "spec": {}, "status": {"capacity": capacity, "allocatable": capacity}}


def bench_pod(index: int) -> dict[str, Any]:
    """scheduler_perf's pod-default.yaml (pause, 100m CPU, 500Mi)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{index:06}", "namespace": "default"},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


class BenchScheduler(SchedulerActor):
    """A scheduler that owns its (in-memory) apiserver and fills it on request."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.api: SchedulingFakeAPIServer | None = None
        super().__init__(self._make_api, config)
        self._nodes = self._pods = 0

    def _make_api(self, ctx: Context) -> APIClient:
        self.api = SchedulingFakeAPIServer(clock=ctx.now, rng=random.Random(ctx.random.getrandbits(64)))
        return self.api

    def receive(self, sender: Address, message: Any) -> Any:
        if not isinstance(message, dict):
            return super().receive(sender, message)
        op = message.get("op")
        if op == "nodes":
            return self._create(message["count"], is_node=True)
        if op == "pods":
            return self._create(message["count"], is_node=False)
        if op == "progress":
            assert self.api is not None and self.core is not None
            return {"nodes": self.core.cache.node_count(), "leading": self.leading,
                    "bound": len(self.api.bindings), "now": self.ctx.now()}
        raise ValueError(f"unknown message {message!r}")

    async def _create(self, count: int, is_node: bool) -> dict[str, Any]:
        assert self.api is not None
        for _ in range(count):
            if is_node:
                await self.api.create("nodes", bench_node(self._nodes))
                self._nodes += 1
            else:
                await self.api.create("pods", bench_pod(self._pods))
                self._pods += 1
        return {"created": count, "now": self.ctx.now()}


def place(runtime: Runtime, config: dict[str, Any] | None = None) -> None:
    """Add the bench scheduler to a runtime that has not started."""
    runtime.add_machine(MACHINE)
    runtime.spawn(ActorSpec(ADDRESS, BenchScheduler, MACHINE.name, kwargs={"config": config}))
