"""The cloud provider interface the cloud-controller-manager's controllers use
(k8s.io/cloud-provider: InstancesV2, LoadBalancer, Routes), over calls to the fake cloud
actor. Every failure is a `CloudProviderError`: the controllers retry with backoff."""

from __future__ import annotations

from typing import Any

from kubesim.runtime.address import Address
from kubesim.runtime.context import Context
from kubesim.runtime.errors import RuntimeErrorBase

Obj = dict[str, Any]
#: long enough for a load balancer's modelled provisioning (p99 300 s) and then some.
CALL_TIMEOUT = 1800.0


class CloudProviderError(Exception):
    """A cloud call failed (an API error, or no answer)."""


def load_balancer_name(service: Obj) -> str:
    """cloudprovider.DefaultLoadBalancerName: "a" + the service uid without dashes, at most 32."""
    return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]


def node_ref(node: Obj) -> Obj:
    return {"node": node["metadata"]["name"], "providerID": (node.get("spec") or {}).get("providerID", "")}


class CloudProvider:
    """cloudprovider.Interface for one caller actor."""

    def __init__(self, ctx: Context, cloud: Address | str) -> None:
        self.ctx = ctx
        self.cloud = cloud

    async def _call(self, op: str, **args: Any) -> Any:
        try:
            return await self.ctx.call(self.cloud, {"op": op, **args}, timeout=CALL_TIMEOUT)
        except RuntimeErrorBase as err:
            raise CloudProviderError(f"{op}: {err}") from err

    # InstancesV2 ------------------------------------------------------------------------
    async def instance_exists(self, node: Obj) -> bool:
        return bool(await self._call("instance_exists", **node_ref(node)))

    async def instance_shutdown(self, node: Obj) -> bool:
        return bool(await self._call("instance_shutdown", **node_ref(node)))

    async def instance_metadata(self, node: Obj) -> Obj | None:
        result: Obj | None = await self._call("instance_metadata", **node_ref(node))
        return result

    # LoadBalancer -----------------------------------------------------------------------
    async def get_load_balancer(self, service: Obj) -> Obj | None:
        result: Obj | None = await self._call("get_load_balancer", name=load_balancer_name(service))
        return result

    async def ensure_load_balancer(self, service: Obj, nodes: list[Obj]) -> Obj:
        """Create or update the load balancer; returns its LoadBalancerStatus once ready."""
        ports = [{"name": p.get("name", ""), "protocol": p.get("protocol", "TCP"), "port": p.get("port"),
                  "nodePort": p.get("nodePort")} for p in (service.get("spec") or {}).get("ports") or []]
        hosts = sorted(n["metadata"]["name"] for n in nodes)
        result: Obj = await self._call("ensure_load_balancer", name=load_balancer_name(service),
                                       ports=ports, hosts=hosts)
        return result

    async def ensure_load_balancer_deleted(self, service: Obj) -> None:
        await self._call("delete_load_balancer", name=load_balancer_name(service))

    # Routes -----------------------------------------------------------------------------
    async def list_routes(self, cluster: str) -> list[Obj]:
        result: list[Obj] = await self._call("list_routes", cluster=cluster)
        return result

    async def create_route(self, cluster: str, name: str, target_node: str, cidr: str) -> None:
        await self._call("create_route", cluster=cluster, name=name, targetNode=target_node, destinationCIDR=cidr)

    async def delete_route(self, name: str) -> None:
        await self._call("delete_route", name=name)
