"""The in-cluster ApiserverClient on the sim runtime against real etcd and real apiserver
replicas: CRUD, list, watch, errors as APIError, credentials, spreading over replicas,
lost watch messages, and a replica crash under a watch and under a write."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import ApiserverClient, ApiserverWatch, client_factory
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from tests.components.apiserver.rest.clusters import TOKEN, configmap, deployment, sim_control_plane


class Holder(Actor):
    """An actor that owns one client and takes no messages itself: watch events reach
    the client through the runtime's routing, or the actor raises."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def on_start(self) -> None:
        self.client = self.factory(self.ctx)

    def receive(self, sender: Address, message: Any) -> Any:
        raise AssertionError(f"the holder got a message: {message!r}")


def holder(rt, name: str, replicas: list[str], **options: Any) -> ApiserverClient:
    rt.add_machine(Machine(name, "zone-a", "client"))
    rt.spawn(ActorSpec(Address("holder", name), Holder, name,
                       kwargs={"factory": client_factory(replicas, **options)}))
    actor = rt.actor(f"holder/{name}")
    assert isinstance(actor, Holder)
    return actor.client


@pytest.fixture(scope="module")
def one():
    rt, plane = sim_control_plane(seed=11)
    yield rt, plane, holder(rt, "h1", plane.apiservers, token=TOKEN, user_agent="test")
    rt.close()


def test_crud_list_and_errors(one):
    rt, _plane, client = one

    async def go(rt):
        created = await client.create("configmaps", configmap("c1", a="1"))
        assert created["metadata"]["namespace"] == "default"
        got = await client.get("configmaps", "default", "c1")
        assert got["data"] == {"a": "1"}
        updated = await client.update("configmaps", dict(got, data={"a": "2"}))
        assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
        with pytest.raises(APIError) as stale:
            await client.update("configmaps", dict(got, data={"a": "3"}))
        assert (stale.value.code, stale.value.reason) == (409, "Conflict")
        with pytest.raises(APIError) as exists:
            await client.create("configmaps", configmap("c1"))
        assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
        with pytest.raises(APIError) as invalid:
            await client.create("configmaps", configmap("Bad_Name"))
        assert invalid.value.code == 422 and invalid.value.reason == "Invalid"
        patched = await client.patch("configmaps", "default", "c1", {"data": {"b": "x"}},
                                     patch_type="application/merge-patch+json")
        assert patched["data"] == {"a": "2", "b": "x"}
        await client.create("deployments.apps", dict(deployment("d1"),
                                                     metadata={"name": "d1", "namespace": "default"}))
        scale = await client.get("deployments.apps", "default", "d1", "scale")
        assert scale["kind"] == "Scale" and scale["spec"] == {"replicas": 1}
        listed = await client.list("configmaps", "default", field_selector="metadata.name=c1")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["c1"]
        assert listed["kind"] == "ConfigMapList"
        page = await client.list("namespaces", limit=2)
        assert len(page["items"]) == 2 and page["metadata"]["continue"]
        rest = await client.list("namespaces", continue_token=page["metadata"]["continue"])
        assert len(page["items"]) + len(rest["items"]) >= 4
        dry = await client.create("configmaps", configmap("dry"), dry_run=True)
        assert dry["metadata"]["name"] == "dry"
        with pytest.raises(APIError) as missing:
            await client.get("configmaps", "default", "dry")
        assert missing.value.code == 404
        with pytest.raises(APIError) as precondition:
            await client.delete("configmaps", "default", "c1", preconditions={"uid": "nope"})
        assert precondition.value.code == 409
        deleted = await client.delete("configmaps", "default", "c1")
        assert deleted["status"] == "Success"
        with pytest.raises(APIError) as gone:
            await client.get("configmaps", "default", "c1")
        assert gone.value.status["message"] == 'configmaps "c1" not found'
        with pytest.raises(APIError) as unknown:
            await client.get("gadgets", "default", "g")
        assert unknown.value.code == 404

    rt.run(go)


def test_watch_from_a_resource_version_through_routing(one):
    rt, _plane, client = one

    async def go(rt):
        rv = (await client.create("configmaps", configmap("w1", v="0")))["metadata"]["resourceVersion"]
        stream = await client.watch("configmaps", "default", field_selector="metadata.name=w1",
                                    resource_version=rv)
        for v in ("1", "2"):
            await client.patch("configmaps", "default", "w1", {"data": {"v": v}},
                               patch_type="application/merge-patch+json")
        await client.delete("configmaps", "default", "w1")
        events = [await stream.next() for _ in range(3)]
        await stream.stop()
        return events, await stream.next()

    events, after_stop = rt.run(go)
    assert [(e["type"], e["object"]["data"]["v"]) for e in events] == [
        ("MODIFIED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]
    assert after_stop is None


def test_watch_timeout_ends_the_stream(one):
    rt, _plane, client = one

    async def go(rt):
        stream = await client.watch("configmaps", "default", timeout_seconds=5,
                                    allow_watch_bookmarks=False)
        started = rt.now()
        assert await stream.next() is None
        return rt.now() - started

    assert 4.9 <= rt.run(go) < 6.0


def test_a_lost_watch_message_ends_the_stream_and_stops_the_server_watch(one):
    rt, plane, client = one

    async def go(rt):
        stream = await client.watch("configmaps", "default")
        assert isinstance(stream, ApiserverWatch)
        stream.on_message(["watch_events", stream.watch_id, stream.seq + 2, [{"type": "ADDED"}]])
        assert await stream.next() is None
        await rt.sleep(1.0)
        return stream.watch_id, await rt.ask(plane.apiservers[0], ["watch_check", [stream.watch_id]])

    _watch_id, sent = rt.run(go)
    assert sent == [-1]  # the replica stopped serving it


def test_credentials():
    rt, plane = sim_control_plane(seed=12)
    try:
        anonymous = holder(rt, "anon", plane.apiservers)
        scheduler = holder(rt, "sched", plane.apiservers, user="system:kube-scheduler",
                           groups=["system:authenticated"])

        async def go(rt):
            with pytest.raises(APIError) as denied:
                await anonymous.list("pods")
            assert (denied.value.code, denied.value.reason) == (401, "Unauthorized")
            return await scheduler.list("pods")

        assert rt.run(go)["items"] == []
    finally:
        rt.close()


@pytest.fixture(scope="module")
def three():
    rt, plane = sim_control_plane(seed=13, apiservers=3)
    yield rt, plane
    rt.close()


def test_clients_spread_over_replicas_and_stick(three):
    rt, plane = three
    clients = [holder(rt, f"s{i}", plane.apiservers, token=TOKEN) for i in range(12)]

    async def go(rt):
        first = []
        for c in clients:
            await c.list("namespaces")
            first.append(c.replica)
        for c in clients:
            await c.get("namespaces", "", "default")
        return first, [c.replica for c in clients]

    first, again = rt.run(go)
    assert len(set(first)) == 3
    assert first == again


def test_replica_crash_ends_watches_and_clients_move_on(three):
    rt, plane = three
    client = holder(rt, "crash", plane.apiservers, token=TOKEN)

    async def go(rt):
        base = await client.create("configmaps", configmap("k", n="0"))
        stream = await client.watch("configmaps", "default", field_selector="metadata.name=k",
                                    resource_version=base["metadata"]["resourceVersion"])
        victim = client.replica
        assert victim is not None
        await client.patch("configmaps", "default", "k", {"data": {"n": "1"}},
                           patch_type="application/merge-patch+json")
        first = await stream.next()
        await rt.crash_actor(victim)
        crashed_at = rt.now()
        ended = await stream.next()
        detected = rt.now() - crashed_at
        # a read moves to a live replica; the informer's re-watch from its last RV too
        got = await client.get("configmaps", "default", "k")
        assert client.replica != victim
        resumed = await client.watch("configmaps", "default", field_selector="metadata.name=k",
                                     resource_version=first["object"]["metadata"]["resourceVersion"])
        await client.patch("configmaps", "default", "k", {"data": {"n": "2"}},
                           patch_type="application/merge-patch+json")
        after = await resumed.next()
        await resumed.stop()
        return first, ended, detected, got, after, victim

    first, ended, detected, got, after, victim = rt.run(go)
    assert first["object"]["data"] == {"n": "1"}
    assert ended is None
    assert 30.0 <= detected <= 30.0 + 15.0 + 15.0  # idle timeout, the ping, one check period
    assert got["data"] == {"n": "1"}
    assert (after["type"], after["object"]["data"]) == ("MODIFIED", {"n": "2"})
    rt.run(lambda r: r.restart_actor(victim))


def test_a_write_to_a_dead_replica_fails_with_504_and_is_not_resent(three):
    rt, plane = three
    victim = plane.apiservers[1]
    pinned = holder(rt, "pinned", [victim], token=TOKEN)
    rt.run(lambda r: r.crash_actor(victim))

    async def go(rt):
        with pytest.raises(APIError) as unknown:
            await pinned.create("configmaps", configmap("maybe"))
        return unknown.value

    err = rt.run(go)
    assert (err.code, err.reason) == (504, "Timeout")
    assert "may or may not have been applied" in err.message
    rt.run(lambda r: r.restart_actor(victim))
