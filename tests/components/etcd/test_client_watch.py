"""The etcd client's watch when its member only answers slowly: the check times out, the
watch resumes, and the watch it left is cancelled on the member, so the member does not
stream the same events twice and the client buffers nothing for watches it left."""

from __future__ import annotations

import asyncio

from tests.components.etcd.cluster_helpers import client, sim_cluster


def test_a_resumed_watch_cancels_the_one_it_left():
    rt, endpoints = sim_cluster(seed=4, size=1)
    with rt:
        member = rt.actor(endpoints[0])

        async def main(r):
            c = client(rt)
            watch = await c.watch({"key": b"k/", "range_end": b"k0"})
            assert (await watch.next())["created"]
            left = watch._member_watch
            # the member's answers are held for 5 s: a check unanswered for the keepalive
            # timeout (two 1 s check periods) makes the watch resume
            partition = rt.partition(["client-0"], [rt.machine_of(endpoints[0])])
            await r.sleep(5.0)
            rt.heal(partition)
            for i in range(5):
                await c.put({"key": f"k/{i}".encode(), "value": b"v"})
            keys = []
            while len(keys) < 5:
                keys += [e["kv"]["key"] for e in (await watch.next())["events"]]
            await r.sleep(2.0)
            return left, watch._member_watch, keys, c._early

        left, now, keys, early = rt.run(main)
        assert now != left
        assert keys == [f"k/{i}".encode() for i in range(5)]
        assert early == {}
        assert len(member.sm.hub) == 1  # only the watch the client follows now


def test_a_resume_whose_catch_up_overtakes_the_create_reply_delivers_it():
    """The member streams the catch-up events of a resumed watch as it creates it; when they
    arrive before the reply naming the watch they are buffered and taken in at adoption, not
    dropped (dropping them made the next event look like a gap, and under load a watch
    resumed for ever: the apiservers' caches stopped on ray)."""
    rt, endpoints = sim_cluster(seed=4, size=1, clients=2)
    with rt:
        async def main(r):
            c, writer = client(rt, 0), client(rt, 1)
            watch = await c.watch({"key": b"k/", "range_end": b"k0"})
            assert (await watch.next())["created"]
            call = c.ctx.call

            async def slow_create_reply(to, message, **kwargs):
                reply = await call(to, message, **kwargs)
                if message[:2] == ["watch", "create"]:
                    await r.sleep(0.5)  # the member's events for it are on their way meanwhile
                return reply

            c.ctx.call = slow_create_reply
            # the watcher is cut off while another client writes: the events wait for the
            # resumed watch's catch-up
            partition = rt.partition(["client-0"], [rt.machine_of(endpoints[0])])
            for i in range(3):
                await writer.put({"key": f"k/{i}".encode(), "value": b"v"})
            watch._resume()
            await r.sleep(0.2)
            rt.heal(partition)
            keys = []
            while len(keys) < 3:
                response = await asyncio.wait_for(watch.next(), timeout=60.0)
                keys += [e["kv"]["key"] for e in response["events"]]
            return keys

        keys = rt.run(main)
        assert keys == [f"k/{i}".encode() for i in range(3)]
