"""ReplicaSet controller: creation, status, adoption and release, deletion ranking,
replacement of a deleted pod."""

from __future__ import annotations

import pytest

from tests.components.controllers.harness import Cluster, template

LABELS = {"app": "web"}


def replicaset(name: str = "web", replicas: int = 3, **spec: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": template(LABELS), **spec}}


@pytest.fixture
def cluster():
    c = Cluster(seed=1, controllers=("replicaset",))
    yield c
    c.close()


def owned(cluster: Cluster, rs_name: str = "web") -> list[dict]:
    return [p for p in cluster.pods()
            if any(r["name"] == rs_name for r in p["metadata"].get("ownerReferences", []))]


def test_creates_pods_and_reports_status(cluster):
    cluster.create("replicasets.apps", replicaset(replicas=3))
    cluster.run_until(lambda: cluster.get("replicasets.apps", "default", "web")["status"].get("readyReplicas") == 3)
    pods = owned(cluster)
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["generateName"] == "web-"
        ref = pod["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["controller"] and ref["blockOwnerDeletion"]
    st = cluster.get("replicasets.apps", "default", "web")["status"]
    assert st == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                  "availableReplicas": 3, "observedGeneration": 1}


def pod(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}


def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(cluster):
    cluster.create("pods", pod("orphan", LABELS))
    cluster.create("pods", pod("stranger", {"app": "other"}))
    cluster.create("replicasets.apps", replicaset(replicas=2))
    cluster.run_until(lambda: len(owned(cluster)) == 2)
    names = {p["metadata"]["name"] for p in owned(cluster)}
    assert "orphan" in names and "stranger" not in names
    assert len(cluster.pods()) == 3  # the orphan counted as one of the two replicas
    cluster.update("pods", "default", "orphan", lambda p: p["metadata"]["labels"].__setitem__("app", "debug"))
    cluster.run_until(lambda: len(owned(cluster)) == 2 and "orphan" not in {p["metadata"]["name"] for p in owned(cluster)})
    released = cluster.get("pods", "default", "orphan")
    assert not released["metadata"].get("ownerReferences")


def test_scale_down_deletes_not_ready_pods_first(cluster):
    cluster.create("replicasets.apps", replicaset(replicas=5))
    cluster.run_until(lambda: cluster.get("replicasets.apps", "default", "web")["status"].get("readyReplicas") == 5)
    laggards = sorted(p["metadata"]["name"] for p in owned(cluster))[:2]
    for name in laggards:
        cluster.api.mutate("pods", "default", name,
                           lambda p: p["status"]["conditions"][0].__setitem__("status", "False"))
    cluster.update("replicasets.apps", "default", "web", lambda rs: rs["spec"].__setitem__("replicas", 3))
    cluster.run_until(lambda: len(owned(cluster)) == 3)
    left = {p["metadata"]["name"] for p in owned(cluster)}
    assert not left & set(laggards)


def test_a_deleted_pod_is_replaced_once(cluster):
    cluster.create("replicasets.apps", replicaset(replicas=3))
    cluster.run_until(lambda: len(owned(cluster)) == 3)
    created: list[str] = []
    cluster.api.observers.append(lambda event, resource, obj: created.append(obj["metadata"]["name"])
                                 if resource == "pods" and event == "ADDED" else None)
    cluster.delete("pods", "default", owned(cluster)[0]["metadata"]["name"])
    cluster.run_until(lambda: len(owned(cluster)) == 3)
    cluster.run_for(10)
    assert len(created) == 1 and len(owned(cluster)) == 3
