"""Context.route: messages sent with a routed tag go to the library's handler instead of
the actor's `receive`, on both runtimes (they both deliver through ActorHost)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.actor import Actor
from kubesim.runtime.sim import SimRuntime

A, B = Address("test", "a"), Address("test", "b")


class Routed(Actor):
    """Routes `["tagged", ...]` to a handler; `receive` records everything else."""

    def __init__(self) -> None:
        self.routed: list[Any] = []
        self.received: list[Any] = []

    def on_start(self) -> None:
        self.ctx.route("tagged", self._take)

    def _take(self, sender: Address, message: list[Any]) -> None:
        self.routed.append([str(sender), message[1]])

    def receive(self, sender: Address, message: Any) -> Any:
        if message[0] == "send":
            for item in message[2]:
                self.ctx.send(message[1], item)
            return None
        if message[0] == "seen":
            return {"routed": self.routed, "received": self.received}
        self.received.append(message)
        return "called" if message[0] == "tagged" else None


def place(rt: Any) -> None:
    rt.add_machine(Machine("m1"))
    rt.add_machine(Machine("m2"))
    rt.spawn(ActorSpec(A, Routed, "m1", host="h1"))
    rt.spawn(ActorSpec(B, Routed, "m2", host="h2"))


async def exchange(rt: Any) -> tuple[Any, Any]:
    await rt.ask(A, ["send", str(B), [["tagged", 1], ["plain", 2], ["tagged", 3]]])
    called = await rt.ask(B, ["tagged", 4])  # a call is the actor's own business

    async def arrived() -> bool:
        return len((await rt.ask(B, ["seen"]))["routed"]) == 2

    await rt.wait_until(arrived, 30.0)
    seen = await rt.ask(B, ["seen"])
    return called, {"routed": seen["routed"], "received": sorted(seen["received"])}


def test_routed_tags_bypass_receive_on_sim():
    with SimRuntime(seed=1) as rt:
        place(rt)
        called, seen = rt.run(exchange)
        assert called == "called"
        assert seen == {"routed": [["test/a", 1], ["test/a", 3]],
                        "received": [["plain", 2], ["tagged", 4]]}
        actor = rt.actor(B)
        with pytest.raises(ValueError, match="already have a handler"):
            actor.ctx.route("tagged", lambda sender, message: None)
        rt.run(lambda r: r.restart_actor(B))
        assert rt.actor(B).ctx.routes.keys() == {"tagged"}  # re-registered by the new incarnation


@pytest.mark.ray
def test_routed_tags_bypass_receive_on_ray(ray_local, tmp_path):
    from ray import cloudpickle

    from kubesim.runtime.ray.runtime import RayRuntime

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    rt = RayRuntime(seed=1, run_dir=tmp_path)
    place(rt)
    try:
        called, seen = rt.run(exchange)
    finally:
        rt.close()
    assert called == "called"
    assert seen == {"routed": [["test/a", 1], ["test/a", 3]],
                    "received": [["plain", 2], ["tagged", 4]]}
