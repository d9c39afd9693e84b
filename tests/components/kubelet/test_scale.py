"""Kubelets at scale on `sim` against the in-memory apiserver, packed 100 to a host group:
they all register and stay Ready under the node lifecycle controller (no node ever goes
Unknown or gets tainted), and (slow) a Deployment of 5,000 pods, scheduled by the real
scheduler, reaches Running on 1,000 nodes, their startup latency measured as the SLO does."""

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
def test_a_deployment_of_5000_pods_reaches_running_on_1000_nodes():
    """The Deployment and ReplicaSet controllers create the pods, paced by kcm's client-side
    rate limit (--kube-api-qps 20, burst 30, shared by the ReplicaSet controller's creates and
    its status updates), the real scheduler places them, 1,000 kubelets start them."""
    c = ScaleCluster(1000, controllers=("nodelifecycle", "deployment", "replicaset"))
    try:
        async def main(rt: Any) -> float:
            async def all_ready() -> bool:
                return c.ready_nodes() == 1000
            await rt.wait_until(all_ready, 60.0, poll=1.0)
            started = rt.now()
            await c.api.create("deployments.apps", {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "load", "namespace": "default"},
                "spec": {"replicas": 5000, "selector": {"matchLabels": {"app": "load"}}, "template": {
                    "metadata": {"labels": {"app": "load"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                             "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}]}}}})

            async def all_running() -> bool:
                return sum(1 for p in c.api.objects("pods", "default")
                           if p["status"].get("phase") == "Running") == 5000
            await rt.wait_until(all_running, 1800.0, poll=5.0)
            running = rt.now() - started

            async def available() -> bool:
                return c.api.objects("deployments.apps", "default")[0]["status"].get("availableReplicas") == 5000
            await rt.wait_until(available, 60.0, poll=1.0)
            return running

        took = c.rt.run(main)
        # 5,000 creates at 20 qps take 250 s at least; status updates share the bucket
        assert 250.0 <= took < 1800.0
        registry = c.rt.metrics.registry
        count = sum(s.value for m in registry.collect() if m.name == "kubelet_pod_start_sli_duration_seconds"
                    for s in m.samples if s.name.endswith("_count"))
        assert count == 5000
        assert not c.not_ready_seen
    finally:
        c.close()
