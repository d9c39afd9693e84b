"""The chain inside an actor on the sim runtime: the actor's ctx is the ActorContext."""

from __future__ import annotations

import asyncio
from typing import Any

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission import Chain, new_chain
from kubesim.runtime import Actor, ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime
from tests.components.apiserver.admission.fakes import (
    NAMESPACES,
    RESOURCE_QUOTAS,
    FakeStore,
    create,
    namespace,
    pod,
    quota,
)

ADMITTER = Address("test", "admitter")


class Admitter(Actor):
    """Runs each pod create it is sent through the admission chain."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def on_start(self) -> None:
        self.chain: Chain = new_chain(self.store, self.store.update_quota_status, self.ctx)

    def receive(self, sender: Address, message: Any) -> Any:
        return self._create(message)

    async def _create(self, obj: dict[str, Any]) -> dict[str, Any]:
        start = self.ctx.now()
        attrs = create(obj, "pods")
        try:
            await self.chain.admit(attrs)
            await self.chain.validate(attrs)
        except APIError as err:
            return {"code": err.code, "message": err.message, "waited": self.ctx.now() - start}
        return {"code": 201, "waited": self.ctx.now() - start}


def _run(store: FakeStore, *pods: dict[str, Any]) -> list[dict[str, Any]]:
    with SimRuntime(seed=3) as rt:
        rt.add_machine(Machine("m1", zone="z1"))
        rt.spawn(ActorSpec(ADMITTER, Admitter, "m1", kwargs={"store": store}))

        async def main(r):
            return await asyncio.gather(*(r.ask(ADMITTER, p, timeout=10) for p in pods))

        return rt.run(main)


def test_missing_namespace_waits_50ms_of_virtual_time():
    [result] = _run(FakeStore(), pod("web", ns="nope"))
    assert result["code"] == 404 and result["message"] == 'namespaces "nope" not found'
    assert abs(result["waited"] - 0.05) < 1e-9


def test_quota_batch_runs_as_an_actor_task_and_admits_one_of_two_for_the_last_slot():
    store = FakeStore()
    store.put(NAMESPACES, namespace("ns"))
    store.put(RESOURCE_QUOTAS, quota("q", {"pods": "1"}))
    results = _run(store, pod("a"), pod("b"))
    assert sorted(r["code"] for r in results) == [201, 403]
    assert store.stored_obj(RESOURCE_QUOTAS, "ns", "q")["status"]["used"] == {"pods": "1"}
