"""Issue 4's HA acceptance on the sim runtime, through ApiserverClient against real etcd and
real apiserver replicas: two writers racing on one object through two replicas (exactly
one 409), and one of three replicas killed under load (no acknowledged write lost, watches
resume without a gap, clients keep working)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kubesim.api.status import APIError
from kubesim.components.client.informers import SharedInformerFactory
from tests.components.apiserver.rest.clusters import TOKEN, configmap, sim_control_plane
from tests.components.apiserver.test_client import holder

MERGE = "application/merge-patch+json"


def test_two_writers_race_through_two_replicas_exactly_one_gets_409():
    rt, plane = sim_control_plane(seed=21, apiservers=2)
    try:
        first = holder(rt, "first", plane.apiservers[:1], token=TOKEN)
        second = holder(rt, "second", plane.apiservers[1:], token=TOKEN)

        async def race(rt):
            await first.create("configmaps", configmap("raced", n="0"))
            outcomes = []
            for round_ in range(10):
                # both read the same resourceVersion (the second replica's cache may lag
                # the first's write: wait until both see the same object)
                while True:
                    a, b = await asyncio.gather(first.get("configmaps", "default", "raced"),
                                                second.get("configmaps", "default", "raced"))
                    if a["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]:
                        break
                    await rt.sleep(0.01)

                async def write(client, obj, value):
                    try:
                        await client.update("configmaps", dict(obj, data={"n": value}))
                        return 200
                    except APIError as err:
                        return (err.code, err.reason)

                outcomes.append(sorted(await asyncio.gather(write(first, a, f"{round_}a"),
                                                            write(second, b, f"{round_}b")), key=str))
            return outcomes

        outcomes = rt.run(race)
        assert outcomes == [[(409, "Conflict"), 200]] * 10
        assert {first.replica, second.replica} == set(plane.apiservers)
    finally:
        rt.close()


@dataclass
class Writer:
    """Creates `w<i>-<k>` objects and bumps its counter `counter-<i>` with optimistic
    concurrency; records what the apiserver acknowledged."""

    index: int
    client: Any
    created: list[str] = field(default_factory=list)  # acknowledged creates
    bumps: list[tuple[int, int]] = field(default_factory=list)  # acknowledged (rv, value)
    acked_at: list[float] = field(default_factory=list)
    unknown: int = 0  # 504s: the write may or may not have happened

    async def run(self, rt: Any, rounds: int) -> None:
        counter = await self.client.create("configmaps", configmap(f"counter-{self.index}", n="0"))
        for k in range(rounds):
            await self._create(rt, f"w{self.index}-{k}")
            counter = await self._bump(rt, counter)

    async def _create(self, rt: Any, name: str) -> None:
        while True:
            try:
                await self.client.create("configmaps", configmap(name))
            except APIError as err:
                if err.code == 504:
                    self.unknown += 1
                    continue  # resend: 201, or 409 AlreadyExists if the first one happened
                if err.reason == "AlreadyExists":
                    return
                raise
            self.created.append(name)
            self.acked_at.append(rt.now())
            return

    async def _bump(self, rt: Any, counter: dict[str, Any]) -> dict[str, Any]:
        while True:
            value = int(counter["data"]["n"]) + 1
            try:
                counter = await self.client.update("configmaps", dict(counter, data={"n": str(value)}))
            except APIError as err:
                if err.code not in (409, 504):
                    raise
                self.unknown += err.code == 504
                counter = await self.client.get("configmaps", "default", f"counter-{self.index}")
                if int(counter["data"]["n"]) >= value:
                    return counter  # the unknown write did happen
                continue
            self.bumps.append((int(counter["metadata"]["resourceVersion"]), value))
            self.acked_at.append(rt.now())
            return counter


@dataclass
class RawWatcher:
    """A watch of every configmap that re-watches from the last resourceVersion it saw
    whenever its stream ends (as a reflector does), recording every event."""

    client: Any
    events: list[tuple[str, str, str, int]] = field(default_factory=list)
    streams: int = 0
    replicas: list[str] = field(default_factory=list)

    async def run(self, rv: str) -> None:
        while True:
            try:
                stream = await self.client.watch("configmaps", "default", resource_version=rv)
            except APIError as err:
                assert err.code >= 500, err.status
                continue
            self.streams += 1
            self.replicas.append(self.client.replica)
            while (event := await stream.next()) is not None:
                assert event["type"] != "ERROR", event
                obj = event["object"]
                rv = obj["metadata"]["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                self.events.append((event["type"], obj["metadata"]["name"],
                                    (obj.get("data") or {}).get("n", ""), int(rv)))


def test_one_of_three_replicas_killed_under_load():
    rt, plane = sim_control_plane(seed=22, apiservers=3)
    try:
        writers = [Writer(i, holder(rt, f"writer-{i}", plane.apiservers, token=TOKEN))
                   for i in range(4)]
        watcher = RawWatcher(holder(rt, "watcher", plane.apiservers, token=TOKEN))
        informer_client = holder(rt, "informer", plane.apiservers, token=TOKEN)
        informer_actor = rt.actor("holder/informer")
        rounds = 30

        async def scenario(rt):
            start_rv = (await watcher.client.list("configmaps", "default"))["metadata"]["resourceVersion"]
            watch_task = asyncio.ensure_future(watcher.run(start_rv))
            factory = SharedInformerFactory(informer_client, informer_actor.ctx)
            informer = factory.informer("configmaps", namespace="default")
            factory.start()
            await factory.wait_for_cache_sync()
            load = asyncio.gather(*(w.run(rt, rounds) for w in writers))

            async def busy() -> bool:
                return all(len(w.created) >= 8 for w in writers)

            await rt.wait_until(busy, 120.0, poll=0.05)
            victim = watcher.client.replica
            await rt.crash_actor(victim)
            crashed_at = rt.now()
            await load
            final = await writers[0].client.list("configmaps", "default")
            last_rv = int(final["metadata"]["resourceVersion"])

            async def caught_up() -> bool:
                informed = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                            for o in informer.indexer.list()}
                listed = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                          for o in final["items"]}
                return bool(watcher.events) and watcher.events[-1][3] >= last_rv and informed == listed

            await rt.wait_until(caught_up, 180.0, poll=0.5)
            watch_task.cancel()
            factory.stop()
            return victim, crashed_at, final

        victim, crashed_at, final = rt.run(scenario, limit=3600.0)
    finally:
        rt.close()

    stored = {o["metadata"]["name"]: o for o in final["items"]}
    for w in writers:
        # every acknowledged write is stored; writes went on after the crash
        assert set(w.created) <= set(stored)
        assert {f"w{w.index}-{k}" for k in range(rounds)} <= set(stored)  # 504s resent
        assert int(stored[f"counter-{w.index}"]["data"]["n"]) == rounds
        assert any(t > crashed_at for t in w.acked_at)
    # the watcher saw one ordered history without gaps or repeats, across the crash
    rvs = [e[3] for e in watcher.events]
    assert rvs == sorted(set(rvs))
    assert watcher.streams >= 2 and victim in watcher.replicas[:1] and victim not in watcher.replicas[1:]
    assert set(stored) <= {e[1] for e in watcher.events}
    for w in writers:
        values = [int(e[2]) for e in watcher.events if e[1] == f"counter-{w.index}"]
        assert values == list(range(rounds + 1))  # every committed bump, in order
        seen = {(e[3], int(e[2])) for e in watcher.events if e[1] == f"counter-{w.index}"}
        assert set(w.bumps) <= seen
    for name in (n for w in writers for n in w.created):
        assert [e[0] for e in watcher.events if e[1] == name] == ["ADDED"]
