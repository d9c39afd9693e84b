"""Kubelets at scale on `sim` against the in-memory apiserver, packed 100 to a host group:
they all register and stay Ready under the node lifecycle controller (no node ever goes
Unknown or gets tainted), and (slow) 5,000 pods scheduled by the real scheduler reach
Running on 1,000 nodes, their startup latency measured as the SLO does."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.components.kubelet.config import LARGE_POD_NETWORK, KubeletConfig
from kubesim.components.kubelet.kubelet import kubelet_spec
from kubesim.components.scheduler.actor import SchedulerActor
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime
from tests.components.scheduler.fakes import SchedulingFakeAPIServer

EPOCH = 1_700_000_000.0
PER_HOST = 100
UNREACHABLE = "node.kubernetes.io/unreachable"


class ScaleCluster:
    """`nodes` kubelets in zones a/b/c, a kube-controller-manager and a scheduler."""

    def __init__(self, nodes: int, controllers: tuple[str, ...], seed: int = 7) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = SchedulingFakeAPIServer(clock=lambda: EPOCH + self.rt.now(), rng=random.Random(seed),
                                           graceful_pods=True)
        api = self.api
        self.not_ready_seen: set[str] = set()
        self.api.observers.append(self._watch_nodes)
        zones = ("zone-a", "zone-b", "zone-c")
        for i in range(nodes):
            zone = zones[i % 3]
            cfg = KubeletConfig.for_node(i, epoch=EPOCH, zone=zone, pod_network=LARGE_POD_NETWORK)
            self.rt.add_machine(Machine(cfg.node_name, zone=zone))
            self.rt.spawn(kubelet_spec(cfg, lambda ctx: api, host=f"nodes-{zone}-{i // (3 * PER_HOST)}"))
        self.rt.add_machine(Machine("cp-0", zone="zone-a", role="control-plane"))
        self.rt.spawn(ActorSpec(Address("kube-controller-manager", "kcm-0"), KubeControllerManager, "cp-0",
                                kwargs={"client": lambda ctx: api, "leader_elect": False, "epoch": EPOCH,
                                        "controllers": controllers}))
        self.rt.spawn(ActorSpec(Address("scheduler", "s-0"), SchedulerActor, "cp-0",
                                kwargs={"client_factory": lambda ctx: api, "epoch": EPOCH}))

    def _watch_nodes(self, event: str, resource: str, obj: dict[str, Any]) -> None:
        """Every committed Node write: remember nodes that were ever not Ready after registering."""
        if resource != "nodes" or not (obj.get("status") or {}).get("conditions"):
            return
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        if ready["status"] != "True" and ready.get("reason") != "KubeletNotReady":
            self.not_ready_seen.add(obj["metadata"]["name"])
        if any(t["key"] == UNREACHABLE for t in (obj.get("spec") or {}).get("taints") or []):
            self.not_ready_seen.add(obj["metadata"]["name"])

    def ready_nodes(self) -> int:
        return sum(1 for n in self.api.objects("nodes")
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]))

    def close(self) -> None:
        self.rt.close()


def register_and_stay_ready(nodes: int, minutes: float) -> ScaleCluster:
    c = ScaleCluster(nodes, controllers=("nodelifecycle",))

    async def main(rt: Any) -> None:
        async def all_ready() -> bool:
            return c.ready_nodes() == nodes
        await rt.wait_until(all_ready, 60.0, poll=1.0)
        await rt.sleep(minutes * 60.0)

    c.rt.run(main)
    return c


def test_100_nodes_register_and_stay_ready():
    c = register_and_stay_ready(100, minutes=5)
    try:
        assert c.ready_nodes() == 100 and not c.not_ready_seen
        leases = c.api.objects("leases.coordination.k8s.io", "kube-node-lease")
        assert len(leases) == 100
    finally:
        c.close()


@pytest.mark.slow
def test_1000_nodes_register_and_stay_ready():
    c = register_and_stay_ready(1000, minutes=5)
    try:
        assert c.ready_nodes() == 1000 and not c.not_ready_seen
    finally:
        c.close()


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_5000_pods_scheduled_by_the_real_scheduler_reach_running_on_1000_nodes():
    """Bare pods rather than a Deployment: the ReplicaSet controller's syncs walk every pod
    of the namespace, which at 5,000 pods costs far more than the nodes do."""
    c = ScaleCluster(1000, controllers=("nodelifecycle",))
    try:
        async def main(rt: Any) -> float:
            async def all_ready() -> bool:
                return c.ready_nodes() == 1000
            await rt.wait_until(all_ready, 60.0, poll=1.0)
            started = rt.now()
            for i in range(5000):
                await c.api.create("pods", {
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"load-{i}", "namespace": "default"},
                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                             "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}]}})

            async def all_running() -> bool:
                return sum(1 for p in c.api.objects("pods", "default")
                           if p["status"].get("phase") == "Running") == 5000
            await rt.wait_until(all_running, 600.0, poll=5.0)
            return rt.now() - started

        took = c.rt.run(main)
        assert took < 600.0
        registry = c.rt.metrics.registry
        count = sum(s.value for m in registry.collect() if m.name == "kubelet_pod_start_sli_duration_seconds"
                    for s in m.samples if s.name.endswith("_count"))
        assert count == 5000
        assert not c.not_ready_seen
    finally:
        c.close()
