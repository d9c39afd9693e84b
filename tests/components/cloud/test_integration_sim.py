"""cloud-controller-manager against a real etcd member and apiserver on the sim runtime:
the load-balancer-cleanup finalizer and status.loadBalancer go through the real merge
patch and status subresource, and the finalizer holds the Service until its load balancer
is gone."""

from __future__ import annotations

from typing import Any

from kubesim.components.apiserver.client import client_factory
from kubesim.components.cloud.actor import FakeCloudActor
from kubesim.components.cloud.manager import CloudControllerManager
from kubesim.components.cloud.service import LB_CLEANUP_FINALIZER
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane
from tests.components.apiserver.test_client import holder
from tests.components.cloud.harness import CLOUD, EPOCH


def test_load_balancer_through_a_real_apiserver():
    rt, plane = sim_control_plane(seed=31)
    try:
        rt.add_machine(Machine("cloud-api", "zone-a", "external"))
        rt.spawn(ActorSpec(CLOUD, FakeCloudActor, "cloud-api", kwargs={
            "instances": [{"name": "node-0", "zone": "zone-a", "internalIP": "10.0.0.10"}]}))
        rt.add_machine(Machine("cp-ccm", "zone-a", "control-plane"))
        rt.spawn(ActorSpec(Address("cloud-controller-manager", "ccm-0"), CloudControllerManager, "cp-ccm", kwargs={
            "client": client_factory(plane.apiservers, token=TOKEN, user_agent="cloud-controller-manager"),
            "cloud": str(CLOUD), "epoch": EPOCH}))
        client = holder(rt, "test-driver", plane.apiservers, token=TOKEN)

        async def go(rt: Any) -> dict[str, Any]:
            await client.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0"},
                                          "spec": {"taints": [{"key": "node.cloudprovider.kubernetes.io/uninitialized",
                                                               "value": "true", "effect": "NoSchedule"}]}})
            await client.create("services", {"apiVersion": "v1", "kind": "Service",
                                             "metadata": {"name": "web", "namespace": "default"},
                                             "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                                                      "ports": [{"port": 80, "targetPort": 8080}]}})

            async def provisioned() -> bool:
                svc = await client.get("services", "default", "web")
                return bool(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"))
            await rt.wait_until(provisioned, 1800.0, poll=1.0)
            svc = await client.get("services", "default", "web")
            node = await client.get("nodes", "", "node-0")
            await client.delete("services", "default", "web")
            held = await client.get("services", "default", "web")

            async def gone() -> bool:
                return not (await client.list("services", "default", field_selector="metadata.name=web"))["items"]
            await rt.wait_until(gone, 60.0)
            return {"svc": svc, "node": node, "held": held}

        out = rt.run(go)
        assert out["svc"]["metadata"]["finalizers"] == [LB_CLEANUP_FINALIZER]
        assert out["svc"]["status"]["loadBalancer"]["ingress"][0]["ip"] == "203.0.113.1"
        assert out["node"]["spec"]["providerID"] == "fake://zone-a/node-0"
        assert not out["node"]["spec"].get("taints")
        assert out["held"]["metadata"].get("deletionTimestamp")
        assert rt.actor(CLOUD).cloud.load_balancers == {}  # type: ignore[attr-defined]
    finally:
        rt.close()
