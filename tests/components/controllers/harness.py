"""A simulated cluster for controller tests: the sim runtime, a FakeAPIServer, one
kube-controller-manager, and a stand-in for the scheduler and kubelets that binds pods to
nodes and reports them Running and Ready after a delay."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kubesim.api import meta
from kubesim.components.controllers.daemonset import target_node
from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer
from tests.components.sim_driver import EPOCH, SimDriver

KCM = Address("kube-controller-manager", "kcm-0")


def container(name: str = "app", image: str = "nginx:1.25") -> dict[str, Any]:
    return {"name": name, "image": image}


def template(labels: dict[str, str], image: str = "nginx:1.25") -> dict[str, Any]:
    return {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container(image=image)]}}


def ready_status(now: float) -> dict[str, Any]:
    stamp = meta.timestamp(now)
    return {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": stamp},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp}]}


def node_object(name: str, zone: str, now: float) -> dict[str, Any]:
    stamp = meta.timestamp(now)
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
                       "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}


class Cluster(SimDriver):
    """One simulated control plane; `api` is the FakeAPIServer every component talks to."""

    def __init__(self, seed: int = 0, *, controllers: tuple[str, ...] = ("*",),
                 graceful_pods: bool = False, kcm: dict[str, Any] | None = None,
                 kubelet_delay: float | None = 2.0, nodes: list[str] | None = None,
                 zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c"), heartbeats: bool = False) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = FakeAPIServer(clock=self.now, rng=random.Random(seed), graceful_pods=graceful_pods)
        self.kubelet_delay = kubelet_delay
        self.nodes = list(nodes if nodes is not None else ["node-0", "node-1", "node-2"])
        #: pods the stand-in kubelet reports ready (the others stay Running, not ready).
        self.becomes_ready: Callable[[dict[str, Any]], bool] = lambda pod: True
        self._next_node = 0
        self._next_ip = 0
        self.rt.add_machine(Machine("cp-0", zone="zone-a", role="control-plane"))
        api = self.api
        kwargs = {"client": lambda ctx: api, "controllers": controllers, "leader_elect": False,
                  "epoch": EPOCH, **(kcm or {})}
        self.rt.spawn(ActorSpec(KCM, KubeControllerManager, "cp-0", kwargs=kwargs))
        if kubelet_delay is not None:
            self.api.observers.append(self._kubelet)
        #: nodes whose kubelet stopped renewing its Lease.
        self.dead: set[str] = set()
        for i, node in enumerate(self.nodes):
            self.create("nodes", node_object(node, zones[i % len(zones)], self.now()))
            if heartbeats:
                self.create("leases.coordination.k8s.io", {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": node, "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                             "renewTime": meta.micro_timestamp(self.now())}}, "kube-node-lease")
                self.rt.loop.call_later(10.0, self._renew, node)

    @property
    def kcm(self) -> KubeControllerManager:
        return self.rt.actor(KCM)  # type: ignore[return-value]

    def pods(self, namespace: str = "default") -> list[dict[str, Any]]:
        return self.api.objects("pods", namespace)

    # -- the stand-in for scheduler and kubelet ---------------------------------------
    def _renew(self, node: str) -> None:
        """The kubelet's node lease heartbeat (every 10 s) while the node lives."""
        if node in self.dead:
            return
        stamp = meta.micro_timestamp(self.now())
        self.api.mutate("leases.coordination.k8s.io", "kube-node-lease", node,
                        lambda lease: lease["spec"].__setitem__("renewTime", stamp))
        self.rt.loop.call_later(10.0, self._renew, node)

    def revive(self, node: str) -> None:
        """The kubelet is back: it renews the lease and posts Ready again."""
        self.dead.discard(node)
        stamp = meta.timestamp(self.now())

        def ready(n: dict[str, Any]) -> None:
            for cond in n["status"]["conditions"]:
                if cond["type"] == "Ready":
                    changed = cond["status"] != "True"
                    cond.update(status="True", reason="KubeletReady", message="kubelet is posting ready status",
                                lastHeartbeatTime=stamp)
                    if changed:
                        cond["lastTransitionTime"] = stamp
        self.api.mutate("nodes", "", node, ready)
        self._renew(node)

    def _kubelet(self, event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource != "pods" or event != "ADDED":
            return
        md = obj["metadata"]
        self.rt.loop.call_later(0, self._bind, md["namespace"], md["name"], md["uid"])

    def _bind(self, namespace: str, name: str, uid: str) -> None:
        pod = self._live(namespace, name, uid)
        if pod is None or pod["spec"].get("nodeName"):
            if pod is not None:
                self.rt.loop.call_later(self.kubelet_delay, self._start, namespace, name, uid)
            return
        node = target_node(pod) or self.nodes[self._next_node % len(self.nodes)]
        self._next_node += 1
        self.api.mutate("pods", namespace, name, lambda p: p["spec"].__setitem__("nodeName", node))
        self.rt.loop.call_later(self.kubelet_delay, self._start, namespace, name, uid)

    def _start(self, namespace: str, name: str, uid: str) -> None:
        pod = self._live(namespace, name, uid)
        if pod is None or meta.is_being_deleted(pod):
            return
        status = ready_status(self.now())
        self._next_ip += 1
        ip = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 1}"
        status.update(podIP=ip, podIPs=[{"ip": ip}])
        if not self.becomes_ready(pod):
            status["conditions"][0]["status"] = "False"
        self.api.mutate("pods", namespace, name, lambda p: p.__setitem__("status", {**p["status"], **status}))

    def _live(self, namespace: str, name: str, uid: str) -> dict[str, Any] | None:
        pod = self.api.find("pods", namespace, name)
        return pod if pod is not None and pod["metadata"]["uid"] == uid else None
