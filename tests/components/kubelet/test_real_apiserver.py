"""Kubelets against the real control plane on `sim`: an etcd member, an apiserver replica
and the actor-message client. The kubelets register Ready Nodes with their Leases, and a
pod bound to a node by hand runs there, its status written through pods/status."""

from __future__ import annotations

from typing import Any

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import client_factory
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.kubelet import kubelet_spec
from kubesim.runtime.address import Machine
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane

EPOCH = 1_700_000_000.0
NODES = 3


def test_kubelets_register_and_run_a_pod_bound_by_hand():
    rt, plane = sim_control_plane(seed=5)
    try:
        for i in range(NODES):
            cfg = KubeletConfig.for_node(i, epoch=EPOCH, zone="zone-a")
            rt.add_machine(Machine(cfg.node_name, "zone-a", "worker"))
            factory = client_factory(plane.apiservers, user=f"system:node:{cfg.node_name}",
                                     groups=["system:nodes"], user_agent="kubelet/v1.32.0")
            rt.spawn(kubelet_spec(cfg, factory, host="nodes-0"))
        rt.add_machine(Machine("admin", "zone-a", "client"))
        admin = client_factory(plane.apiservers, token=TOKEN)

        async def main(rt: Any) -> dict[str, Any]:
            # the driver talks to the apiserver through an actor of the run: use a kubelet's
            # own client for reads, and the admin identity for the pod
            kubelet = rt.actor("kubelet/node-1")
            api = admin(kubelet.ctx)

            async def all_ready() -> bool:
                nodes = await api.list("nodes")
                return len(nodes["items"]) == NODES and all(
                    any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                    for n in nodes["items"])

            await rt.wait_until(all_ready, 60.0, poll=1.0)
            await api.create("pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"nodeName": "node-1",
                         "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}})

            async def running() -> bool:
                pod = await api.get("pods", "default", "web")
                return pod["status"].get("phase") == "Running"

            await rt.wait_until(running, 60.0, poll=0.5)
            pod = await api.get("pods", "default", "web")
            lease = await api.get("leases.coordination.k8s.io", "kube-node-lease", "node-1")
            node = await api.get("nodes", "", "node-1")
            await api.delete("pods", "default", "web")

            async def gone() -> bool:
                try:
                    await api.get("pods", "default", "web")
                except APIError as err:
                    return err.code == 404
                return False

            await rt.wait_until(gone, 60.0, poll=0.5)
            return {"pod": pod, "lease": lease, "node": node}

        got = rt.run(main)
    finally:
        rt.close()
    pod, lease, node = got["pod"], got["lease"], got["node"]
    assert pod["status"]["podIP"].startswith("10.244.1.")
    assert pod["status"]["hostIP"] == "10.0.0.11"
    assert pod["status"]["containerStatuses"][0]["ready"] is True
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    assert node["spec"]["podCIDR"] == "10.244.1.0/24"
