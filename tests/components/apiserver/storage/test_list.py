"""Lists from etcd: selectors, namespaces, pagination, resourceVersion semantics, 410s;
list option parsing and validation."""

from __future__ import annotations

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import ListOptions, keys
from kubesim.components.apiserver.storage.errors import INCONSISTENT_CONTINUE, LIST_EXPIRED
from tests.components.apiserver.storage.helpers import kind, new_store, pod, run


def names(listed) -> list[str]:
    return [f'{i["metadata"]["namespace"]}/{i["metadata"]["name"]}' for i in listed["items"]]


def opts(**query: str) -> ListOptions:
    return ListOptions.from_query(kind("pods"), query)


async def seed(store, count: int = 6):
    for i in range(count):
        ns = "a" if i % 2 == 0 else "b"
        await store.create(ns, pod(f"p{i}", ns, labels={"tier": "web" if i < 3 else "db"},
                                   node="n1" if i % 3 == 0 else ""))


def test_selectors_and_namespace_scoping():
    store = new_store()

    async def main():
        await seed(store)
        return [names(await store.list(ns, o)) for ns, o in [
            ("", opts()), ("a", opts()), ("", opts(labelSelector="tier=web")),
            ("", opts(labelSelector="tier in (db),tier!=web")),
            ("", opts(fieldSelector="spec.nodeName=n1")),
            ("", opts(fieldSelector="metadata.namespace=b,metadata.name!=p1")),
            ("", opts(fieldSelector="status.phase=Pending", labelSelector="!tier")),
        ]]

    every, in_a, web, db, on_n1, in_b, none = run(main())
    assert every == ["a/p0", "a/p2", "a/p4", "b/p1", "b/p3", "b/p5"]
    assert in_a == ["a/p0", "a/p2", "a/p4"]
    assert web == ["a/p0", "a/p2", "b/p1"] and db == ["a/p4", "b/p3", "b/p5"]
    assert on_n1 == ["a/p0", "b/p3"] and in_b == ["b/p3", "b/p5"] and none == []


def test_pagination_keeps_one_revision_across_a_concurrent_write():
    store = new_store()

    async def main():
        await seed(store)
        first = await store.list("", opts(limit="4"))
        await store.create("a", pod("p00", "a"))  # sorts into the first page's range
        await store.create("b", pod("p9", "b"))  # sorts into the second page's range
        await store.delete("b", "p5")
        second = await store.list("", opts(limit="4", **{"continue": first["metadata"]["continue"]}))
        return first, second

    first, second = run(main())
    assert names(first) == ["a/p0", "a/p2", "a/p4", "b/p1"]
    assert first["metadata"]["remainingItemCount"] == 2
    assert names(second) == ["b/p3", "b/p5"]  # the snapshot of the first page's revision
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert "continue" not in second["metadata"]


def test_pagination_with_a_selector_fills_pages_and_has_no_remaining_count():
    store = new_store()

    async def main():
        await seed(store, 12)
        pages, token = [], ""
        while True:
            query = {"limit": "2", "labelSelector": "tier=db"}
            if token:
                query["continue"] = token
            page = await store.list("", opts(**query))
            pages.append(names(page))
            assert "remainingItemCount" not in page["metadata"]
            token = page["metadata"].get("continue", "")
            if not token:
                return pages

    pages = run(main())
    assert [len(p) for p in pages[:-1]] == [2] * (len(pages) - 1)
    assert sum(pages, []) == ["a/p10", "a/p4", "a/p6", "a/p8", "b/p11", "b/p3", "b/p5", "b/p7", "b/p9"]


def test_continue_from_a_compacted_revision_is_410_with_a_fresh_token():
    store = new_store()

    async def main():
        await seed(store)
        first = await store.list("", opts(limit="2"))
        await store.create("a", pod("late", "a"))
        await store.backend.compact({"revision": store.backend.sm.store.revision})
        with pytest.raises(APIError) as info:
            await store.list("", opts(limit="2", **{"continue": first["metadata"]["continue"]}))
        fresh = info.value.status["metadata"]["continue"]
        rest = await store.list("", opts(limit="10", **{"continue": fresh}))
        return info.value, fresh, rest

    err, fresh, rest = run(main())
    assert (err.code, err.reason, err.message) == (410, "Expired", INCONSISTENT_CONTINUE)
    assert keys.decode_continue(fresh, "/registry/pods/") == (b"/registry/pods/a/p2\x00", -1)
    # at the latest revision: "a/late" sorts before the resume key, so it is not there
    assert names(rest) == ["a/p4", "b/p1", "b/p3", "b/p5"]


def test_resource_version_semantics():
    store = new_store()

    async def main():
        await seed(store, 2)
        rv = store.backend.sm.store.revision
        await store.create("a", pod("later", "a"))
        exact = await store.list("", opts(resourceVersion=str(rv), resourceVersionMatch="Exact"))
        newer = await store.list("", opts(resourceVersion=str(rv), resourceVersionMatch="NotOlderThan"))
        legacy_paged = await store.list("", opts(resourceVersion=str(rv), limit="5"))
        with pytest.raises(APIError) as future:
            await store.list("", opts(resourceVersion=str(rv + 50)))
        await store.backend.compact({"revision": rv + 1})
        with pytest.raises(APIError) as old:
            await store.list("", opts(resourceVersion=str(rv), resourceVersionMatch="Exact"))
        return rv, exact, newer, legacy_paged, future.value, old.value

    rv, exact, newer, legacy_paged, future, old = run(main())
    assert names(exact) == ["a/p0", "b/p1"] and exact["metadata"]["resourceVersion"] == str(rv)
    assert names(newer) == ["a/later", "a/p0", "b/p1"]
    assert newer["metadata"]["resourceVersion"] == str(rv + 1)
    assert names(legacy_paged) == ["a/p0", "b/p1"]
    assert (future.code, future.reason) == (504, "Timeout")
    assert future.message == f"Timeout: Too large resource version: {rv + 50}, current: {rv + 1}"
    assert future.status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert (old.code, old.message) == (410, LIST_EXPIRED)


def test_list_object_shape():
    store = new_store()
    listed = run(store.list("default"))
    assert listed == {"kind": "PodList", "apiVersion": "v1",
                      "metadata": {"resourceVersion": "1"}, "items": []}


@pytest.mark.parametrize(("query", "code", "message"), [
    ({"labelSelector": "a in (b"}, 400, None),
    ({"fieldSelector": "spec.foo=bar"}, 400, "field label not supported: spec.foo"),
    ({"resourceVersionMatch": "Exact"}, 422, 'ListOptions.meta.k8s.io "" is invalid: '
     "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion "
     "is provided"),
    ({"resourceVersion": "0", "resourceVersionMatch": "Exact"}, 422, 'ListOptions.meta.k8s.io "" '
     'is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
     'resourceVersion "0"'),
    ({"watch": "true", "resourceVersionMatch": "NotOlderThan"}, 422, 'ListOptions.meta.k8s.io "" '
     "is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
     "unless sendInitialEvents is provided"),
    ({"sendInitialEvents": "true"}, 422, 'ListOptions.meta.k8s.io "" is invalid: '
     "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
    ({"resourceVersion": "x1"}, 400, 'invalid resource version: resourceVersion: Invalid value: '
     '"x1": strconv.ParseUint: parsing "x1": invalid syntax'),
    ({"watch": "maybe"}, 400, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
])
def test_list_options_parsing_and_validation(query, code, message):
    with pytest.raises(APIError) as info:
        opts(**query)
    assert info.value.code == code
    if message is not None:
        assert info.value.message == message


def test_bad_continue_token_is_400():
    store = new_store()
    with pytest.raises(APIError) as info:
        run(store.list("", opts(**{"continue": "bm90LWpzb24"})))
    assert info.value.code == 400
    assert info.value.message.startswith("invalid continue token: continue key is not valid: ")
