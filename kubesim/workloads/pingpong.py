"""The broadcast/ping-pong workload: the runtime's proof of life at scale.

A coordinator broadcasts a round to N members; each member calls a random peer
(ping/pong) and reports back; the round ends when all have reported. Per round that
is 4N messages: N broadcast sends, N calls, N replies, N reports.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime

RTT_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0)
COORDINATOR = Address("pingpong", "coordinator")


def member(index: int) -> Address:
    return Address("member", f"m{index}")


class Member(Actor):
    """Answers pings; on each round, pings a random peer and reports the round trip."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count

    def on_start(self) -> None:
        self.m_rtt = self.ctx.metrics.histogram(
            "kubesim_pingpong_rtt_seconds", "Round trip of a ping call between members.", buckets=RTT_BUCKETS
        )

    def receive(self, sender: Address, message: Any) -> Any:
        op = message["op"]
        if op == "ping":
            return {"op": "pong", "from": self.index}
        if op == "round":
            return self._round(message["round"])
        raise ValueError(f"unknown op {op!r}")

    async def _round(self, number: int) -> None:
        peer = self.ctx.random.randrange(self.count - 1) if self.count > 1 else 0
        if peer >= self.index and self.count > 1:
            peer += 1
        started = self.ctx.now()
        reply = await self.ctx.call(member(peer), {"op": "ping", "round": number})
        if reply["from"] != peer:
            raise RuntimeError(f"pong from {reply['from']}, expected {peer}")
        rtt = self.ctx.now() - started
        self.m_rtt.observe(rtt)
        self.ctx.send(COORDINATOR, {"op": "done", "round": number, "rtt": rtt})


class Coordinator(Actor):
    """Runs the rounds when asked; answers status queries while it does."""

    def __init__(self, members: int, rounds: int) -> None:
        self.members = members
        self.rounds = rounds
        self.round = -1
        self.reported = 0
        self.rtts: list[float] = []
        self._round_done: asyncio.Future[None] | None = None

    def on_start(self) -> None:
        self.m_rounds = self.ctx.metrics.counter(
            "kubesim_pingpong_rounds_total", "Completed broadcast/ping-pong rounds."
        )

    def receive(self, sender: Address, message: Any) -> Any:
        op = message["op"]
        if op == "run":
            return self._run()
        if op == "status":
            return {"round": self.round, "reported": self.reported, "rounds": self.rounds}
        if op == "done":
            if message["round"] != self.round:
                raise RuntimeError(f"report for round {message['round']} during round {self.round}")
            self.reported += 1
            self.rtts.append(message["rtt"])
            if self.reported == self.members and self._round_done is not None:
                self._round_done.set_result(None)
            return None
        raise ValueError(f"unknown op {op!r}")

    async def _run(self) -> dict[str, Any]:
        started = self.ctx.now()
        for number in range(self.rounds):
            self.round = number
            self.reported = 0
            self._round_done = asyncio.get_running_loop().create_future()
            for i in range(self.members):
                self.ctx.send(member(i), {"op": "round", "round": number})
            await self._round_done
            self.m_rounds.inc()
        elapsed = self.ctx.now() - started
        rtts = sorted(self.rtts)
        return {
            "members": self.members,
            "rounds": self.rounds,
            "messages": 4 * self.members * self.rounds,
            "simulated_seconds": elapsed,
            "rtt_p50": rtts[len(rtts) // 2] if rtts else 0.0,
            "rtt_p99": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] if rtts else 0.0,
        }


def place(runtime: Runtime, members: int, rounds: int, hosts: int, zones: int) -> None:
    """Spawn the workload: members spread over `hosts` machines (one host actor each on Ray)."""
    if members < 2:
        raise ValueError("the ping-pong workload needs at least 2 members")
    for h in range(hosts):
        runtime.add_machine(Machine(f"pool-{h}", zone=f"zone-{h % zones}", role="worker"))
    runtime.add_machine(Machine("coordinator", zone="zone-0", role="control-plane"))
    runtime.spawn(ActorSpec(COORDINATOR, Coordinator, "coordinator", {"members": members, "rounds": rounds}))
    for i in range(members):
        pool = f"pool-{i % hosts}"
        runtime.spawn(
            ActorSpec(member(i), Member, pool, {"index": i, "count": members}, host=pool, metric_labels={"pool": pool})
        )
