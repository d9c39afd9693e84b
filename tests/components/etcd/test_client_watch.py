"""The etcd client's watch when its member only answers slowly: the check times out, the
watch resumes, and the watch it left is cancelled on the member, so the member does not
stream the same events twice and the client buffers nothing for watches it left."""

from __future__ import annotations

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
