"""Stream links between host actors (kubesim/runtime/ray/links.py), without Ray: frames in
order, frames to a starting peer wait for its port, frames to a dead peer are dropped and
counted, and the link finds the peer's new port after it restarts."""

from __future__ import annotations

import asyncio

from kubesim.runtime.metrics import MetricsRegistry
from kubesim.runtime.ray import links
from kubesim.runtime.ray.links import StreamLinks

DROPPED = "kubesim_batches_dropped_total"


class Peers:
    """Hosts by name, each with its links, what it received and a published port (or none)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, tuple[str, int]] = {}
        self.received: dict[str, list[bytes]] = {}
        self.metrics = MetricsRegistry()

    def host(self, name: str) -> StreamLinks:
        self.received[name] = []

        async def lookup(host: str) -> tuple[str, int] | None:
            return self.endpoints.get(host)

        return StreamLinks(lookup, self.received[name].append, self.metrics.handle({"host": name}))

    async def publish(self, name: str, host: StreamLinks) -> None:
        self.endpoints[name] = ("127.0.0.1", await host.listen("127.0.0.1"))

    def dropped(self, name: str) -> float:
        return sum(v for n, labels, v in self.metrics.samples([DROPPED]) if n == DROPPED and labels["host"] == name)


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_frames_arrive_in_order_and_wait_for_a_starting_peer():
    async def main() -> None:
        peers = Peers()
        a, b = peers.host("a"), peers.host("b")
        batches = [bytes([i % 256]) * (1 + i * 37 % 5000) for i in range(300)]
        for batch in batches[:100]:  # b has not published its port: the frames wait
            a.send("b", batch)
        await asyncio.sleep(0.2)
        assert peers.received["b"] == []
        await peers.publish("b", b)
        for batch in batches[100:]:
            a.send("b", batch)
        await until(lambda: len(peers.received["b"]) == len(batches))
        assert peers.received["b"] == batches
        assert peers.dropped("a") == 0
        a.close()
        b.close()

    asyncio.run(main())


def test_a_dead_peer_loses_frames_until_it_is_back_on_a_new_port(monkeypatch):
    monkeypatch.setattr(links, "RETRY_SECONDS", 0.1)

    async def main() -> None:
        peers = Peers()
        a, b = peers.host("a"), peers.host("b")
        await peers.publish("b", b)
        a.send("b", b"first")
        await until(lambda: peers.received["b"] == [b"first"])
        b.close()  # the process dies: its server and connections go, its old port stays published
        peers.received["b"].clear()
        await asyncio.sleep(0.05)
        for i in range(5):
            a.send("b", b"lost %d" % i)
            await asyncio.sleep(0.05)
        b2 = peers.host("b")  # restarted: a new port
        await peers.publish("b", b2)
        await asyncio.sleep(0.15)

        def sent_after_restart() -> bool:
            a.send("b", b"again")
            return b"again" in peers.received["b"]

        await until(sent_after_restart)
        assert not [frame for frame in peers.received["b"] if frame.startswith(b"lost")]
        assert peers.dropped("a") == 5
        a.close()
        b2.close()

    asyncio.run(main())
