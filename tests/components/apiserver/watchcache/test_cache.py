"""The watch cache: lists at resourceVersions, consistent reads, gets, selectors, bookmarks,
resumed and too-old watches, slow watchers, etcd watch breaks and compaction."""

from __future__ import annotations

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.watchcache import CacheSettings
from kubesim.components.apiserver.watchcache.watcher import INITIAL_EVENTS_END
from tests.components.apiserver.storage.helpers import configmap, pod
from tests.components.apiserver.watchcache.helpers import drain, kind, query, run_sim, summary


def names(listed) -> list[str]:
    return [i["metadata"]["name"] for i in listed["items"]]


def test_consistent_list_waits_for_the_cache_to_see_every_acknowledged_write():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        seen = []
        for i in range(5):
            await store.create("default", pod(f"p{i}"))
            listed = await cache.list("default", query())  # resourceVersion "": consistent
            seen.append((names(listed), listed["metadata"]["resourceVersion"]))
        return seen, env.backend.sm.store.revision

    seen, revision = run_sim(scenario)
    assert [n for n, _ in seen] == [[f"p{j}" for j in range(i + 1)] for i in range(5)]
    assert seen[-1][1] == str(revision)


def test_consistent_list_of_an_idle_kind_catches_up_through_a_progress_request():
    async def scenario(env):
        pods = await env.cache()
        configmaps = env.store("configmaps")
        for i in range(3):  # etcd's revision moves on, the pods prefix stays idle
            await configmaps.create("default", configmap(f"c{i}"))
        start = env.ctx.now()
        listed = await pods.list("", query())
        return listed, env.ctx.now() - start, env.backend.sm.store.revision

    listed, waited, revision = run_sim(scenario)
    assert listed["metadata"]["resourceVersion"] == str(revision)
    assert 0 < waited <= 0.2  # one progress request period, not the 3 s fallback


def test_list_not_older_than_a_future_revision_times_out_with_504():
    async def scenario(env):
        cache = await env.cache()
        start = env.ctx.now()
        with pytest.raises(APIError) as info:
            await cache.list("", query(resourceVersion="500"))
        return info.value, env.ctx.now() - start

    err, waited = run_sim(scenario)
    assert (err.code, err.reason) == (504, "Timeout")
    assert err.message == "Timeout: Too large resource version: 500, current: 1"
    assert err.status["details"]["retryAfterSeconds"] == 1
    assert waited == pytest.approx(3.0)


def test_resource_version_zero_and_selectors_and_delegated_lists():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        await store.create("a", pod("web-1", "a", labels={"app": "web"}, node="n1"))
        await store.create("b", pod("web-2", "b", labels={"app": "web"}))
        await store.create("b", pod("db-1", "b", labels={"app": "db"}, node="n1"))
        await cache.list("", query())  # caught up
        return [names(await cache.list(ns, q)) for ns, q in [
            ("", query(resourceVersion="0")),
            ("b", query(resourceVersion="0")),
            ("", query(resourceVersion="0", labelSelector="app=web")),
            ("", query(resourceVersion="0", fieldSelector="spec.nodeName=n1")),
            ("", query(resourceVersion="0", fieldSelector="metadata.namespace=b",
                       labelSelector="app!=web")),
            ("", query(resourceVersion="0", limit="1")),  # served whole from the cache
            ("", query(limit="1")),  # delegated to etcd: paginated
        ]]

    every, in_b, web, on_n1, b_not_web, rv0_limited, paged = run_sim(scenario)
    assert every == ["web-1", "db-1", "web-2"]
    assert in_b == ["db-1", "web-2"] and web == ["web-1", "web-2"]
    assert on_n1 == ["web-1", "db-1"] and b_not_web == ["db-1"]
    assert rv0_limited == every and paged == ["web-1"]


def test_get_at_a_resource_version_is_served_from_the_cache():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        created = await store.create("default", pod("p"))
        got = await cache.get("default", "p", created["metadata"]["resourceVersion"])
        with pytest.raises(APIError) as missing:
            await cache.get("default", "nope", "0")
        return created, got, missing.value

    created, got, missing = run_sim(scenario)
    assert got == created and missing.code == 404


def test_watch_resumed_from_a_resource_version_sees_exactly_the_later_events():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        revs = []
        for i in range(4):
            revs.append((await store.create("default", pod(f"p{i}")))["metadata"]["resourceVersion"])
        await store.delete("default", "p0")  # unscheduled: marked with grace 0, then deleted
        watcher = await cache.watch("default", query(resourceVersion=revs[1]))
        events = await drain(watcher, 4)
        await store.create("default", pod("p9"))
        events += await drain(watcher, 1)
        return revs, events

    revs, events = run_sim(scenario)
    last = int(revs[3])
    assert summary(events) == [("ADDED", "p2", revs[2]), ("ADDED", "p3", revs[3]),
                               ("MODIFIED", "p0", str(last + 1)),
                               ("DELETED", "p0", str(last + 2)), ("ADDED", "p9", str(last + 3))]
    assert events[3]["object"]["metadata"]["deletionTimestamp"]


def test_watch_from_zero_starts_with_the_current_state():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        await store.create("default", pod("a"))
        await store.create("default", pod("b"))
        await cache.list("", query())
        watcher = await cache.watch("default", query(resourceVersion="0"))
        first = await drain(watcher, 2)
        await store.delete("default", "a")
        return first + await drain(watcher, 2)

    assert [(t, n) for t, n, _ in summary(run_sim(scenario))] == [
        ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_too_old_resource_version_is_a_410_error_event():
    settings = CacheSettings(lower_bound_capacity=4, upper_bound_capacity=4)

    async def scenario(env):
        store = env.store("configmaps")
        cache = await env.cache("configmaps", settings=settings)
        for i in range(8):
            await store.create("default", configmap(f"c{i}"))
        await cache.list("", query(kind("configmaps")))
        watcher = await cache.watch("", query(kind("configmaps"), resourceVersion="2"))
        return await drain(watcher, 5), env.backend.sm.store.revision

    events, revision = run_sim(scenario)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    # the window holds the last 4 events: the oldest deliverable is revision - 3
    assert status["message"] == f"too old resource version: 2 ({revision - 4})"


def test_watchers_with_selectors_see_objects_enter_and_leave_the_selection():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        web = await cache.watch("", query(resourceVersion="0", labelSelector="app=web"))
        on_n1 = await cache.watch("", query(resourceVersion="0", fieldSelector="spec.nodeName=n1"))
        created = await store.create("default", pod("p", labels={"app": "db"}))
        created["metadata"]["labels"]["app"] = "web"
        relabeled, _ = await store.update("default", "p", created)
        await store.bind("default", {"metadata": {"name": "p"}, "target": {"name": "n1"}})
        bound = await store.get("default", "p")
        bound["metadata"]["labels"]["app"] = "db"
        left, _ = await store.update("default", "p", bound)
        return await drain(web, 3), await drain(on_n1, 1), relabeled, bound, left

    web, on_n1, relabeled, bound, left = run_sim(scenario)
    assert [e["type"] for e in web] == ["ADDED", "MODIFIED", "DELETED"]
    assert web[0]["object"] == relabeled
    deleted = web[2]["object"]  # its last matching state, at the update's revision
    assert deleted["metadata"]["labels"] == {"app": "web"}
    assert deleted["metadata"]["resourceVersion"] == left["metadata"]["resourceVersion"]
    assert [e["type"] for e in on_n1] == ["ADDED"]
    assert on_n1[0]["object"]["spec"]["nodeName"] == "n1"
    assert on_n1[0]["object"]["metadata"]["resourceVersion"] == bound["metadata"]["resourceVersion"]


def test_periodic_bookmarks_carry_the_current_resource_version():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        watcher = await cache.watch("", query(resourceVersion="0", allowWatchBookmarks="true"))
        plain = await cache.watch("", query(resourceVersion="0"))
        created = await store.create("default", pod("p"))
        first = await drain(watcher, 1)
        start = env.ctx.now()
        bookmark = await drain(watcher, 1)
        waited = env.ctx.now() - start
        await store.create("default", pod("q"))
        return created, first, bookmark, waited, await drain(plain, 2)

    created, first, bookmark, waited, plain = run_sim(scenario)
    assert first[0]["type"] == "ADDED"
    assert bookmark == [{"type": "BOOKMARK", "object": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"],
                     "creationTimestamp": None}}}]
    assert 58 <= waited <= 61  # about a minute after the watch began
    assert [e["type"] for e in plain] == ["ADDED", "ADDED"]  # no bookmarks unasked


def test_send_initial_events_ends_with_an_annotated_bookmark():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        await store.create("default", pod("a"))
        await store.create("default", pod("b"))
        watcher = await cache.watch("", query(
            watch="true", sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
            allowWatchBookmarks="true"))
        return await drain(watcher, 3), env.backend.sm.store.revision

    events, revision = run_sim(scenario)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    meta = events[2]["object"]["metadata"]
    assert meta["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert meta["resourceVersion"] == str(revision)


def test_a_watcher_that_does_not_keep_up_is_terminated_others_are_not():
    settings = CacheSettings(watcher_buffer=5)

    async def scenario(env):
        store = env.store("configmaps")
        cache = await env.cache("configmaps", settings=settings)
        stalled = await cache.watch("", query(kind("configmaps"), resourceVersion="0"))
        reader = await cache.watch("", query(kind("configmaps"), resourceVersion="0"))
        got = []

        async def read():
            while (event := await reader.next()) is not None:
                got.append(event)

        task = env.ctx.spawn(read())
        for i in range(20):
            await store.create("default", configmap(f"c{i}"))
        await cache.list("", query(kind("configmaps")))
        buffered = await drain(stalled, 100)
        alive = cache.watcher_count()
        reader.stop()
        await task
        return buffered, stalled.terminated, got, alive

    buffered, terminated, got, alive = run_sim(scenario)
    assert terminated and alive == 1
    # what it had buffered arrives, in order, then the stream ends: the client resumes from there
    assert [e["object"]["metadata"]["name"] for e in buffered] == [f"c{i}" for i in range(5)]
    assert [e["object"]["metadata"]["name"] for e in got] == [f"c{i}" for i in range(20)]


def test_a_broken_etcd_watch_is_resumed_without_loss_or_repeats():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        watcher = await cache.watch("", query(resourceVersion="0"))
        await store.create("default", pod("a"))
        await drain(watcher, 1)
        for stream in list(env.backend.watches.values()):
            await stream.cancel()  # the etcd side goes away
        await store.create("default", pod("b"))
        await store.create("default", pod("c"))
        events = await drain(watcher, 2)
        return events, watcher.terminated

    events, terminated = run_sim(scenario)
    assert [n for _, n, _ in summary(events)] == ["b", "c"] and not terminated


def test_compaction_past_the_cache_forces_a_relist_and_terminates_watchers():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        watcher = await cache.watch("", query(resourceVersion="0"))
        for stream in list(env.backend.watches.values()):
            await stream.cancel()
        # written, and compacted away, while the cache is not watching (StoreBackend calls
        # do not yield, so the cache's reflector runs only after this)
        await store.create("default", pod("a"))
        await store.create("default", pod("z"))
        await env.backend.compact({"revision": env.backend.sm.store.revision})
        ended = await drain(watcher, 10)
        listed = await cache.list("", query())
        fresh = await cache.watch("", query(resourceVersion=listed["metadata"]["resourceVersion"]))
        await store.create("default", pod("b"))
        return ended, watcher.terminated, names(listed), await drain(fresh, 1)

    ended, terminated, listed, fresh = run_sim(scenario)
    assert ended == [] and terminated
    assert listed == ["a", "z"]
    assert [n for _, n, _ in summary(fresh)] == ["b"]


def test_watch_timeout_ends_the_stream_after_a_bookmark_two_seconds_before():
    async def scenario(env):
        cache = await env.cache()
        watcher = await cache.watch("", query(resourceVersion="0", allowWatchBookmarks="true",
                                              timeoutSeconds="10"))
        start = env.ctx.now()
        bookmark = await watcher.next()
        at_bookmark = env.ctx.now() - start
        rest = await drain(watcher, 10)
        return bookmark, at_bookmark, rest, env.ctx.now() - start

    bookmark, at_bookmark, rest, at_end = run_sim(scenario)
    assert bookmark["type"] == "BOOKMARK" and 8 <= at_bookmark <= 9
    assert all(e["type"] == "BOOKMARK" for e in rest) and len(rest) <= 1
    assert 10 <= at_end <= 11  # then the stream ends


def test_send_initial_events_false_starts_now_and_namespaced_watches_see_their_namespace():
    async def scenario(env):
        store = env.store()
        cache = await env.cache()
        await store.create("a", pod("old", "a"))
        fresh = await cache.watch("", query(
            watch="true", sendInitialEvents="false", resourceVersionMatch="NotOlderThan"))
        only_b = await cache.watch("b", query(resourceVersion="0"))
        await store.create("a", pod("new-a", "a"))
        await store.create("b", pod("new-b", "b"))
        return await drain(fresh, 2), await drain(only_b, 1)

    fresh, only_b = run_sim(scenario)
    assert [n for _, n, _ in summary(fresh)] == ["new-a", "new-b"]
    assert [n for _, n, _ in summary(only_b)] == ["new-b"]


def test_stopped_watcher_ends_and_is_forgotten():
    async def scenario(env):
        cache = await env.cache()
        watcher = await cache.watch("", query(resourceVersion="0"))
        before = cache.watcher_count()
        watcher.stop()
        return before, cache.watcher_count(), await watcher.next()

    assert run_sim(scenario) == (1, 0, None)


def test_a_briefly_slow_watcher_is_waited_for_and_gets_each_event_once():
    settings = CacheSettings(watcher_buffer=2)

    async def scenario(env):
        store = env.store("configmaps")
        cache = await env.cache("configmaps", settings=settings)
        watcher = await cache.watch("", query(kind("configmaps"), resourceVersion="0"))
        got = []

        async def read():  # 1 ms per event: slower than the burst, within the 100 ms budget
            while len(got) < 20 and (event := await watcher.next()) is not None:
                got.append(event["object"]["metadata"]["name"])
                await env.ctx.sleep(0.001)

        task = env.ctx.spawn(read())
        for i in range(20):
            await store.create("default", configmap(f"c{i:02d}"))
        await task
        return got, watcher.terminated

    got, terminated = run_sim(scenario)
    assert got == [f"c{i:02d}" for i in range(20)] and not terminated
