"""The fake cloud as an actor: the cloud API every cloud-controller-manager replica calls.

Each request takes a modelled time from the cost model (`cloud.*` keys): a read or small
write `cloud.api_call`; creating a load balancer `cloud.load_balancer_provision` (the
call returns once it is ready, as EnsureLoadBalancer implementations poll until then;
a second call for a load balancer still provisioning waits for the same moment); a route
`cloud.route_create`. Terminating an instance (`terminate_instance`, the fault a test or
a scenario injects) leaves it shutting down for `cloud.instance_deletion_detection`
before the API stops reporting it.

Messages are dicts with an `op`; a `CloudError` reaches the caller as a RemoteError.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from kubesim.components.cloud.fake import CloudError, FakeCloud
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address


class FakeCloudActor(Actor):
    """`instances`: `{"name", "zone", "internalIP", "instanceType"?}` that exist from the start."""

    def __init__(self, instances: list[dict[str, Any]] | None = None) -> None:
        self.cloud = FakeCloud()
        for inst in instances or []:
            self.cloud.add_instance(inst["name"], inst["zone"], inst["internalIP"],
                                    inst.get("instanceType", "fake.large"))

    def receive(self, sender: Address, message: Any) -> Coroutine[Any, Any, Any]:
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ValueError(f"fake cloud: a request is a dict with an op, got {message!r}")
        handler = getattr(self, "_op_" + message["op"], None)
        if handler is None:
            raise ValueError(f"fake cloud: unknown op {message['op']!r}")
        return handler(message)

    def _sample(self, key: str) -> float:
        return self.ctx.cost.sample(key, self.ctx.random)

    async def _api_call(self) -> None:
        await self.ctx.sleep(self._sample("cloud.api_call"))

    # instances --------------------------------------------------------------------------
    async def _op_add_instance(self, m: dict[str, Any]) -> dict[str, Any]:
        await self._api_call()
        return self.cloud.add_instance(m["name"], m["zone"], m["internalIP"],
                                       m.get("instanceType", "fake.large")).metadata()

    async def _op_terminate_instance(self, m: dict[str, Any]) -> None:
        await self._api_call()
        self.cloud.terminate_instance(m["name"], self.ctx.now(), self._sample("cloud.instance_deletion_detection"))

    async def _op_instance_metadata(self, m: dict[str, Any]) -> dict[str, Any] | None:
        await self._api_call()
        inst = self.cloud.find_instance(m["node"], m.get("providerID", ""), self.ctx.now())
        return None if inst is None else inst.metadata()

    async def _op_instance_exists(self, m: dict[str, Any]) -> bool:
        await self._api_call()
        return self.cloud.find_instance(m["node"], m.get("providerID", ""), self.ctx.now()) is not None

    async def _op_instance_shutdown(self, m: dict[str, Any]) -> bool:
        await self._api_call()
        inst = self.cloud.find_instance(m["node"], m.get("providerID", ""), self.ctx.now())
        if inst is None:
            raise CloudError("InvalidInstanceID.NotFound", f"instance of node {m['node']} not found")
        return inst.state == "shutting-down"

    # load balancers ---------------------------------------------------------------------
    async def _op_get_load_balancer(self, m: dict[str, Any]) -> dict[str, Any] | None:
        await self._api_call()
        lb = self.cloud.load_balancers.get(m["name"])
        return None if lb is None or lb.ready_at > self.ctx.now() else lb.status()

    async def _op_ensure_load_balancer(self, m: dict[str, Any]) -> dict[str, Any]:
        new = m["name"] not in self.cloud.load_balancers
        delay = self._sample("cloud.load_balancer_provision") if new else 0.0
        lb = self.cloud.ensure_load_balancer(m["name"], m["ports"], m["hosts"], self.ctx.now(), delay)
        await self._api_call()
        if lb.ready_at > self.ctx.now():
            await self.ctx.sleep(lb.ready_at - self.ctx.now())
        if self.cloud.load_balancers.get(m["name"]) is not lb:
            raise CloudError("LoadBalancerNotFound", f"load balancer {m['name']} was deleted while provisioning")
        return lb.status()

    async def _op_delete_load_balancer(self, m: dict[str, Any]) -> bool:
        await self._api_call()
        return self.cloud.delete_load_balancer(m["name"])

    # routes -----------------------------------------------------------------------------
    async def _op_list_routes(self, m: dict[str, Any]) -> list[dict[str, Any]]:
        await self._api_call()
        return [r.to_message() for r in self.cloud.list_routes(m["cluster"])]

    async def _op_create_route(self, m: dict[str, Any]) -> dict[str, Any]:
        route = self.cloud.create_route(m["cluster"], m["name"], m["targetNode"], m["destinationCIDR"])
        await self.ctx.sleep(self._sample("cloud.route_create"))
        return route.to_message()

    async def _op_delete_route(self, m: dict[str, Any]) -> bool:
        await self._api_call()
        return self.cloud.delete_route(m["name"])
