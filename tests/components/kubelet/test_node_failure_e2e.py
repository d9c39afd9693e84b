"""A stopped kubelet, end to end on `sim` against the in-memory apiserver: real kubelets, the
real kube-scheduler and kube-controller-manager (replicaset, nodelifecycle,
taint-eviction-controller). The node goes NotReady after the node-monitor grace period, its
pods are evicted after their 300 s tolerationSeconds and the ReplicaSet's replacements run
on the other nodes; started again, the kubelet finishes the evicted pods and its node is
Ready and untainted."""

from __future__ import annotations

from typing import Any

from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.components.scheduler.actor import SchedulerActor
from kubesim.runtime import ActorSpec, Address, Machine
from tests.components.scheduler.fakes import SchedulingFakeAPIServer

from .harness import EPOCH, Cluster

LABELS = {"app": "web"}
UNREACHABLE = "node.kubernetes.io/unreachable"
#: --node-monitor-grace-period (40 s) + --node-monitor-period (5 s)
GRACE = 45.0
TOLERATION = 300.0


def replicaset(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS},
                                  "spec": {"containers": [{"name": "app", "image": "example.com/small:1"}]}}}}


def control_plane(c: Cluster) -> None:
    c.rt.add_machine(Machine("cp-0", zone="zone-a", role="control-plane"))
    client = c._client
    c.rt.spawn(ActorSpec(Address("kube-controller-manager", "kcm-0"), KubeControllerManager, "cp-0",
                         kwargs={"client": lambda ctx: client, "leader_elect": False, "epoch": EPOCH,
                                 "controllers": ("replicaset", "nodelifecycle", "taint-eviction-controller")}))
    c.rt.spawn(ActorSpec(Address("scheduler", "s-0"), SchedulerActor, "cp-0",
                         kwargs={"client_factory": lambda ctx: client, "epoch": EPOCH}))


def running_on(c: Cluster) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pod in c.api.objects("pods", "default"):
        if (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            out.setdefault(pod["spec"]["nodeName"], []).append(pod["metadata"]["name"])
    return out


def ready(c: Cluster, node: str) -> str:
    conditions = c.get("nodes", "", node)["status"]["conditions"]
    return next(x["status"] for x in conditions if x["type"] == "Ready")


def tainted(c: Cluster, node: str) -> bool:
    return any(t["key"] == UNREACHABLE for t in c.get("nodes", "", node)["spec"].get("taints") or [])


def test_pods_of_a_stopped_kubelet_move_to_other_nodes_within_grace_plus_toleration():
    c = Cluster(seed=3, api=SchedulingFakeAPIServer)
    try:
        nodes = [c.kubelet(i) for i in range(1, 4)]
        control_plane(c)

        async def main():
            await c.until(lambda: all((c.get("nodes", "", n) or {}).get("status") and ready(c, n) == "True"
                                      for n in nodes), timeout=60)
            await c.api.create("replicasets.apps", replicaset(6))
            await c.until(lambda: sum(map(len, running_on(c).values())) == 6, timeout=120)
            victim = max(nodes, key=lambda n: len(running_on(c).get(n, [])))
            moved = running_on(c)[victim]
            await c.rt.ask(f"kubelet/{victim}", {"op": "stop_kubelet"})
            stopped = c.rt.now()
            await c.until(lambda: ready(c, victim) == "Unknown", timeout=GRACE + 5)
            assert c.rt.now() - stopped >= 40.0 - 10.0  # the last renewal was at most 10 s before the stop
            await c.until(lambda: tainted(c, victim), timeout=10)
            await c.rt.sleep(TOLERATION - 20)
            assert all(c.get("pods", "default", p) is not None and not
                       c.get("pods", "default", p)["metadata"].get("deletionTimestamp") for p in moved)
            await c.until(lambda: sum(len(v) for n, v in running_on(c).items() if n != victim) == 6,
                          timeout=60)
            took = c.rt.now() - stopped
            # the evicted pods stay Terminating while their kubelet is down
            assert all(c.get("pods", "default", p)["metadata"].get("deletionTimestamp") for p in moved)
            await c.rt.ask(f"kubelet/{victim}", {"op": "start_kubelet"})
            await c.until(lambda: all(c.get("pods", "default", p) is None for p in moved), timeout=60)
            await c.until(lambda: ready(c, victim) == "True" and not tainted(c, victim), timeout=60)
            return took

        took = c.run(main, limit=2000)
        assert GRACE + TOLERATION - 10 <= took <= GRACE + TOLERATION + 20
    finally:
        c.close()
