"""URL -> request dict, as requestinfo.go's RequestInfoFactory parses it."""

from __future__ import annotations

import pytest

from kubesim.components.apiserver.rest.requestinfo import request_info

CASES = [
    # method, path, query, (verb, group, version, resource, subresource, namespace, name)
    ("GET", "/api/v1/pods", {}, ("list", "", "v1", "pods", "", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}, ("watch", "", "v1", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "false"}, ("list", "", "v1", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods/p", {}, ("get", "", "v1", "pods", "", "ns", "p")),
    ("PUT", "/api/v1/namespaces/ns/pods/p/status", {}, ("update", "", "v1", "pods", "status", "ns", "p")),
    ("POST", "/api/v1/namespaces/ns/pods/p/binding", {}, ("create", "", "v1", "pods", "binding", "ns", "p")),
    ("DELETE", "/api/v1/namespaces/ns/pods", {}, ("deletecollection", "", "v1", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "v1", "namespaces", "", "", "")),
    ("GET", "/api/v1/namespaces/ns", {}, ("get", "", "v1", "namespaces", "", "ns", "ns")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {}, ("update", "", "v1", "namespaces", "finalize", "ns", "ns")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {},
     ("patch", "apps", "v1", "deployments", "scale", "ns", "d")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", {}, ("watch", "", "v1", "pods", "", "ns", "")),
    ("GET", "/apis/scheduling.k8s.io/v1/priorityclasses/x", {},
     ("get", "scheduling.k8s.io", "v1", "priorityclasses", "", "", "x")),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), CASES)
def test_resource_requests(method, path, query, expected):
    info = request_info(method, path, query)
    assert info["resource_request"]
    got = tuple(info[k] for k in ("verb", "group", "version", "resource", "subresource",
                                  "namespace", "name"))
    assert got == expected


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1",
                                  "/healthz", "/version", "/openapi/v3/api/v1"])
def test_non_resource_requests(path):
    info = request_info("GET", path, {})
    assert not info["resource_request"] and info["path"] == path and info["verb"] == "get"


def test_only_known_query_parameters_are_kept():
    info = request_info("GET", "/api/v1/pods", {"limit": "5", "labelSelector": "a=b", "x": "y"})
    assert info["query"] == {"limit": "5", "labelSelector": "a=b"}
