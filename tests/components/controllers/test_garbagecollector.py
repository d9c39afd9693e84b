"""Garbage collector: background, foreground and orphan propagation, dangling owners;
the dependency graph on its own."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.components.controllers.garbagecollector.graph import GraphBuilder, GraphChange
from tests.components.controllers.harness import Cluster, template

LABELS = {"app": "web"}


def deployment(replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": template(LABELS)}}


def replicaset(replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": template(LABELS)}}


@pytest.fixture
def cluster():
    c = Cluster(seed=5, controllers=("deployment", "replicaset", "garbagecollector"))
    yield c
    c.close()


def test_background_deletion_collects_replicasets_and_pods(cluster):
    cluster.create("deployments.apps", deployment())
    cluster.run_until(lambda: len(cluster.pods()) == 3)
    cluster.delete("deployments.apps", "default", "web")
    cluster.run_until(lambda: not cluster.pods() and not cluster.api.objects("replicasets.apps"))


def test_foreground_deletion_removes_dependents_before_the_owner(cluster):
    cluster.create("replicasets.apps", replicaset())
    cluster.run_until(lambda: len(cluster.pods()) == 3)
    order: list[tuple[str, str, list[str]]] = []

    def record(event: str, resource: str, obj: dict[str, Any]) -> None:
        if event == "DELETED" or resource == "replicasets.apps":
            order.append((event, resource, obj["metadata"].get("finalizers", [])))

    cluster.api.observers.append(record)
    cluster.delete("replicasets.apps", "default", "web", propagation_policy="Foreground")
    cluster.run_until(lambda: not cluster.api.objects("replicasets.apps"))
    assert order[0] == ("MODIFIED", "replicasets.apps", ["foregroundDeletion"])
    assert [(e, r) for e, r, _ in order[-4:]] == [("DELETED", "pods")] * 3 + [("DELETED", "replicasets.apps")]
    assert cluster.pods() == []


def test_foreground_deletion_of_a_deployment_goes_bottom_up(cluster):
    cluster.create("deployments.apps", deployment(4))
    cluster.run_until(lambda: len(cluster.pods()) == 4)
    deleted: list[str] = []

    def record(event: str, resource: str, obj: dict[str, Any]) -> None:
        if event == "DELETED":
            deleted.append(resource)

    cluster.api.observers.append(record)
    cluster.delete("deployments.apps", "default", "web", propagation_policy="Foreground")
    d = cluster.api.find("deployments.apps", "default", "web")
    assert d is not None and d["metadata"]["finalizers"] == ["foregroundDeletion"]
    cluster.run_until(lambda: cluster.api.find("deployments.apps", "default", "web") is None)
    assert deleted == ["pods"] * 4 + ["replicasets.apps", "deployments.apps"]
    assert cluster.pods() == [] and cluster.api.objects("replicasets.apps") == []


def test_orphan_deletion_keeps_dependents_and_strips_their_owner(cluster):
    cluster.create("replicasets.apps", replicaset())
    cluster.run_until(lambda: len(cluster.pods()) == 3)
    cluster.delete("replicasets.apps", "default", "web", propagation_policy="Orphan")
    cluster.run_until(lambda: not cluster.api.objects("replicasets.apps"))
    cluster.run_for(5)
    pods = cluster.pods()
    assert len(pods) == 3
    assert all(not p["metadata"].get("ownerReferences") for p in pods)


def test_dependent_of_an_owner_that_never_existed_is_collected(cluster):
    ghost = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ghost",
             "uid": "00000000-0000-4000-8000-000000000000", "controller": True}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "stray", "ownerReferences": [ghost]},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    cluster.create("pods", pod)
    keep = {**pod, "metadata": {"name": "mine"}}
    cluster.create("pods", keep)
    cluster.run_until(lambda: [p["metadata"]["name"] for p in cluster.pods()] == ["mine"])


def test_a_solid_owner_keeps_a_dependent_and_dangling_references_are_removed(cluster):
    owner = cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone",
             "uid": "00000000-0000-4000-8000-000000000001"}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "dep", "ownerReferences": [ghost, live]}})
    cluster.run_until(lambda: len(cluster.get("configmaps", "default", "dep")["metadata"]["ownerReferences"]) == 1)
    assert cluster.get("configmaps", "default", "dep")["metadata"]["ownerReferences"][0]["name"] == "owner"


def _obj(name: str, uid: str, owners: list[dict] | None = None, **md: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "ownerReferences": owners or [], **md}}


def _ref(name: str, uid: str, block: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid, "blockOwnerDeletion": block}


def test_graph_virtual_owner_then_observed_owner():
    graph = GraphBuilder(lambda api_version, kind: True)
    queued = graph.process(GraphChange("add", _obj("child", "c", [_ref("parent", "p", block=True)])))
    assert [n.uid for n in queued.attempt_to_delete] == ["p"]
    assert graph.nodes["p"].virtual and list(graph.nodes["p"].dependents) == ["c"]
    graph.process(GraphChange("add", _obj("parent", "p")))
    assert graph.nodes["p"].observed and not graph.nodes["p"].virtual
    deleting = _obj("parent", "p", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["foregroundDeletion"])
    queued = graph.process(GraphChange("update", deleting, _obj("parent", "p")))
    assert [n.uid for n in queued.attempt_to_delete] == ["c", "p"]
    assert [n.uid for n in graph.nodes["p"].blocking_dependents()] == ["c"]
    queued = graph.process(GraphChange("delete", _obj("child", "c", [_ref("parent", "p", block=True)])))
    assert [n.uid for n in queued.attempt_to_delete] == ["p"]
    assert graph.nodes["p"].dependents == {}


def test_graph_orphan_finalizer_goes_to_attempt_to_orphan():
    graph = GraphBuilder(lambda api_version, kind: True)
    graph.process(GraphChange("add", _obj("parent", "p")))
    queued = graph.process(GraphChange(
        "update", _obj("parent", "p", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["orphan"]),
        _obj("parent", "p")))
    assert [n.uid for n in queued.attempt_to_orphan] == ["p"] and queued.attempt_to_delete == []
