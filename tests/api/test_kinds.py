"""The kind registry and the discovery documents."""

from __future__ import annotations

from kubesim.api import kinds


def test_lookup():
    pods = kinds.by_resource("", "v1", "pods")
    assert pods is not None and pods.kind == "Pod" and pods.namespaced
    assert pods.short_names == ("po",) and pods.categories == ("all",)
    assert kinds.by_kind("apps/v1", "Deployment").group_resource == "deployments.apps"
    assert kinds.of({"apiVersion": "v1", "kind": "Namespace"}).namespaced is False
    assert kinds.by_kind("v1", "Nope") is None
    assert [k.api_version for k in kinds.resolve("ev")] == ["v1", "events.k8s.io/v1"]
    assert [k.kind for k in kinds.resolve("deploy")] == ["Deployment"]
    assert kinds.by_resource("", "v1", "pods").subresource("binding").kind == "Binding"
    short = {k.resource: k.short_names for k in kinds.KINDS if k.short_names}
    assert short["priorityclasses"] == ("pc",) and short["limitranges"] == ("limits",)
    assert short["resourcequotas"] == ("quota",) and short["nodes"] == ("no",)


def test_storage_version_hash_matches_a_real_apiserver():
    assert kinds.by_resource("", "v1", "pods").storage_version_hash() == "xPOwRZ+Yhw8="
    assert kinds.by_resource("", "v1", "events").storage_version_hash() == "r2yiGXH7wu8="
    assert kinds.by_resource("events.k8s.io", "v1", "events").storage_version_hash() == "r2yiGXH7wu8="


def test_core_resource_list():
    body = kinds.api_resource_list("", "v1")
    assert list(body) == ["kind", "groupVersion", "resources"]  # /api/v1 has no apiVersion
    names = [r["name"] for r in body["resources"]]
    assert names == sorted(names)
    pods = next(r for r in body["resources"] if r["name"] == "pods")
    assert pods == {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                              "update", "watch"],
                    "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8="}
    binding = next(r for r in body["resources"] if r["name"] == "pods/binding")
    assert binding == {"name": "pods/binding", "singularName": "", "namespaced": True,
                       "kind": "Binding", "verbs": ["create"]}
    ns = next(r for r in body["resources"] if r["name"] == "namespaces")
    assert "deletecollection" not in ns["verbs"] and ns["namespaced"] is False


def test_group_documents():
    apps = kinds.api_resource_list("apps", "v1")
    assert apps["apiVersion"] == "v1" and apps["groupVersion"] == "apps/v1"
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert scale == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                     "group": "autoscaling", "version": "v1", "kind": "Scale",
                     "verbs": ["get", "patch", "update"]}
    assert kinds.api_resource_list("nope", "v1") is None
    groups = kinds.api_group_list()
    assert groups["kind"] == "APIGroupList"
    assert [g["name"] for g in groups["groups"]] == list(kinds.GROUP_ORDER)
    assert groups["groups"][0] == {"name": "apps",
                                   "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                                   "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
    assert kinds.api_group("batch")["kind"] == "APIGroup" and kinds.api_group("x") is None
    assert kinds.api_versions("10.0.0.1:6443") == {
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}
