"""ResourceStore create, get, update, guaranteed update, status subresource, dry run."""

from __future__ import annotations

import asyncio
import copy

from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import codec, keys
from tests.components.apiserver.storage.helpers import (
    EPOCH,
    configmap,
    kind,
    new_store,
    pod,
    raises,
    run,
)
from tests.components.apiserver.storage.helpers import InterleavingBackend as StoreBackend


def test_create_stores_the_object_with_system_fields_and_resource_version():
    backend = StoreBackend()
    store = new_store(backend=backend)

    async def main():
        created = await store.create("default", pod("web"))
        raw = await backend.range({"key": b"/registry/pods/default/web"})
        return created, raw["kvs"][0]

    created, kv = run(main())
    meta = created["metadata"]
    assert meta["resourceVersion"] == str(kv["mod_revision"])
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert len(meta["uid"]) == 36 and meta["uid"][14] == "4"
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert created["spec"]["schedulerName"] == "default-scheduler"  # defaulted
    assert codec.decode(kv["value"], kv["mod_revision"]) == created
    assert b"resourceVersion" not in kv["value"]


def test_create_twice_is_409_already_exists_and_get_of_missing_is_404():
    store = new_store("configmaps")

    async def main():
        await store.create("default", configmap("a"))
        await store.create("default", configmap("a"))

    err = raises(main())
    assert (err.code, err.reason, err.message) == (409, "AlreadyExists",
                                                    'configmaps "a" already exists')
    err = raises(store.get("default", "nope"))
    assert (err.code, err.message) == (404, 'configmaps "nope" not found')
    assert err.status["details"] == {"name": "nope", "kind": "configmaps"}


def test_generate_name_draws_from_the_seeded_random_and_retries_taken_names():
    async def names(seed):
        store = new_store("configmaps", seed=seed)
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cm-"}}
        return [(await store.create("default", obj))["metadata"]["name"] for _ in range(3)]

    first, again = run(names(7)), run(names(7))
    assert first == again and len(set(first)) == 3
    assert all(n.startswith("cm-") and len(n) == 8 for n in first)


def test_generate_name_conflict_after_eight_attempts():
    backend = StoreBackend()
    blocker = new_store("configmaps", backend=backend, seed=3)
    store = new_store("configmaps", backend=backend, seed=3)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x-"}}

    async def main():
        # the same seed draws the same eight names: take them all first
        for _ in range(8):
            await blocker.create("default", obj)
        await store.create("default", obj)

    err = raises(main())
    assert err.code == 409 and err.reason == "AlreadyExists"
    assert err.message.endswith("already exists, the server was not able to generate a unique "
                                "name for the object")
    assert err.status["details"]["retryAfterSeconds"] == 1


def test_invalid_object_is_422_with_field_paths_and_nothing_is_stored():
    backend = StoreBackend()
    store = new_store(backend=backend)
    bad = pod("Bad_Name")

    err = raises(store.create("default", bad))
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message.startswith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: '
                                  '"Bad_Name": a lowercase RFC 1123 subdomain')
    assert err.status["details"]["causes"][0]["field"] == "metadata.name"
    assert run(backend.range({"key": b"/", "range_end": b"\0"}))["kvs"] == []


def test_namespace_mismatch_and_wrong_kind_are_400():
    store = new_store("configmaps")
    err = raises(store.create("other", configmap("a", namespace="default")))
    assert err.code == 400
    assert err.message == ("the namespace of the provided object does not match the namespace "
                           "sent on the request")
    err = raises(store.create("default", {**configmap("a"), "apiVersion": "apps/v1"}))
    assert err.message == ("the API version in the data (apps/v1) does not match the expected "
                           "API version (v1)")


def test_two_writers_race_on_one_object_exactly_one_gets_409():
    store = new_store("configmaps")

    async def main():
        created = await store.create("default", configmap("race", v="0"))
        first, second = copy.deepcopy(created), copy.deepcopy(created)
        first["data"]["v"] = "first"
        second["data"]["v"] = "second"
        results = await asyncio.gather(store.update("default", "race", first),
                                       store.update("default", "race", second),
                                       return_exceptions=True)
        return results, await store.get("default", "race")

    results, final = run(main())
    # both read revision 2 and sent a txn; the loser's compare failed, it re-read and the
    # resourceVersion it was given no longer matched
    assert store.backend.failed_txns == 1 and store.backend.sm.store.revision == 3
    errors = [r for r in results if isinstance(r, APIError)]
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(errors) == 1 and len(wins) == 1
    assert errors[0].code == 409 and errors[0].reason == "Conflict"
    assert errors[0].message == (
        'Operation cannot be fulfilled on configmaps "race": the object has been modified; '
        "please apply your changes to the latest version and try again")
    assert final["data"]["v"] == wins[0][0]["data"]["v"]


def test_update_without_resource_version_is_unconditional_only_where_allowed():
    async def main(resource, group, obj):
        store = new_store(resource, group)
        created = await store.create("default", obj)
        created["metadata"].pop("resourceVersion")
        return await store.update("default", created["metadata"]["name"], created)

    updated, created = run(main("configmaps", "", configmap("a", k="v")))
    assert not created and int(updated["metadata"]["resourceVersion"]) > 0
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "n1", "namespace": "default"}, "spec": {"holderIdentity": "n1"}}
    err = raises(main("leases", "coordination.k8s.io", lease))
    assert err.code == 422
    assert err.message == ('leases.coordination.k8s.io "n1" is invalid: metadata.resourceVersion: '
                           "Invalid value: 0x0: must be specified for an update")


def test_update_of_a_missing_object_creates_only_where_the_kind_allows_it():
    async def put(resource, obj):
        return await new_store(resource).update("default", obj["metadata"]["name"], obj)

    endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": "svc", "namespace": "default"}}
    obj, created = run(put("endpoints", endpoints))
    assert created and obj["metadata"]["uid"]
    err = raises(put("configmaps", configmap("missing")))
    assert err.code == 404


def test_update_with_a_stale_uid_is_a_precondition_conflict():
    store = new_store("configmaps")

    async def main():
        created = await store.create("default", configmap("a"))
        created["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000"
        await store.update("default", "a", created)

    err = raises(main())
    assert err.code == 409
    assert "StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/a, " \
           "ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: " \
           "00000000-0000-4000-8000-000000000000, UID in object meta: " in err.message


def test_spec_change_bumps_generation_and_main_update_ignores_status():
    store = new_store("deployments", "apps")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "d", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"app": "d"}},
                       "template": {"metadata": {"labels": {"app": "d"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}

    async def main():
        created = await store.create("default", deploy)
        assert created["metadata"]["generation"] == 1
        created["spec"]["replicas"] = 3
        created["status"] = {"replicas": 99}
        updated, _ = await store.update("default", "d", created)
        assert updated["metadata"]["generation"] == 2
        assert updated["status"] == {}
        updated["metadata"]["labels"] = {"x": "y"}
        relabeled, _ = await store.update("default", "d", updated)
        assert relabeled["metadata"]["generation"] == 2
        relabeled["status"] = {"replicas": 3}
        relabeled["spec"]["replicas"] = 10
        via_status, _ = await store.update("default", "d", relabeled, subresource="status")
        return via_status

    via_status = run(main())
    assert via_status["status"] == {"replicas": 3}
    assert via_status["spec"]["replicas"] == 3  # the status subresource ignores spec
    assert via_status["metadata"]["generation"] == 2


def test_guaranteed_update_retries_on_a_concurrent_write_and_no_op_writes_nothing():
    backend = StoreBackend()
    store = new_store("configmaps", backend=backend)
    calls = []

    async def main():
        await store.create("default", configmap("a", n="0"))

        def increment(cm):
            calls.append(cm["metadata"]["resourceVersion"])
            if len(calls) == 1:  # someone else writes between our read and our write
                other = copy.deepcopy(cm)
                other["data"]["n"] = "10"
                backend.sm.apply("put", {"key": b"/registry/configmaps/default/a",
                                         "value": codec.encode(other)}, 0.0)
            cm["data"]["n"] = str(int(cm["data"]["n"]) + 1)
            return cm

        out = await store.guaranteed_update("default", "a", increment)
        before = backend.sm.store.revision
        same = await store.guaranteed_update("default", "a", lambda cm: cm)
        return out, same, before, backend.sm.store.revision

    out, same, before, after = run(main())
    assert out["data"]["n"] == "11" and len(calls) == 2 and calls[0] != calls[1]
    assert same == out and before == after


def test_guaranteed_update_preconditions_and_missing_object():
    store = new_store("configmaps")

    async def main():
        await store.create("default", configmap("a"))
        await store.guaranteed_update("default", "a", lambda cm: cm,
                                      preconditions={"resourceVersion": "1"})

    err = raises(main())
    assert err.code == 409 and "Precondition failed: ResourceVersion in precondition: 1" in err.message
    err = raises(new_store("configmaps").guaranteed_update("default", "x", lambda cm: cm))
    assert err.code == 404


def test_dry_run_validates_but_stores_nothing():
    backend = StoreBackend()
    store = new_store("configmaps", backend=backend)

    async def main():
        dry = await store.create("default", configmap("a"), dry_run=True)
        assert "resourceVersion" not in dry["metadata"] and dry["metadata"]["uid"]
        assert backend.sm.store.revision == 1
        created = await store.create("default", configmap("a", k="1"))
        created["data"]["k"] = "2"
        dry_update, _ = await store.update("default", "a", created, dry_run=True)
        assert dry_update["data"]["k"] == "2"
        assert (await store.get("default", "a"))["data"]["k"] == "1"
        result, deleted = await store.delete("default", "a", {"dryRun": ["All"]})
        assert deleted and (await store.get("default", "a"))
        return backend.sm.store.revision

    assert run(main()) == 2


def test_cluster_scoped_objects_drop_a_namespace_and_use_the_cluster_key():
    store = new_store("nodes")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}

    async def main():
        created = await store.create("", node)
        return created, await store.get("", "n1")

    created, got = run(main())
    assert "namespace" not in created["metadata"] and got == created
    assert store.key("", "n1") == keys.object_key(kind("nodes"), "", "n1") == b"/registry/minions/n1"


def test_creation_timestamp_follows_the_injected_clock():
    from tests.components.apiserver.storage.helpers import Clock

    clock = Clock(EPOCH + 61)
    store = new_store("configmaps", clock=clock)
    assert run(store.create("default", configmap("a")))["metadata"]["creationTimestamp"] == \
        "2023-11-14T22:14:21Z"
