"""The cluster the dashboard acceptance test watches: a `kind: Cluster` spec run by
`kubesim.cluster.run_cluster` on the ray runtime (etcd, apiserver, scheduler, controller
manager, a kubelet and a kube-proxy per node, the load prober, one Deployment), plus
`ServiceLoad`, an actor that adds what the spec's load lacks: once the spec's Deployment
is available it puts a Service in front of it, scales it up and creates a second
Deployment and Service (EndpointSlice changes for kube-proxy, scheduling and pod starts
while Prometheus watches)."""

from __future__ import annotations

from typing import Any

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import client_factory
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime

LOAD = Address("service-load", "driver")
POLL = 1.0
CHURN_PERIOD = 3.0  # seconds between scalings of Deployment api (3 <-> 5 replicas)


def spec(name: str, duration: float) -> dict[str, Any]:
    return {
        "kind": "Cluster", "name": name, "zones": ["zone-a"],
        # three etcd members (peer RTT), one apiserver, scheduler and controller manager
        "controlPlane": {"topology": "stacked", "machines": 3, "apiservers": 1, "schedulers": 1,
                         "controllerManagers": 1},
        "nodePools": [{"name": "pool-a", "count": 3}],
        "workloads": [{"name": "web", "replicas": 4, "cpu": "10m", "memory": "16Mi"}],
        "probe": {"writesPerSecond": 5, "readsPerSecond": 5},
        "duration": f"{duration:g}s",
        "runtime": {"type": "ray", "seed": 3},
    }


class ServiceLoad(Actor):
    """Waits for Deployment `web`, then: Service web, web scaled to 7, Deployment and
    Service `api` (3 replicas), and from then on scales api between 3 and 5 replicas
    every CHURN_PERIOD; `["done"]` tells whether the objects are created."""

    def __init__(self, apiservers: list[str], token: str) -> None:
        self.factory = client_factory(apiservers, token=token, user_agent="dashboards-test")
        self.done = False

    def on_start(self) -> Any:
        return self._drive()

    def receive(self, sender: Address, message: Any) -> Any:
        if message == ["done"]:
            return self.done
        raise ValueError(f"unknown message {message!r}")

    async def _drive(self) -> None:
        api = self.factory(self.ctx)
        while not await self._available(api, "web"):
            await self.ctx.sleep(POLL)
        await api.create("services", service("web", "10.96.100.10"), "default")
        await api.patch("deployments.apps", "default", "web", {"spec": {"replicas": 7}},
                        patch_type="application/merge-patch+json")
        await api.create("deployments.apps", deployment("api", 3), "default")
        await api.create("services", service("api", "10.96.100.11"), "default")
        self.done = True
        replicas = 3
        while True:  # churn: endpoint changes to program, pods to schedule, start and stop
            await self.ctx.sleep(CHURN_PERIOD)
            replicas = 5 if replicas == 3 else 3
            await api.patch("deployments.apps", "default", "api", {"spec": {"replicas": replicas}},
                            patch_type="application/merge-patch+json")

    @staticmethod
    async def _available(api: Any, name: str) -> bool:
        try:
            obj = await api.get("deployments.apps", "default", name)
        except APIError:
            return False
        return (obj.get("status") or {}).get("availableReplicas", 0) >= obj["spec"]["replicas"] > 0


def place_load(rt: Runtime, apiservers: list[str], token: str) -> None:
    rt.add_machine(Machine("load-client", "zone-a", "client"))
    rt.spawn(ActorSpec(LOAD, ServiceLoad, "load-client", kwargs={"apiservers": apiservers, "token": token}))


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                                           "resources": {"requests": {"cpu": "10m"}}}]}}}}


def service(name: str, cluster_ip: str) -> dict[str, Any]:
    """A ClusterIP Service; the IP is given because the simulated apiserver allocates none
    yet (and kube-proxy, as upstream, skips a Service without one)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": cluster_ip, "selector": {"app": name},
                     "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}}
