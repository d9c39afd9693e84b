"""JSON merge patch (RFC 7386 appendix A), JSON patch (RFC 6902 appendix A) and strategic
merge patch on built-in kinds, with exact expected results."""

from __future__ import annotations

import copy
import json

import pytest

from kubesim.components.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    BadPatchError,
    PatchTooLargeError,
    UnprocessablePatchError,
    UnsupportedPatchTypeError,
    apply_patch,
    json_patch,
    merge_patch,
)

# -- RFC 7386 -------------------------------------------------------------------------

RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_EXAMPLES)
def test_rfc7386_appendix_a(target, patch, expected):
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before


def test_merge_patch_through_apply_patch_on_any_kind():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "1"}}}
    body = b'{"metadata": {"labels": {"a": null, "b": "2"}}}'
    assert apply_patch(MERGE_PATCH, widget, body, "Widget")["metadata"] == {"name": "w", "labels": {"b": "2"}}


# -- RFC 6902 -------------------------------------------------------------------------

RFC6902_EXAMPLES = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ("copy", {"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ("root", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
]


@pytest.mark.parametrize(("name", "doc", "ops", "expected"), RFC6902_EXAMPLES, ids=[e[0] for e in RFC6902_EXAMPLES])
def test_rfc6902_appendix_a(name, doc, ops, expected):
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == expected
    assert doc == before


@pytest.mark.parametrize(
    ("doc", "ops", "message"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "testing value /baz failed: test failed"),  # A.9
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
         "add operation does not apply: doc is missing path: /baz/bat: missing value"),  # A.12
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "testing value /~01 failed: test failed"),  # A.15
        ({"a": True}, [{"op": "test", "path": "/a", "value": 1}], "testing value /a failed: test failed"),
        ({"a": 1}, [{"op": "remove", "path": "/b"}], "remove operation does not apply: doc is missing path: /b: missing value"),
        ({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 2}], "Unable to access invalid index: 5: invalid index referenced"),
        ({"a": 1}, [{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
    ],
)
def test_json_patch_failures_are_422(doc, ops, message):
    with pytest.raises(UnprocessablePatchError) as err:
        json_patch(doc, ops)
    assert (err.value.status, err.value.message) == (422, message)


def test_json_patch_is_all_or_nothing_and_limited_to_10000_operations():
    doc = {"a": 1}
    with pytest.raises(UnprocessablePatchError):
        json_patch(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}])
    assert doc == {"a": 1}
    with pytest.raises(PatchTooLargeError) as err:
        json_patch(doc, [{"op": "test", "path": "/a", "value": 1}] * 10001)
    assert err.value.status == 413
    with pytest.raises(BadPatchError) as err:
        apply_patch(JSON_PATCH, doc, b'{"op": "add"}', "Pod")
    assert err.value.status == 400
    with pytest.raises(BadPatchError):
        apply_patch(JSON_PATCH, doc, b"[{", "Pod")


# -- strategic merge patch -----------------------------------------------------------


def deployment(*containers, **spec):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": list(containers), **spec},
            },
        },
    }


def nginx():
    return {"name": "nginx", "image": "nginx:1.26", "ports": [{"containerPort": 80}],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}


def template_patch(**pod_spec):
    return {"spec": {"template": {"spec": pod_spec}}}


def smp(obj, patch, kind="Deployment"):
    return apply_patch(STRATEGIC_MERGE_PATCH, obj, json.dumps(patch), kind)


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def test_smp_adds_a_container_ahead_of_the_existing_ones():
    # the kubernetes.io "kubectl patch" task: patch-demo-ctr-2 lands before patch-demo-ctr
    out = smp(deployment(nginx()), template_patch(containers=[{"name": "sidecar", "image": "busybox"}]))
    assert containers(out) == [{"name": "sidecar", "image": "busybox"}, nginx()]


def test_smp_changes_an_image_by_name_and_keeps_the_rest():
    out = smp(deployment(nginx(), {"name": "log", "image": "fluentd"}),
              template_patch(containers=[{"name": "nginx", "image": "nginx:1.27"}]))
    assert containers(out) == [{**nginx(), "image": "nginx:1.27"}, {"name": "log", "image": "fluentd"}]
    assert out["spec"]["replicas"] == 2 and out["metadata"]["labels"] == {"app": "web"}


def test_smp_deletes_a_container_with_patch_delete():
    out = smp(deployment(nginx(), {"name": "log", "image": "fluentd"}),
              template_patch(containers=[{"name": "log", "$patch": "delete"}]))
    assert containers(out) == [nginx()]


def test_smp_reorders_with_set_element_order():
    a, b, c = ({"name": n, "image": n} for n in "abc")
    out = smp(deployment(a, b, c), template_patch(**{"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}))
    assert [x["name"] for x in containers(out)] == ["c", "a", "b"]
    # a partial order plus a change: b, a as listed, c (server only) keeps its place after them
    out = smp(deployment(a, b, c), template_patch(**{
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a", "image": "a2"}],
    }))
    assert containers(out) == [b, {"name": "a", "image": "a2"}, c]


def test_smp_merges_nested_lists_by_their_keys():
    patch = template_patch(containers=[{
        "name": "nginx",
        "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
        "ports": [{"containerPort": 443}],
    }])
    out = smp(deployment(nginx()), patch)
    [container] = containers(out)
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}]
    assert container["ports"] == [{"containerPort": 443}, {"containerPort": 80}]


def test_smp_replaces_atomic_lists_such_as_tolerations():
    obj = deployment(nginx(), tolerations=[{"key": "a", "operator": "Exists"}])
    out = smp(obj, template_patch(tolerations=[{"key": "b", "operator": "Exists"}]))
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_smp_replace_directive_on_a_list_and_a_map():
    out = smp(deployment(nginx()), template_patch(containers=[{"$patch": "replace"}, {"name": "only", "image": "x"}]))
    assert containers(out) == [{"name": "only", "image": "x"}]
    out = smp(deployment(nginx()), {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = smp(deployment(nginx()), {"spec": {"strategy": {"$patch": "delete"}}})
    assert out["spec"]["strategy"] == {}


def test_smp_retain_keys_drops_unlisted_fields():
    out = smp(deployment(nginx()), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(UnprocessablePatchError, match="retainKeys"):
        smp(deployment(nginx()), {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})


def test_smp_primitive_merge_lists_finalizers():
    out = smp(deployment(nginx()), {"metadata": {"finalizers": ["c", "a"]}})
    assert out["metadata"]["finalizers"] == ["c", "a", "b"]
    out = smp(deployment(nginx()), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]


def test_smp_null_deletes_and_owner_references_merge_by_uid():
    obj = deployment(nginx())
    obj["metadata"]["ownerReferences"] = [{"uid": "1", "kind": "X", "name": "x"}]
    out = smp(obj, {"metadata": {"labels": {"app": None, "tier": "fe"},
                                 "ownerReferences": [{"uid": "1", "controller": True}, {"uid": "2", "kind": "Y", "name": "y"}]}})
    assert out["metadata"]["labels"] == {"tier": "fe"}
    assert out["metadata"]["ownerReferences"] == [
        {"uid": "1", "kind": "X", "name": "x", "controller": True}, {"uid": "2", "kind": "Y", "name": "y"},
    ]


def test_smp_pod_status_conditions_merge_by_type():
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}}
    out = smp(pod, {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}, "Pod")
    assert out["status"] == {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}


def test_smp_service_ports_merge_by_port():
    svc = {"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = smp(svc, {"spec": {"ports": [{"port": 80, "name": "http"}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "name": "http"}]


def test_smp_errors():
    with pytest.raises(UnprocessablePatchError, match="does not contain declared merge key: name"):
        smp(deployment(nginx()), template_patch(containers=[{"image": "x"}]))
    with pytest.raises(UnprocessablePatchError, match="merging lists cannot yet be specified"):
        smp(deployment(nginx()), template_patch(containers=[{"$patch": "merge"}]))
    with pytest.raises(UnprocessablePatchError, match="unknown patch type: frob"):
        smp(deployment(nginx()), {"spec": {"$patch": "frob"}})
    with pytest.raises(BadPatchError, match="setElementOrder"):
        smp(deployment(nginx()), template_patch(**{"$setElementOrder/containers": [{"name": "x"}],
                                                   "containers": [{"name": "nginx", "image": "y"}]}))
    with pytest.raises(BadPatchError):
        apply_patch(STRATEGIC_MERGE_PATCH, deployment(), b"[]", "Deployment")
    with pytest.raises(UnsupportedPatchTypeError) as err:
        apply_patch(STRATEGIC_MERGE_PATCH, {"kind": "Widget"}, b"{}", "Widget")
    assert err.value.status == 415
    assert "application/merge-patch+json" in err.value.message
    with pytest.raises(UnsupportedPatchTypeError):
        apply_patch("text/plain", {}, b"{}", "Pod")


def test_smp_leaves_the_original_untouched():
    obj = deployment(nginx())
    before = copy.deepcopy(obj)
    smp(obj, template_patch(containers=[{"name": "nginx", "$patch": "delete"}]))
    assert obj == before
