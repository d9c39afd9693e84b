"""A simulated control plane for cloud-controller-manager tests: the sim runtime, a
FakeAPIServer, the fake cloud actor with one instance per node, and CCM replicas."""

from __future__ import annotations

import random
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
from tests.components.sim_driver import EPOCH, SimDriver

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


class CloudCluster(SimDriver):
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

