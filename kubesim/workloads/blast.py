"""The blast workload: one source floods small messages at sinks on another host; it
measures how many messages per second a runtime's transport moves."""

from __future__ import annotations

from typing import Any

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime

SOURCE = Address("blast", "source")
YIELD_EVERY = 5000  # sends between yields, so batch timers and replies get their turn


def sink(index: int) -> Address:
    return Address("blast", f"sink-{index}")


class Sink(Actor):
    """Counts what arrives; answers how many."""

    def __init__(self) -> None:
        self.count = 0

    def receive(self, sender: Address, message: Any) -> Any:
        if message == "count":
            return self.count
        self.count += 1
        return None


class Source(Actor):
    """On `{"n": N, "sinks": K}`, sends N small messages round-robin and returns once all arrived."""

    def receive(self, sender: Address, message: Any) -> Any:
        return self._blast(message["n"], message["sinks"])

    async def _blast(self, n: int, sinks: int) -> dict[str, Any]:
        targets = [str(sink(i)) for i in range(sinks)]
        started = self.ctx.now()
        for i in range(n):
            self.ctx.send(targets[i % sinks], i)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await self.ctx.sleep(0)
        while True:
            counts = [await self.ctx.call(t, "count") for t in targets]
            if sum(counts) >= n:
                return {"messages": n, "simulated_seconds": self.ctx.now() - started}
            await self.ctx.sleep(0.001)


def place(runtime: Runtime, sinks: int = 4) -> None:
    """A source on one host and `sinks` sinks sharing another (different machines, one zone)."""
    runtime.add_machine(Machine("blast-a", zone="zone-0"))
    runtime.add_machine(Machine("blast-b", zone="zone-0"))
    runtime.spawn(ActorSpec(SOURCE, Source, "blast-a", host="blast-a"))
    for i in range(sinks):
        runtime.spawn(ActorSpec(sink(i), Sink, "blast-b", host="blast-b"))
