"""The sim runtime: determinism, network model, crashes, storage durability, calls, timers."""

from __future__ import annotations

import gc

import pytest

from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.errors import CallTimeout, RemoteError, SimulationStalled
from kubesim.runtime.sim import SimRuntime
from kubesim.runtime.sim.collector import SIM_GC_THRESHOLDS
from kubesim.workloads import pingpong
from tests.runtime.helpers import Recorder

A = Address("test", "a")
B = Address("test", "b")


def two_machines(rt: SimRuntime, zone_b: str = "z1") -> None:
    rt.add_machine(Machine("m1", zone="z1"))
    rt.add_machine(Machine("m2", zone=zone_b))
    rt.spawn(ActorSpec(A, Recorder, "m1"))
    rt.spawn(ActorSpec(B, Recorder, "m2"))


def pingpong_hash(seed: int) -> tuple[str, dict]:
    with SimRuntime(seed=seed) as rt:
        pingpong.place(rt, members=200, rounds=3, hosts=4, zones=2)
        result = rt.run(lambda r: r.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=600))
        return rt.trace_hash(), result


def test_same_seed_same_trace_other_seed_other_trace():
    h1, r1 = pingpong_hash(7)
    h2, r2 = pingpong_hash(7)
    h3, _ = pingpong_hash(8)
    assert h1 == h2 and r1 == r2
    assert h1 != h3
    assert r1["messages"] == 4 * 200 * 3


def test_latency_follows_link_class():
    with SimRuntime(seed=1) as rt:
        two_machines(rt, zone_b="z2")
        rt.add_machine(Machine("m3", zone="z1"))
        c = Address("test", "c")
        rt.spawn(ActorSpec(c, Recorder, "m3"))

        async def main(r):
            await r.tell(A, {"op": "send", "to": str(B), "body": "x"})
            await r.tell(A, {"op": "send", "to": str(c), "body": "y"})
            await r.sleep(1)

        rt.run(main)
        cross = rt.actor(B).got[0][0]
        same_zone = rt.actor(c).got[0][0]
        assert same_zone < cross
        assert cross >= rt.cost.latency("network.cross_zone").median * 0.2


def test_partition_holds_messages_until_heal():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)
        part = rt.partition(["m1"], ["m2"])

        async def main(r):
            await r.tell(A, {"op": "send", "to": str(B), "body": "during"})
            await r.sleep(30)
            assert r.actor(B).got == []
            r.heal(part)
            await r.sleep(1)

        rt.run(main)
        got = rt.actor(B).got
        assert [m for _, _, m in got] == ["during"]
        assert got[0][0] >= 30


def test_one_way_partition_blocks_one_direction_only():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)
        rt.partition(["m1"], ["m2"], one_way=True, mode="drop")

        async def main(r):
            await r.tell(A, {"op": "send", "to": str(B), "body": "a->b"})
            await r.tell(B, {"op": "send", "to": str(A), "body": "b->a"})
            await r.sleep(5)

        rt.run(main)
        assert [m for _, _, m in rt.actor(A).got if m == "b->a"] == ["b->a"]
        assert all(m != "a->b" for _, _, m in rt.actor(B).got)


def test_crashed_machine_receives_nothing_until_restart():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)

        async def main(r):
            r.crash_machine("m2")
            await r.tell(A, {"op": "send", "to": str(B), "body": "lost"})
            await r.sleep(5)
            r.restart_machine("m2")
            await r.tell(A, {"op": "send", "to": str(B), "body": "after"})
            await r.sleep(5)

        rt.run(main)
        b = rt.actor(B)
        assert b.ctx.incarnation == 1
        assert [m for _, _, m in b.got if isinstance(m, str)] == ["after"]


def test_restart_reads_back_what_was_fsynced_and_not_the_rest():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)

        async def main(r):
            await r.ask(B, {"op": "append", "data": b"durable|"})
            assert await r.ask(B, {"op": "fsync"}) == "synced"
            await r.ask(B, {"op": "append", "data": b"volatile"})
            assert await r.ask(B, {"op": "read"}) == b"durable|volatile"
            r.crash_machine("m2")
            r.restart_machine("m2")
            return await r.ask(B, {"op": "read"})

        assert rt.run(main) == b"durable|"


def test_fsync_interrupted_by_crash_loses_the_write():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)
        rt.slow_disk("m2", 1000.0)

        async def main(r):
            await r.ask(B, {"op": "append", "data": b"x"})
            await r.tell(B, {"op": "fsync"})
            await r.sleep(0.001)
            await r.crash_actor(B)
            await r.restart_actor(B)
            return await r.ask(B, {"op": "read"})

        assert rt.run(main) == b""


def test_call_timeout_and_remote_error():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)

        async def main(r):
            with pytest.raises(RemoteError, match="asked to fail"):
                await r.ask(B, {"op": "fail"})
            r.partition(["m1"], ["m2"], mode="drop")
            with pytest.raises(RemoteError, match="CallTimeout"):
                await r.ask(A, {"op": "call", "to": str(B), "body": "hi", "timeout": 2.0})
            return r.now()

        assert rt.run(main) >= 2.0


def test_driver_call_to_dead_actor_times_out():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)

        async def main(r):
            await r.crash_actor(B)
            with pytest.raises(CallTimeout):
                await r.ask(B, "hello", timeout=1.0)

        rt.run(main)


def test_drop_and_duplicate_injection():
    with SimRuntime(seed=3) as rt:
        two_machines(rt)
        rt.network.set_faults(drop=0.5)

        async def main(r):
            for i in range(200):
                await r.tell(A, {"op": "send", "to": str(B), "body": i})
            await r.sleep(5)

        rt.run(main)
        n = len(rt.actor(B).got)
        assert 50 < n < 150

    with SimRuntime(seed=3) as rt:
        two_machines(rt)
        rt.network.set_faults(duplicate=1.0)

        async def main2(r):
            await r.tell(A, {"op": "send", "to": str(B), "body": "once"})
            await r.sleep(5)

        rt.run(main2)
        assert [m for _, _, m in rt.actor(B).got] == ["once", "once"]


def test_fifo_per_link_unless_reordered():
    def arrivals(reorder: float) -> list[int]:
        with SimRuntime(seed=5) as rt:
            two_machines(rt, zone_b="z2")
            rt.network.set_faults(reorder=reorder)

            async def main(r):
                for i in range(300):
                    await r.tell(A, {"op": "send", "to": str(B), "body": i})
                await r.sleep(5)

            rt.run(main)
            return [m for _, _, m in rt.actor(B).got]

    assert arrivals(0.0) == list(range(300))
    shuffled = arrivals(0.5)
    assert sorted(shuffled) == list(range(300)) and shuffled != list(range(300))


def test_timers_one_shot_periodic_and_cancelled_on_crash():
    with SimRuntime(seed=1) as rt:
        rt.add_machine(Machine("m1"))
        rt.spawn(ActorSpec(A, Recorder, "m1"))
        ticks: list[float] = []

        async def main(r):
            ctx = r.actor(A).ctx
            ctx.call_every(1.0, lambda: ticks.append(ctx.now()))
            once: list[float] = []
            ctx.call_later(2.5, lambda: once.append(ctx.now()))
            await r.sleep(3.5)
            await r.crash_actor(A)
            await r.sleep(5)
            return once

        once = rt.run(main)
        assert once == [2.5]
        assert ticks == [1.0, 2.0, 3.0]


def test_stalled_simulation_is_an_error_not_a_hang():
    with SimRuntime(seed=1) as rt:
        rt.add_machine(Machine("m1"))

        async def main(r):
            import asyncio

            await asyncio.get_running_loop().create_future()

        with pytest.raises(SimulationStalled):
            rt.run(main)


def test_a_run_that_never_ends_fails_at_its_time_limit():
    with SimRuntime(seed=1) as rt:
        rt.add_machine(Machine("m1"))

        async def main(r):
            while True:  # waits on a condition that never holds, with timers still going
                await r.sleep(1.0)

        with pytest.raises(TimeoutError, match="limit of 50 simulated seconds"):
            rt.run(main, limit=50)
        assert rt.now() <= 50


def test_messages_are_copied_through_the_wire_encoding():
    with SimRuntime(seed=1) as rt:
        two_machines(rt)
        body = {"list": (1, 2)}

        async def main(r):
            await r.tell(A, {"op": "send", "to": str(B), "body": body})
            await r.sleep(1)

        rt.run(main)
        assert rt.actor(B).got[0][2] == {"list": [1, 2]}


def test_a_run_paces_the_garbage_collector_and_restores_its_thresholds():
    before = gc.get_threshold()
    seen = []
    for thresholds in (SIM_GC_THRESHOLDS, None):
        with SimRuntime(seed=1, gc_thresholds=thresholds) as rt:
            rt.add_machine(Machine("m1"))

            async def main(r):
                seen.append(gc.get_threshold())

            rt.run(main)
        assert gc.get_threshold() == before
    assert seen == [SIM_GC_THRESHOLDS, before]
