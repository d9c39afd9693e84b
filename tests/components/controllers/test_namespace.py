"""Namespace controller: deletion empties the namespace, then removes the finalizer."""

from __future__ import annotations

import pytest

from tests.components.controllers.harness import Cluster, template

LABELS = {"app": "web"}


@pytest.fixture
def cluster():
    c = Cluster(seed=7, controllers=("deployment", "replicaset", "namespace", "garbagecollector"))
    yield c
    c.close()


def namespaced_objects(c: Cluster, namespace: str) -> list[str]:
    out = []
    for resource in ("pods", "replicasets.apps", "deployments.apps", "services", "configmaps"):
        out += [f"{resource}/{o['metadata']['name']}" for o in c.api.objects(resource, namespace)]
    return out


def test_deleting_a_namespace_removes_everything_in_it(cluster):
    cluster.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    cluster.create("deployments.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": LABELS}, "template": template(LABELS)}}, "team")
    cluster.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                "spec": {"selector": LABELS, "ports": [{"port": 80}]}}, "team")
    cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}, "team")
    cluster.run_until(lambda: len(cluster.pods("team")) == 4)
    other = cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}})

    cluster.delete("namespaces", "", "team")
    ns = cluster.get("namespaces", "", "team")
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    cluster.run_for(4)  # namespaceDeletionGracePeriod: nothing happens for 5 s
    assert len(namespaced_objects(cluster, "team")) == 8
    cluster.run_until(lambda: cluster.api.find("namespaces", "", "team") is None, timeout=60)
    assert namespaced_objects(cluster, "team") == []
    assert cluster.get("configmaps", "default", "keep")["metadata"]["uid"] == other["metadata"]["uid"]


def test_namespace_waits_for_content_held_by_finalizers(cluster):
    cluster.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, "team")
    cluster.delete("namespaces", "", "team")
    cluster.run_for(10)
    ns = cluster.get("namespaces", "", "team")
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances")
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    cluster.update("configmaps", "team", "held", lambda cm: cm["metadata"].__setitem__("finalizers", []))
    cluster.run_until(lambda: cluster.api.find("namespaces", "", "team") is None, timeout=30)
