"""Field errors and metav1.Status bodies, with the exact apiserver text."""

from __future__ import annotations

from kubesim.api import field, status
from kubesim.api.field import new_path


def test_paths():
    p = new_path("spec").child("containers").index(0).child("resources", "limits").key("cpu")
    assert str(p) == "spec.containers[0].resources.limits[cpu]"
    assert str(new_path("metadata").child("labels")) == "metadata.labels"
    assert str(new_path()) == ""


def test_error_rendering():
    name = new_path("metadata", "name")
    assert str(field.required(name)) == "metadata.name: Required value"
    assert str(field.required(name, "name or generateName is required")) == \
        "metadata.name: Required value: name or generateName is required"
    assert str(field.invalid(name, "x", "bad")) == 'metadata.name: Invalid value: "x": bad'
    assert str(field.invalid(new_path("spec", "replicas"), -1, "must be greater than or equal to 0")) == \
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    assert str(field.not_supported(new_path("spec", "restartPolicy"), "Foo",
                                   ["Always", "OnFailure", "Never"])) == \
        'spec.restartPolicy: Unsupported value: "Foo": supported values: "Always", "OnFailure", "Never"'
    assert str(field.forbidden(new_path("spec"), "nope")) == "spec: Forbidden: nope"
    assert str(field.duplicate(new_path("spec", "containers").index(1).child("name"), "c")) == \
        'spec.containers[1].name: Duplicate value: "c"'
    assert str(field.too_long(new_path("metadata", "annotations"), 262144)) == \
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    assert str(field.not_found(new_path("x"), "v")) == 'x: Not found: "v"'
    assert str(field.too_many(new_path("endpoints"), 1001, 1000)) == \
        "endpoints: Too many: 1001: must have at most 1000 items"
    assert str(field.invalid(new_path("a"), {"b": "c", "a": "d"}, "m")) == \
        'a: Invalid value: map[string]string{"a":"d", "b":"c"}: m'
    assert str(field.invalid(new_path("a"), ["x", "y"], "m")) == 'a: Invalid value: []string{"x", "y"}: m'
    assert str(field.invalid(new_path("a"), None, "m")) == 'a: Invalid value: "null": m'
    assert str(field.invalid(new_path("a"), True, "m")) == "a: Invalid value: true: m"
    assert field.go_quote('a"b\n\x01') == '"a\\"b\\n\\x01"'


def test_cause_and_aggregate():
    err = field.invalid(new_path("metadata", "name"), "x", "bad")
    assert err.cause() == {"reason": "FieldValueInvalid", "message": 'Invalid value: "x": bad',
                           "field": "metadata.name"}
    assert field.aggregate([err]) == 'metadata.name: Invalid value: "x": bad'
    other = field.required(new_path("spec"))
    assert field.aggregate([err, err, other]) == \
        '[metadata.name: Invalid value: "x": bad, spec: Required value]'


def _body(error: status.APIError) -> dict:
    return error.status


def test_not_found_and_already_exists():
    assert _body(status.not_found("pods", "x")) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "x" not found', "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"}, "code": 404}
    err = status.already_exists("deployments", "web", "apps")
    assert err.code == 409 and err.reason == "AlreadyExists"
    assert err.message == 'deployments.apps "web" already exists'
    assert err.status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_conflict_and_gone():
    err = status.conflict("pods", "x")
    assert err.message == ('Operation cannot be fulfilled on pods "x": the object has been '
                           "modified; please apply your changes to the latest version and try again")
    assert err.code == 409 and err.reason == "Conflict"
    gone = status.gone(5, 10)
    assert (gone.code, gone.reason, gone.message) == (410, "Expired", "too old resource version: 5 (10)")


def test_invalid():
    errs = [field.invalid(new_path("metadata", "name"), "Foo_bar", "bad"),
            field.required(new_path("spec", "containers"))]
    err = status.invalid("Pod", "Foo_bar", errs)
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message == ('Pod "Foo_bar" is invalid: [metadata.name: Invalid value: "Foo_bar": bad, '
                           "spec.containers: Required value]")
    assert err.status["details"] == {
        "name": "Foo_bar", "kind": "Pod",
        "causes": [{"reason": "FieldValueInvalid", "message": 'Invalid value: "Foo_bar": bad',
                    "field": "metadata.name"},
                   {"reason": "FieldValueRequired", "message": "Required value",
                    "field": "spec.containers"}]}
    one = status.invalid("Deployment", "d", errs[1:], "apps")
    assert one.message == 'Deployment.apps "d" is invalid: spec.containers: Required value'


def test_other_codes():
    assert status.bad_request("nope").status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "nope", "reason": "BadRequest", "code": 400}
    assert status.unauthorized().status["message"] == "Unauthorized"
    assert status.unauthorized().code == 401
    forbidden = status.forbidden("pods", "x", "unable to create new content in namespace ns "
                                 "because it is being terminated")
    assert forbidden.code == 403
    assert forbidden.message == ('pods "x" is forbidden: unable to create new content in namespace '
                                 "ns because it is being terminated")
    assert status.method_not_supported("pods", "deletecollection").message == \
        'deletecollection is not supported on resources of kind "pods"'
    assert status.method_not_supported("pods", "x").code == 405
    too_large = status.request_entity_too_large("limit is 3145728")
    assert (too_large.code, too_large.reason, too_large.message) == \
        (413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    throttled = status.too_many_requests("Too many requests, please try again later.", 1)
    assert throttled.code == 429 and throttled.status["details"] == {"retryAfterSeconds": 1}
    internal = status.internal("boom")
    assert internal.code == 500 and internal.message == "Internal error occurred: boom"
    assert internal.status["details"] == {"causes": [{"message": "boom"}]}
    assert status.service_unavailable("x").code == 503
    assert status.cannot_handle("Pod", "v1", "bad").message == \
        'Pod in version "v1" cannot be handled as a Pod: bad'
    assert status.success("x", kind="configmaps", uid="u") == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": "x", "kind": "configmaps", "uid": "u"}}
    assert isinstance(status.not_found("pods", "x"), Exception)
