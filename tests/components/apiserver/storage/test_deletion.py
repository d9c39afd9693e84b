"""Graceful deletion, finalizers, propagation policies, preconditions, namespaces,
delete collection."""

from __future__ import annotations

import pytest

from kubesim.api import selectors
from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import ListOptions
from tests.components.apiserver.storage.helpers import Clock, configmap, new_store, pod, raises, run


def test_scheduled_pod_is_deleted_gracefully_then_for_good_with_grace_zero():
    clock = Clock()
    store = new_store(clock=clock)

    async def main():
        await store.create("default", pod("web", node="n1"))
        first, gone = await store.delete("default", "web")
        assert not gone
        meta = first["metadata"]
        assert meta["deletionTimestamp"] == "2023-11-14T22:13:50Z"  # now + 30 s default
        assert meta["deletionGracePeriodSeconds"] == 30
        again, gone = await store.delete("default", "web")  # pending: nothing changes
        assert not gone and again["metadata"]["resourceVersion"] == meta["resourceVersion"]
        shorter, gone = await store.delete("default", "web", {"gracePeriodSeconds": 10})
        assert not gone
        assert shorter["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:30Z"
        assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
        final, gone = await store.delete("default", "web", {"gracePeriodSeconds": 0})
        assert gone and final["kind"] == "Pod"  # pods return the deleted object
        await store.get("default", "web")

    err = raises(main())
    assert err.code == 404


def test_unscheduled_or_finished_pods_go_at_once():
    store = new_store()

    async def main():
        await store.create("default", pod("pending"))
        result, gone = await store.delete("default", "pending")
        assert gone and result["metadata"]["deletionGracePeriodSeconds"] == 0
        created = await store.create("default", pod("done", node="n1"))
        created["status"]["phase"] = "Succeeded"
        await store.update("default", "done", created, subresource="status")
        _, gone = await store.delete("default", "done")
        return gone

    assert run(main())


def test_finalizers_keep_the_object_until_an_update_removes_the_last_one():
    store = new_store("configmaps")

    async def main():
        cm = configmap("a")
        cm["metadata"]["finalizers"] = ["example.com/x", "example.com/y"]
        await store.create("default", cm)
        marked, gone = await store.delete("default", "a")
        assert not gone and marked["metadata"]["deletionTimestamp"]
        assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
        marked["metadata"]["finalizers"] = ["example.com/y"]
        kept, _ = await store.update("default", "a", marked)
        with pytest.raises(APIError) as info:  # no new finalizers once deleting
            await store.update("default", "a", {**kept, "metadata": {
                **kept["metadata"], "finalizers": ["example.com/y", "example.com/z"]}})
        assert info.value.code == 422
        kept["metadata"]["finalizers"] = []
        last, _ = await store.update("default", "a", kept)
        assert last["metadata"]["finalizers"] == []
        await store.get("default", "a")

    assert raises(main()).code == 404


def test_status_delete_result_for_kinds_that_do_not_return_the_object():
    store = new_store("configmaps")

    async def main():
        created = await store.create("default", configmap("a"))
        result, gone = await store.delete("default", "a")
        return created, result, gone

    created, result, gone = run(main())
    assert gone
    assert result == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "a", "kind": "configmaps",
                                  "uid": created["metadata"]["uid"]}}


@pytest.mark.parametrize(("options", "finalizer"), [
    ({"propagationPolicy": "Orphan"}, "orphan"),
    ({"propagationPolicy": "Foreground"}, "foregroundDeletion"),
    ({"orphanDependents": True}, "orphan"),
])
def test_propagation_policies_add_the_garbage_collector_finalizers(options, finalizer):
    store = new_store("configmaps")

    async def main():
        await store.create("default", configmap("a"))
        return await store.delete("default", "a", options)

    result, gone = run(main())
    assert not gone
    assert result["metadata"]["finalizers"] == [finalizer]
    assert result["metadata"]["deletionTimestamp"]


def test_jobs_orphan_their_pods_by_default_background_deletes_at_once():
    store = new_store("jobs", "batch")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "default"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}}}}

    async def main():
        await store.create("default", job)
        orphaned, gone = await store.delete("default", "j")
        assert not gone and orphaned["metadata"]["finalizers"] == ["orphan"]
        assert orphaned["metadata"]["generation"] == 2  # markAsDeleting bumps it
        await store.create("default", {**job, "metadata": {"name": "k", "namespace": "default"}})
        return await store.delete("default", "k", {"propagationPolicy": "Background"})

    _, gone = run(main())
    assert gone


def test_delete_preconditions_and_bad_options():
    store = new_store("configmaps")

    async def main():
        await store.create("default", configmap("a"))
        await store.delete("default", "a", {"preconditions": {"uid": "not-it"}})

    err = raises(main())
    assert err.code == 409
    assert err.message.startswith('Operation cannot be fulfilled on ConfigMap "a": the UID in the '
                                  "precondition (not-it) does not match the UID in record (")
    err = raises(new_store("configmaps").delete("default", "a", {"propagationPolicy": "Later"}))
    assert err.code == 422
    assert err.message == ('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported '
                           'value: "Later": supported values: "Foreground", "Background", '
                           '"Orphan", "nil"')


def test_namespace_delete_goes_terminating_until_its_finalizers_are_gone():
    store = new_store("namespaces")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}

    async def main():
        created = await store.create("", ns)
        assert created["spec"]["finalizers"] == ["kubernetes"]
        terminating, gone = await store.delete("", "team")
        assert not gone and terminating["status"]["phase"] == "Terminating"
        again, gone = await store.delete("", "team")
        assert not gone and again == terminating
        terminating["metadata"]["labels"]["x"] = "y"
        terminating["spec"]["finalizers"] = ["example.com/more"]  # only the finalizers change
        kept, _ = await store.update("", "team", terminating, subresource="finalize")
        assert kept["spec"]["finalizers"] == ["example.com/more"]
        assert kept["status"]["phase"] == "Terminating"
        kept["spec"]["finalizers"] = []
        finalized, created = await store.update("", "team", kept, subresource="finalize")
        assert finalized["spec"]["finalizers"] == [] and not created
        await store.get("", "team")  # the last spec finalizer gone: the namespace is gone

    assert raises(main()).code == 404


def test_delete_collection_deletes_what_the_selector_selects():
    store = new_store("configmaps")

    async def main():
        for i in range(5):
            cm = configmap(f"c{i}")
            cm["metadata"]["labels"] = {"batch": "odd" if i % 2 else "even"}
            await store.create("default", cm)
        opts = ListOptions(label_selector=selectors.parse("batch=even"))
        deleted = await store.delete_collection("default", list_options=opts)
        left = await store.list("default")
        return deleted, left

    deleted, left = run(main())
    assert deleted["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in deleted["items"]] == ["c0", "c2", "c4"]
    assert [i["metadata"]["name"] for i in left["items"]] == ["c1", "c3"]
