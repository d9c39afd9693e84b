"""Test support: an etcd cluster on the sim runtime and a client actor to drive it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.components.etcd.client import EtcdClient
from kubesim.components.etcd.cluster import place_etcd
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.sim import SimRuntime


class ClientActor(Actor):
    """Runs coroutines handed to it by the test with an `EtcdClient` of its own."""

    def __init__(self, endpoints: list[str]) -> None:
        self.endpoints = endpoints

    def on_start(self) -> None:
        self.client = EtcdClient(self.ctx, self.endpoints)

    def receive(self, sender: Address, message: Any) -> Any:
        if self.client.handles(message):
            self.client.deliver(str(sender), message)
            return None
        raise ValueError(f"unexpected message {message!r}")


def client_address(i: int = 0) -> Address:
    return Address("etcd-client", f"c{i}")


def sim_cluster(
    seed: int,
    size: int = 3,
    clients: int = 1,
    settings: dict[str, Any] | None = None,
    observer: Callable[[tuple[Any, ...]], None] | None = None,
) -> tuple[SimRuntime, list[str]]:
    rt = SimRuntime(seed=seed)
    endpoints = place_etcd(rt, size, settings, observer=observer)
    for i in range(clients):
        rt.add_machine(Machine(f"client-{i}", "zone-a", "client"))
        rt.spawn(ActorSpec(client_address(i), ClientActor, f"client-{i}", {"endpoints": endpoints}))
    return rt, endpoints


def client(rt: SimRuntime, i: int = 0) -> EtcdClient:
    return rt.actor(client_address(i)).client  # type: ignore[attr-defined]
