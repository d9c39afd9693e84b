"""Updates that start from the watch cache's state (``cachedExistingObject``): one etcd request
when the cache is current; the same outcome as reading etcd first when it is stale."""

from __future__ import annotations

from typing import Any

from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import codec
from kubesim.components.apiserver.storage.etcd_ops import State
from tests.components.apiserver.storage.helpers import (
    InterleavingBackend,
    new_store,
    pod,
    raises,
    run,
)


class CountingBackend(InterleavingBackend):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def range(self, req: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("range")
        return await super().range(req)

    async def txn(self, req: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("txn")
        return await super().txn(req)


def state_of(obj: dict[str, Any]) -> State:
    return State(obj, codec.encode(obj), int(obj["metadata"]["resourceVersion"]))


def relabel(value: str):
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].setdefault("labels", {})["v"] = value
        return obj
    return mutate


def test_a_current_cached_state_saves_the_read():
    async def scenario():
        backend = CountingBackend()
        store = new_store(backend=backend)
        created = await store.create("default", pod("p"))
        store.cached = lambda key: state_of(created)
        backend.calls.clear()
        updated = await store.guaranteed_update("default", "p", relabel("1"))
        return list(backend.calls), updated, await store.get("default", "p")

    calls, updated, stored = run(scenario())
    assert calls == ["txn"]
    assert updated == stored and stored["metadata"]["labels"] == {"v": "1"}


async def behind_the_cache(backend: CountingBackend) -> tuple[Any, dict[str, Any]]:
    """A store over `backend` holding pod p at label v=1 whose cache still has p as created;
    the store and that stale p."""
    store = new_store(backend=backend)
    stale = await store.create("default", pod("p"))
    await store.guaranteed_update("default", "p", relabel("1"))
    store.cached = lambda key: state_of(stale)
    return store, stale


def test_a_stale_cached_state_loses_the_compare_and_the_update_runs_on_etcds():
    async def scenario():
        backend = CountingBackend()
        store, stale = await behind_the_cache(backend)
        seen: list[str] = []

        def mutate(obj):
            seen.append(obj["metadata"]["resourceVersion"])
            obj["metadata"]["annotations"] = {"a": "b"}
            return obj

        backend.calls.clear()
        out = await store.guaranteed_update("default", "p", mutate)
        return backend.calls, seen, out, stale

    calls, seen, out, stale = run(scenario())
    assert calls == ["txn", "txn"]  # the failed compare returned etcd's state
    assert seen[0] == stale["metadata"]["resourceVersion"] and seen[1] != seen[0]
    assert out["metadata"]["labels"] == {"v": "1"} and out["metadata"]["annotations"] == {"a": "b"}


def test_a_conflict_seen_on_a_stale_cached_state_is_checked_against_etcd():
    """A client that holds the current version is not refused because the cache is behind;
    one that holds an old version is, once etcd confirms it."""
    async def scenario():
        store = new_store()
        stale = await store.create("default", pod("p"))
        fresh = await store.guaranteed_update("default", "p", relabel("1"))
        store.cached = lambda key: state_of(stale)
        fresh["metadata"]["labels"]["v"] = "2"
        updated, _ = await store.update("default", "p", fresh)
        old = {**stale, "metadata": {**stale["metadata"], "labels": {"v": "3"}}}
        try:
            await store.update("default", "p", old)
        except APIError as err:
            return updated, err
        raise AssertionError("an update from an old version was accepted")

    updated, conflict = run(scenario())
    assert updated["metadata"]["labels"] == {"v": "2"}
    assert (conflict.code, conflict.reason) == (409, "Conflict")


def test_no_op_on_a_stale_cached_state_is_confirmed_against_etcd():
    async def scenario():
        backend = CountingBackend()
        store, _ = await behind_the_cache(backend)
        backend.calls.clear()
        out = await store.guaranteed_update("default", "p", lambda obj: obj)  # no change
        return backend.calls, out

    calls, out = run(scenario())
    assert calls == ["range"]  # the no-op was checked on etcd's state, which is returned
    assert out["metadata"]["labels"] == {"v": "1"}


def test_stale_cached_state_of_a_deleted_object_is_not_found():
    store = new_store()

    async def scenario():
        stale = await store.create("default", pod("p"))
        await store.delete("default", "p", {"gracePeriodSeconds": 0})
        store.cached = lambda key: state_of(stale)
        await store.guaranteed_update("default", "p", relabel("1"))

    err = raises(scenario())
    assert (err.code, err.reason) == (404, "NotFound")
