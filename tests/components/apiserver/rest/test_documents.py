"""Discovery, OpenAPI and health documents as kubectl reads them."""

from __future__ import annotations

from kubesim.api import kinds
from kubesim.components.apiserver.rest import discovery, health, openapi


def test_aggregated_discovery_lists_every_served_resource():
    core = discovery.aggregated(legacy=True)
    assert core["kind"] == "APIGroupDiscoveryList"
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    [group] = core["items"]
    assert "name" not in group["metadata"]
    resources = {r["resource"]: r for r in group["versions"][0]["resources"]}
    assert resources["pods"]["scope"] == "Namespaced"
    assert resources["nodes"]["scope"] == "Cluster"
    assert resources["pods"]["shortNames"] == ["po"]
    binding = next(s for s in resources["pods"]["subresources"] if s["subresource"] == "binding")
    assert binding["responseKind"] == {"group": "", "version": "v1", "kind": "Binding"}
    apis = discovery.aggregated(legacy=False)
    assert [g["metadata"]["name"] for g in apis["items"]] == list(kinds.GROUP_ORDER)
    served = {(g["metadata"]["name"], r["resource"]) for g in apis["items"]
              for v in g["versions"] for r in v["resources"]}
    assert served == {(k.group, k.resource) for k in kinds.KINDS if k.group}


def test_wants_aggregated_matches_kubectls_accept_header():
    kubectl = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
               "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
               "application/json")
    assert discovery.wants_aggregated(kubectl)
    assert not discovery.wants_aggregated("application/json")


def test_every_kind_has_a_patch_operation_with_field_validation():
    """What cli-runtime's QueryParamVerifierV3 looks for before kubectl apply/create."""
    for gv in openapi.group_versions():
        doc = openapi.document(gv)
        assert doc is not None and doc["openapi"] == "3.0.0"
        patched = {}
        for path in doc["paths"].values():
            op = path.get("patch")
            if op:
                gvk = op["x-kubernetes-group-version-kind"]
                params = {p["name"] for p in op["parameters"] if p["in"] == "query"}
                patched[(gvk["group"], gvk["version"], gvk["kind"])] = params
        for kind in kinds.KINDS:
            if kind.api_version == (gv[4:] if gv.startswith("api/") else gv[5:]) and \
                    "patch" in kind.verbs:
                assert "fieldValidation" in patched[(kind.group, kind.version, kind.kind)]
    assert openapi.document("apis/nope/v1") is None
    index = openapi.index({"api/v1": openapi.document("api/v1")})
    assert index["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")


def test_operation_ids_follow_kubernetes_naming():
    doc = openapi.document("apis/apps/v1")
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert item["get"]["operationId"] == "readAppsV1NamespacedDeployment"
    assert item["patch"]["operationId"] == "patchAppsV1NamespacedDeployment"
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["put"]["operationId"] == "replaceAppsV1NamespacedDeploymentScale"
    assert scale["put"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    core = openapi.document("api/v1")
    assert core["paths"]["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"


def test_health_rendering():
    checks = [health.Check("ping", True), health.Check("etcd", True)]
    assert health.render("readyz", checks, verbose=False) == health.HealthResponse(200, "ok")
    verbose = health.render("readyz", checks, verbose=True, exclude=["etcd", "nope"])
    assert verbose.text == ('[+]ping ok\n[+]etcd excluded: ok\nwarn: some health checks cannot '
                            'be excluded: no matches for "nope"\nreadyz check passed\n')
    failing = health.render("livez", [health.Check("ping", True), health.Check("etcd", False)],
                            verbose=False)
    assert failing == health.HealthResponse(
        500, "[+]ping ok\n[-]etcd failed: reason withheld\nlivez check failed\n")
    assert health.render_one(checks, "etcd") == health.HealthResponse(200, "ok")
    assert health.render_one(checks, "nope") is None
