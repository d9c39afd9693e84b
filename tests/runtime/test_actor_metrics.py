"""An actor's metrics live as long as its process: they leave the registry when it stops or
crashes (a dead process serves no /metrics), and a restarted actor counts from zero."""

from __future__ import annotations

from typing import Any

from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.actor import Actor
from kubesim.runtime.sim import SimRuntime

LEADER = Address("test", "leader")
OTHER = Address("test", "other")


class Counting(Actor):
    def on_start(self) -> None:
        self.master = self.ctx.metrics.gauge("leader_election_master_status", "leading", ["name"])
        self.master.labels("test").set(1)
        self.requests = self.ctx.metrics.counter("requests_total", "requests", ["verb"])
        self.plain = self.ctx.metrics.counter("ticks_total", "ticks")

    def receive(self, sender: Address, message: Any) -> Any:
        self.requests.labels(verb="GET").inc()
        self.plain.inc()
        return "ok"


def samples(rt: SimRuntime, name: str) -> dict[str, float]:
    return {labels["instance"]: value for sample, labels, value in rt.metrics.samples([name])
            if not sample.endswith("_created")}


def test_series_go_with_the_process_and_a_restart_counts_from_zero():
    with SimRuntime(seed=1) as rt:
        rt.add_machine(Machine("m1", zone="z1"))
        for address in (LEADER, OTHER):
            rt.spawn(ActorSpec(address, Counting, "m1", metric_labels={"instance": address.name}))

        async def main(r: Any) -> None:
            for _ in range(3):
                await r.ask(LEADER, "x")
                await r.ask(OTHER, "x")
            assert samples(rt, "requests_total") == {"leader": 3.0, "other": 3.0}
            await r.crash_actor(LEADER)
            assert samples(rt, "leader_election_master_status") == {"other": 1.0}
            assert samples(rt, "requests_total") == {"other": 3.0}
            assert samples(rt, "ticks_total") == {"other": 3.0}
            await r.restart_actor(LEADER)
            await r.ask(LEADER, "x")
            assert samples(rt, "requests_total") == {"leader": 1.0, "other": 3.0}
            assert samples(rt, "leader_election_master_status") == {"leader": 1.0, "other": 1.0}

        rt.run(main)
