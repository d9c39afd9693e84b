"""pods/binding."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api.status import APIError
from tests.components.apiserver.storage.helpers import Clock, new_store, pod, run


def binding(name: str, node: str, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, **meta},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def test_binding_sets_node_name_and_the_pod_scheduled_condition():
    clock = Clock()
    store = new_store(clock=clock)

    async def main():
        await store.create("default", pod("web"))
        clock.t += 5
        result = await store.bind("default", binding("web", "n1", annotations={"a": "b"}))
        return result, await store.get("default", "web")

    result, bound = run(main())
    assert result == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    assert bound["spec"]["nodeName"] == "n1"
    assert bound["metadata"]["annotations"] == {"a": "b"}
    assert bound["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
         "lastTransitionTime": "2023-11-14T22:13:25Z"}]


def test_binding_a_bound_pod_is_409_and_a_missing_pod_404():
    store = new_store()

    async def main():
        await store.create("default", pod("web", node="n1"))
        await store.bind("default", binding("web", "n2"))

    with pytest.raises(APIError) as info:
        run(main())
    assert info.value.code == 409
    assert info.value.message == ('Operation cannot be fulfilled on pods/binding "web": pod web is '
                                  'already assigned to node "n1"')
    with pytest.raises(APIError) as info:
        run(new_store().bind("default", binding("nope", "n1")))
    assert (info.value.code, info.value.message) == (404, 'pods "nope" not found')


def test_two_schedulers_bind_one_pod_exactly_one_wins():
    store = new_store()

    async def main():
        await store.create("default", pod("web"))
        results = await asyncio.gather(store.bind("default", binding("web", "n1")),
                                       store.bind("default", binding("web", "n2")),
                                       return_exceptions=True)
        return results, await store.get("default", "web")

    results, final = run(main())
    losers = [r for r in results if isinstance(r, APIError)]
    assert len(losers) == 1 and losers[0].code == 409
    assert final["spec"]["nodeName"] == ("n1" if isinstance(results[1], APIError) else "n2")


def test_binding_without_target_name_and_to_a_terminating_pod():
    store = new_store()

    async def main():
        await store.create("default", pod("web"))
        bad = binding("web", "")
        with pytest.raises(APIError) as info:
            await store.bind("default", bad)
        assert (info.value.code, info.value.message) == (500, "target.name: Required value")
        created = await store.create("default", {**pod("held"), "metadata": {
            "name": "held", "namespace": "default", "finalizers": ["example.com/hold"]}})
        assert created
        await store.delete("default", "held")
        await store.bind("default", binding("held", "n1"))

    with pytest.raises(APIError) as info:
        run(main())
    assert info.value.message.endswith("pod held is being deleted, cannot be assigned to a host")
