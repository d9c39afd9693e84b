"""A simulated control plane for cloud-controller-manager tests: the sim runtime, a
FakeAPIServer, the fake cloud actor with one instance per node, and CCM replicas."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from kubesim.api import meta
from kubesim.components.cloud.actor import FakeCloudActor
from kubesim.components.cloud.fake import FakeCloud
from kubesim.components.cloud.manager import CloudControllerManager
from kubesim.components.cloud.node import UNINITIALIZED_TAINT
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer

EPOCH = 1_700_000_000.0
CLOUD = Address("cloud", "fake-cloud")


def node_object(name: str, now: float, *, initialized: bool = True, pod_cidr: str = "") -> dict[str, Any]:
    stamp = meta.timestamp(now)
    node: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}]}}
    if initialized:
        node["spec"]["providerID"] = f"fake://zone-a/{name}"
    else:
        node["spec"]["taints"] = [{"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"}]
    if pod_cidr:
        node["spec"]["podCIDR"] = pod_cidr
        node["spec"]["podCIDRs"] = [pod_cidr]
    return node


class CloudCluster:
    def __init__(self, seed: int = 0, *, nodes: int = 3, replicas: int = 1, initialized: bool = True,
                 pod_cidrs: bool = False, cost: dict[str, Any] | None = None,
                 controllers: tuple[str, ...] = ("*",)) -> None:
        self.rt = SimRuntime(seed=seed, cost=CostModel.load().with_overrides(cost or {}))
        self.api = FakeAPIServer(clock=self.now, rng=random.Random(seed))
        self.nodes = [f"node-{i}" for i in range(nodes)]
        self.rt.add_machine(Machine("cloud-api", zone="zone-a", role="external"))
        instances = [{"name": n, "zone": "zone-a", "internalIP": f"10.0.0.{i + 10}"} for i, n in enumerate(self.nodes)]
        self.rt.spawn(ActorSpec(CLOUD, FakeCloudActor, "cloud-api", kwargs={"instances": instances}))
        self.replicas: list[Address] = []
        api = self.api
        for i in range(replicas):
            machine = f"cp-{i}"
            self.rt.add_machine(Machine(machine, zone="zone-a", role="control-plane"))
            address = Address("cloud-controller-manager", f"ccm-{i}")
            self.replicas.append(address)
            self.rt.spawn(ActorSpec(address, CloudControllerManager, machine, kwargs={
                "client": lambda ctx: api, "cloud": str(CLOUD), "controllers": controllers,
                "leader_elect": replicas > 1, "epoch": EPOCH}))
        for i, name in enumerate(self.nodes):
            self.create("nodes", node_object(name, self.now(), initialized=initialized,
                                             pod_cidr=f"10.244.{i}.0/24" if pod_cidrs else ""), "")

    @property
    def cloud(self) -> FakeCloud:
        return self.rt.actor(CLOUD).cloud  # type: ignore[attr-defined, no-any-return]

    def now(self) -> float:
        return EPOCH + self.rt.now()

    def run_for(self, seconds: float) -> None:
        self.rt.run_for(seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float = 120.0, step: float = 0.5) -> float:
        waited = 0.0
        while not predicate():
            if waited >= timeout:
                raise AssertionError(f"condition not reached within {timeout}s of virtual time")
            self.rt.run_for(step)
            waited += step
        return waited

    def call(self, coro_fn: Callable[[], Any]) -> Any:
        async def main(_rt: Any) -> Any:
            return await coro_fn()
        return self.rt.run(main)

    def create(self, resource: str, obj: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        return self.call(lambda: self.api.create(resource, copy.deepcopy(obj), namespace))

    def update(self, resource: str, namespace: str, name: str, fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            obj = await self.api.get(resource, namespace, name)
            fn(obj)
            return await self.api.update(resource, obj)
        return self.call(go)

    def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.call(lambda: self.api.delete(resource, namespace, name))

    def close(self) -> None:
        self.rt.close()
