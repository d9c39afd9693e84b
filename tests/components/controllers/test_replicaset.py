"""ReplicaSet controller: creation in slow-start batches, deletion ranking, status, adoption."""

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
