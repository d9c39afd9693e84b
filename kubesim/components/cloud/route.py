"""The route controller of cloud-controller-manager (k8s.io/cloud-provider
controllers/route/route_controller.go, v1.32): cloud routes for the pod CIDRs of nodes.

Every `--route-reconciliation-period` (10 s) it lists the cluster's routes and the nodes:
each CIDR in a node's `spec.podCIDRs` gets a route to that node (named after the cluster
and the node's uid), at most 200 creations at once, and the node's NetworkUnavailable
condition is set False (RouteCreated) once all its routes exist, True (NoRouteCreated)
if one failed. Routes of this cluster that no node wants any more (a deleted node, a
changed CIDR) are deleted.
"""

from __future__ import annotations

import asyncio

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.store import Obj
from kubesim.components.cloud.provider import CloudProvider, CloudProviderError
from kubesim.components.controllers.base import ControllerContext, PeriodicController
from kubesim.components.controllers.pods import condition

#: maxConcurrentRouteCreations.
MAX_CONCURRENT_ROUTE_CREATIONS = 200
ROUTE_RECONCILIATION_PERIOD = 10.0


def pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def route_name(cluster: str, node: Obj, index: int) -> str:
    """The name hint is the node's uid; a second CIDR (dual stack) gets a suffix."""
    base = f"{cluster}-{node['metadata']['uid']}"
    return base if index == 0 else f"{base}-{index}"


class RouteController(PeriodicController):
    name = "route"

    def __init__(self, cc: ControllerContext, cloud: CloudProvider, cluster_name: str,
                 period: float = ROUTE_RECONCILIATION_PERIOD) -> None:
        super().__init__(cc, period)
        self.cloud = cloud
        self.cluster_name = cluster_name
        self.node_informer = cc.informers.informer("nodes")
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_ROUTE_CREATIONS)

    async def tick(self) -> None:
        try:
            await self.reconcile_once()
        except CloudProviderError:
            pass  # the next period tries again

    async def reconcile_once(self) -> None:
        routes = await self.cloud.list_routes(self.cluster_name)
        nodes = self.node_informer.indexer.list()
        await self.reconcile(nodes, routes)

    async def reconcile(self, nodes: list[Obj], routes: list[Obj]) -> None:
        existing = {(r["targetNode"], r["destinationCIDR"]) for r in routes}
        wanted: set[tuple[str, str]] = set()
        jobs = []
        for node in nodes:
            name = node["metadata"]["name"]
            cidrs = pod_cidrs(node)
            wanted.update((name, cidr) for cidr in cidrs)
            missing = [(i, cidr) for i, cidr in enumerate(cidrs) if (name, cidr) not in existing]
            if cidrs:
                jobs.append(self._node_routes(node, missing))
        for route in routes:
            if (route["targetNode"], route["destinationCIDR"]) not in wanted:
                jobs.append(self._delete(route))
        await self.ctx.gather(*jobs)

    async def _node_routes(self, node: Obj, missing: list[tuple[int, str]]) -> None:
        results = await self.ctx.gather(*(self._create(node, i, cidr) for i, cidr in missing))
        created = all(r is True for r in results)
        try:
            await self._update_network_condition(node, created)
        except APIError:
            pass  # the node changed or went; the next period tries again

    async def _create(self, node: Obj, index: int, cidr: str) -> bool:
        async with self._limit:
            try:
                await self.cloud.create_route(self.cluster_name, route_name(self.cluster_name, node, index),
                                              node["metadata"]["name"], cidr)
            except CloudProviderError:
                return False
        return True

    async def _delete(self, route: Obj) -> None:
        try:
            await self.cloud.delete_route(route["name"])
        except CloudProviderError:
            pass

    async def _update_network_condition(self, node: Obj, created: bool) -> None:
        current = condition(node, "NetworkUnavailable")
        want = "False" if created else "True"
        if current is not None and current.get("status") == want:
            return
        stamp = meta.timestamp(self.cc.now())
        cond = {"type": "NetworkUnavailable", "status": want,
                "reason": "RouteCreated" if created else "NoRouteCreated",
                "message": "RouteController created a route" if created
                else "RouteController failed to create a route",
                "lastTransitionTime": stamp, "lastHeartbeatTime": stamp}
        fresh = deep_copy(await self.client.get("nodes", "", node["metadata"]["name"]))
        status = fresh.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "NetworkUnavailable"]
        status["conditions"].append(cond)
        await self.client.update("nodes", fresh, "status")
