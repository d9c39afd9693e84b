"""The apiserver's request path on the sim runtime, through its message fast path:
verbs, subresources, Table output, discovery, health, and bad input answered with the
real Status and nothing stored."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.components.apiserver.rest.clusters import (
    TABLE_ACCEPT,
    call,
    client,
    configmap,
    deployment,
    pod,
    request,
    sim_control_plane,
)


@pytest.fixture(scope="module")
def cluster():
    rt, plane = sim_control_plane(seed=3)
    yield rt, plane.apiservers[0]
    rt.close()


def names(response: dict) -> list[str]:
    return [item["metadata"]["name"] for item in response["body"]["items"]]


def test_system_namespaces_and_priority_classes_exist_at_start(cluster):
    rt, api = cluster
    r = call(rt, api, "GET", "/api/v1/namespaces")
    assert r["code"] == 200
    assert names(r) == ["default", "kube-node-lease", "kube-public", "kube-system"]
    r = call(rt, api, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses")
    assert names(r) == ["system-cluster-critical", "system-node-critical"]


def test_create_get_list_update_delete(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/configmaps"
    created = call(rt, api, "POST", base, configmap("crud", a="1"))
    assert created["code"] == 201
    meta = created["body"]["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["resourceVersion"]
    got = call(rt, api, "GET", f"{base}/crud")
    assert got["code"] == 200 and got["body"]["data"] == {"a": "1"}
    listed = call(rt, api, "GET", base, query={"labelSelector": ""})
    assert "crud" in names(listed)
    assert int(listed["body"]["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])
    update = dict(got["body"], data={"a": "2"})
    updated = call(rt, api, "PUT", f"{base}/crud", update)
    assert updated["code"] == 200 and updated["body"]["data"] == {"a": "2"}
    assert int(updated["body"]["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    stale = call(rt, api, "PUT", f"{base}/crud", update)
    assert stale["code"] == 409 and stale["body"]["reason"] == "Conflict"
    assert stale["body"]["message"] == (
        'Operation cannot be fulfilled on configmaps "crud": the object has been modified; '
        "please apply your changes to the latest version and try again")
    deleted = call(rt, api, "DELETE", f"{base}/crud")
    assert deleted["code"] == 200 and deleted["body"]["status"] == "Success"
    gone = call(rt, api, "GET", f"{base}/crud")
    assert gone["code"] == 404 and gone["body"]["message"] == 'configmaps "crud" not found'


def test_fast_path_takes_decoded_objects(cluster):
    """In-process clients send the object itself instead of JSON bytes."""
    rt, api = cluster

    async def create(rt):
        req = request("POST", "/api/v1/namespaces/default/configmaps")
        req["object"] = configmap("decoded", k="v")
        return await rt.ask(api, ["request", req])

    r = rt.run(create)
    assert r["code"] == 201 and r["body"]["data"] == {"k": "v"}


def test_two_writers_race_exactly_one_gets_409(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/configmaps"
    obj = call(rt, api, "POST", base, configmap("race"))["body"]

    async def both(rt):
        reqs = [request("PUT", f"{base}/race", dict(obj, data={"writer": str(i)}))
                for i in range(2)]
        return await asyncio.gather(*(rt.ask(api, ["request", r]) for r in reqs))

    codes = sorted(r["code"] for r in rt.run(both))
    assert codes == [200, 409]


def test_patch_types(cluster):
    rt, api = cluster
    base = "/apis/apps/v1/namespaces/default/deployments"
    assert call(rt, api, "POST", base, deployment("patched"))["code"] == 201
    merge = call(rt, api, "PATCH", f"{base}/patched", {"metadata": {"labels": {"m": "1"}}},
                 content_type="application/merge-patch+json")
    assert merge["code"] == 200 and merge["body"]["metadata"]["labels"] == {"m": "1"}
    json_patch = call(rt, api, "PATCH", f"{base}/patched",
                      [{"op": "replace", "path": "/spec/replicas", "value": 3}],
                      content_type="application/json-patch+json")
    assert json_patch["code"] == 200 and json_patch["body"]["spec"]["replicas"] == 3
    # strategic merge: containers merge by name, so the sidecar joins the app container
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    smp = call(rt, api, "PATCH", f"{base}/patched", sidecar,
               content_type="application/strategic-merge-patch+json")
    containers = smp["body"]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "app"]
    assert smp["body"]["metadata"]["generation"] == 3
    apply = call(rt, api, "PATCH", f"{base}/patched", {"spec": {}},
                 content_type="application/apply-patch+yaml")
    assert apply["code"] == 415 and apply["body"]["reason"] == "UnsupportedMediaType"
    assert "application/apply-patch+yaml" not in apply["body"]["message"]


def test_scale_subresource(cluster):
    rt, api = cluster
    base = "/apis/apps/v1/namespaces/default/deployments"
    call(rt, api, "POST", base, deployment("scaled", replicas=2))
    scale = call(rt, api, "GET", f"{base}/scaled/scale")
    assert scale["code"] == 200
    assert scale["body"]["kind"] == "Scale" and scale["body"]["apiVersion"] == "autoscaling/v1"
    assert scale["body"]["spec"] == {"replicas": 2}
    assert scale["body"]["status"]["selector"] == "app=scaled"
    patched = call(rt, api, "PATCH", f"{base}/scaled/scale", {"spec": {"replicas": 5}},
                   content_type="application/merge-patch+json")
    assert patched["code"] == 200 and patched["body"]["spec"]["replicas"] == 5
    assert call(rt, api, "GET", f"{base}/scaled")["body"]["spec"]["replicas"] == 5
    negative = call(rt, api, "PATCH", f"{base}/scaled/scale", {"spec": {"replicas": -1}},
                    content_type="application/merge-patch+json")
    assert negative["code"] == 422
    assert negative["body"]["message"] == ('Scale.autoscaling "scaled" is invalid: spec.replicas: '
                                           "Invalid value: -1: must be greater than or equal to 0")


def test_pod_binding(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/pods"
    call(rt, api, "POST", base, pod("bound"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    first = call(rt, api, "POST", f"{base}/bound/binding", binding)
    assert first["code"] == 201 and first["body"]["status"] == "Success"
    assert call(rt, api, "GET", f"{base}/bound")["body"]["spec"]["nodeName"] == "node-1"
    again = call(rt, api, "POST", f"{base}/bound/binding", binding)
    assert again["code"] == 409


def test_dry_run_stores_nothing(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/configmaps"
    r = call(rt, api, "POST", base, configmap("dry"), query={"dryRun": "All"})
    assert r["code"] == 201 and r["body"]["metadata"]["name"] == "dry"
    assert call(rt, api, "GET", f"{base}/dry")["code"] == 404
    bad = call(rt, api, "POST", base, configmap("dry"), query={"dryRun": "Some"})
    assert bad["code"] == 422
    assert bad["body"]["message"] == ('CreateOptions.meta.k8s.io "" is invalid: dryRun: '
                                      'Unsupported value: []string{"Some"}: supported values: "All"')


def test_table_output_for_kubectl_get(cluster):
    rt, api = cluster
    call(rt, api, "POST", "/api/v1/namespaces/default/pods", pod("tabled", app="t"))
    r = call(rt, api, "GET", "/api/v1/namespaces/default/pods", accept=TABLE_ACCEPT,
             query={"labelSelector": "app=t"})
    table = r["body"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
        "Readiness Gates"]
    [row] = table["rows"]
    assert row["cells"][:4] == ["tabled", "0/1", "Pending", "0"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"] == {"app": "t"}
    bad = call(rt, api, "GET", "/api/v1/namespaces/default/pods", accept=TABLE_ACCEPT,
               query={"includeObject": "All"})
    assert bad["code"] == 400


def test_watch_streams_events_to_the_caller(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/configmaps"
    rv = call(rt, api, "POST", base, configmap("watched", v="0"))["body"]["metadata"]["resourceVersion"]
    watcher = client(rt)

    async def watch_then_write(rt):
        reply = await watcher.ctx.call(api, ["request", request(
            "GET", base, query={"watch": "true", "resourceVersion": rv,
                                "fieldSelector": "metadata.name=watched"})])
        await rt.ask(api, ["request", request("PATCH", f"{base}/watched", {"data": {"v": "1"}},
                                              content_type="application/merge-patch+json")])
        await rt.ask(api, ["request", request("DELETE", f"{base}/watched")])
        await rt.sleep(1.0)
        watcher.ctx.send(api, ["watch_stop", reply["watch_id"]])
        await rt.sleep(1.0)
        return reply

    reply = rt.run(watch_then_write)
    assert reply["code"] == 200
    events = watcher.events[reply["watch_id"]]
    assert [(e["type"], e["object"]["data"]) for e in events] == [
        ("MODIFIED", {"v": "1"}), ("DELETED", {"v": "1"})]
    assert reply["watch_id"] in watcher.ended


# ---------------------------------------------------------------------------- bad input
def test_malformed_json_is_400_and_nothing_stored(cluster):
    rt, api = cluster
    base = "/api/v1/namespaces/default/configmaps"
    r = call(rt, api, "POST", base, raw=b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {')
    assert r["code"] == 400 and r["body"]["reason"] == "BadRequest"
    assert r["body"]["message"] == (
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
        "version/kind; json parse error: unexpected end of JSON input "
        '({"apiVersion": "v1", "kind": " ...)')
    r = call(rt, api, "POST", base, raw=b'{"metadata": {"name": "x"},}')
    assert r["code"] == 400
    assert "invalid character '}' looking for beginning of object key string" in r["body"]["message"]
    assert call(rt, api, "GET", f"{base}/x")["code"] == 404


def test_unknown_kind_or_version(cluster):
    rt, api = cluster
    body = {"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "g"}}
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", body)
    assert r["code"] == 400
    assert r["body"]["message"].startswith(
        'Gadget in version "v1" cannot be handled as a ConfigMap: no kind "Gadget" is '
        'registered for version "v1"')
    r = call(rt, api, "POST", "/apis/apps/v2/namespaces/default/deployments", deployment("v2"))
    assert (r["code"], r["body"]) == (404, "404 page not found\n")
    r = call(rt, api, "GET", "/api/v1/namespaces/default/gadgets")
    assert r["code"] == 404 and r["body"]["reason"] == "NotFound"
    assert r["body"]["message"] == "the server could not find the requested resource"
    wrong = dict(deployment("wrongversion"), apiVersion="apps/v1beta9")
    r = call(rt, api, "POST", "/apis/apps/v1/namespaces/default/deployments", wrong)
    assert r["code"] == 400
    assert call(rt, api, "GET", "/apis/apps/v1/namespaces/default/deployments/v2")["code"] == 404


def test_invalid_name_is_422_with_the_field_path(cluster):
    rt, api = cluster
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", configmap("Bad_Name"))
    assert r["code"] == 422 and r["body"]["reason"] == "Invalid"
    assert r["body"]["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase '
        "RFC 1123 subdomain must consist of")
    assert r["body"]["details"]["causes"][0]["field"] == "metadata.name"
    assert call(rt, api, "GET", "/api/v1/namespaces/default/configmaps/Bad_Name")["code"] == 404


def test_body_over_the_request_limit_is_413(cluster):
    rt, api = cluster
    big = json.dumps(configmap("huge", blob="x" * (3 * 1024 * 1024))).encode()
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", raw=big)
    assert r["code"] == 413 and r["body"]["reason"] == "RequestEntityTooLarge"
    assert r["body"]["message"] == "Request entity too large: limit is 3145728"
    assert call(rt, api, "GET", "/api/v1/namespaces/default/configmaps/huge")["code"] == 404


def test_object_over_the_etcd_limit_is_refused_and_not_stored(cluster):
    """Under the 3 MiB body limit but over etcd's 1.5 MiB request limit: kube-apiserver
    passes etcd's error on as a 500 (kubernetes/kubernetes#112152 is still open)."""
    rt, api = cluster
    big = pod("large")
    big["spec"]["containers"][0]["env"] = [{"name": "BLOB", "value": "x" * (2 * 1024 * 1024)}]
    r = call(rt, api, "POST", "/api/v1/namespaces/default/pods", big)
    assert (r["code"], r["body"]["message"]) == (500, "etcdserver: request is too large")
    assert call(rt, api, "GET", "/api/v1/namespaces/default/pods/large")["code"] == 404


def test_missing_or_wrong_token_is_401(cluster):
    rt, api = cluster
    unauthorized = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    for token in (None, "wrong"):
        r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", configmap("anon"),
                 token=token)
        assert (r["code"], r["body"]) == (401, unauthorized)
        assert call(rt, api, "GET", "/version", token=token)["code"] == 401
    assert call(rt, api, "GET", "/api/v1/namespaces/default/configmaps/anon")["code"] == 404
    assert call(rt, api, "GET", "/healthz", token=None)["body"] == "ok"


def test_namespace_mismatch_and_protobuf_bodies(cluster):
    rt, api = cluster
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps",
             configmap("elsewhere", namespace="kube-system"))
    assert r["code"] == 400
    assert r["body"]["message"] == ("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", raw=b"k8s\x00\x0a",
             content_type="application/vnd.kubernetes.protobuf")
    assert r["code"] == 400  # a runtime.Unknown cut short
    r = call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", raw=b"k8s\x00\x0a",
             content_type="application/vnd.kubernetes.protobuf", token=None)
    assert r["code"] == 401  # the body is decoded only after authentication


# ---------------------------------------------------------------------------- non-resource
def test_discovery_legacy_and_aggregated(cluster):
    rt, api = cluster
    legacy = call(rt, api, "GET", "/apis")
    assert legacy["body"]["kind"] == "APIGroupList"
    aggregated = call(rt, api, "GET", "/apis",
                      accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                             "application/json")
    assert aggregated["headers"]["Content-Type"] == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    groups = {g["metadata"]["name"]: g for g in aggregated["body"]["items"]}
    deployments = next(r for r in groups["apps"]["versions"][0]["resources"]
                       if r["resource"] == "deployments")
    assert {s["subresource"] for s in deployments["subresources"]} == {"scale", "status"}
    resources = call(rt, api, "GET", "/api/v1")["body"]
    assert resources["kind"] == "APIResourceList" and resources["groupVersion"] == "v1"
    assert call(rt, api, "GET", "/apis/apps/v9")["code"] == 404
    version = call(rt, api, "GET", "/version")["body"]
    assert (version["major"], version["minor"]) == ("1", "32")


def test_readyz_verbose_and_openapi(cluster):
    rt, api = cluster
    r = call(rt, api, "GET", "/readyz", query={"verbose": "1"}, token=None)
    assert r["code"] == 200 and r["body"].endswith("readyz check passed\n")
    assert "[+]etcd ok\n" in r["body"] and "[+]informer-sync ok\n" in r["body"]
    index = call(rt, api, "GET", "/openapi/v3")["body"]
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = call(rt, api, "GET", url.split("?")[0])["body"]
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1",
                                                        "kind": "Deployment"}
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


def test_metrics_have_the_real_names_and_labels(cluster):
    rt, api = cluster
    call(rt, api, "POST", "/api/v1/namespaces/default/configmaps", configmap("counted"))
    rt.run_for(61.0)  # one --etcd-count-metric-poll-period
    text = call(rt, api, "GET", "/metrics")["body"]
    assert ('apiserver_request_total{code="201",component="apiserver",dry_run="",group="",'
            'instance="apiserver-0",job="apiserver",resource="configmaps",scope="resource",'
            'subresource="",verb="POST",version="v1"}') in text
    assert 'apiserver_request_duration_seconds_bucket{component="apiserver"' in text
    assert 'le="0.005"' in text and 'le="60.0"' in text
    assert 'etcd_request_duration_seconds_count{instance="apiserver-0",job="apiserver",' \
           'operation="create",type="configmaps"}' in text
    assert 'apiserver_storage_objects{instance="apiserver-0",job="apiserver",' \
           'resource="namespaces"} 4.0' in text
    assert 'apiserver_current_inflight_requests{instance="apiserver-0",job="apiserver",' \
           'request_kind="mutating"}' in text
    assert "apiserver_flowcontrol_nominal_limit_seats" in text
    assert "etcd_server_has_leader" not in text  # only this replica's own samples
