"""Deployment controller on the sim runtime: rolling updates inside maxSurge/maxUnavailable
at every step, Recreate, proportional scaling, revision history, progress deadline."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.components.controllers.deployment import util
from tests.components.controllers.harness import Cluster, template

LABELS = {"app": "web"}


def deployment(replicas: int = 10, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": template(LABELS, image), **spec}}


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


@pytest.fixture
def cluster():
    c = Cluster(seed=3, controllers=("deployment", "replicaset"))
    yield c
    c.close()


def replicasets(c: Cluster) -> list[dict[str, Any]]:
    return util.by_creation(c.api.objects("replicasets.apps", "default"))


def image_of(pod: dict[str, Any]) -> str:
    return pod["spec"]["containers"][0]["image"]


def ready_pods(c: Cluster, image: str | None = None) -> list[dict[str, Any]]:
    return [p for p in c.pods() if any(x["type"] == "Ready" and x["status"] == "True"
                                       for x in p.get("status", {}).get("conditions", []))
            and (image is None or image_of(p) == image)]


def status(c: Cluster) -> dict[str, Any]:
    return c.get("deployments.apps", "default", "web").get("status", {})


def complete(c: Cluster, image: str, replicas: int) -> bool:
    d = c.get("deployments.apps", "default", "web")
    st = d.get("status", {})
    pods = c.pods()
    return (st.get("observedGeneration") == d["metadata"]["generation"]
            and st.get("updatedReplicas") == replicas and st.get("availableReplicas") == replicas
            and st.get("replicas") == replicas and len(pods) == replicas
            and all(image_of(p) == image for p in pods))


def condition(st: dict[str, Any], cond_type: str) -> dict[str, Any]:
    return next(c for c in st["conditions"] if c["type"] == cond_type)


def test_rolling_update_respects_surge_and_unavailable_at_every_step(cluster):
    cluster.create("deployments.apps", deployment(10, strategy=rolling(3, 2)))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 10))
    first = replicasets(cluster)
    assert len(first) == 1
    assert first[0]["metadata"]["annotations"][util.REVISION] == "1"
    assert first[0]["metadata"]["name"] == "web-" + first[0]["metadata"]["labels"][util.POD_TEMPLATE_HASH]

    seen = {"max_spec": 0, "min_ready": 10}

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        total_spec = sum(rs["spec"]["replicas"] for rs in cluster.api.objects("replicasets.apps"))
        ready = len(ready_pods(cluster))
        assert total_spec <= 10 + 3, f"maxSurge exceeded: {total_spec} replicas wanted"
        assert ready >= 10 - 2, f"maxUnavailable exceeded: only {ready} ready pods"
        seen["max_spec"] = max(seen["max_spec"], total_spec)
        seen["min_ready"] = min(seen["min_ready"], ready)

    cluster.api.observers.append(check)
    cluster.update("deployments.apps", "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    cluster.run_until(lambda: complete(cluster, "nginx:1.26", 10))
    cluster.run_for(5)
    cluster.api.observers.remove(check)
    # the rollout used its whole budget, not one pod at a time
    assert seen == {"max_spec": 13, "min_ready": 8}

    old, new = replicasets(cluster)
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 10
    assert new["metadata"]["annotations"][util.REVISION] == "2"
    assert new["metadata"]["annotations"][util.DESIRED_REPLICAS] == "10"
    assert new["metadata"]["annotations"][util.MAX_REPLICAS] == "13"
    d = cluster.get("deployments.apps", "default", "web")
    assert d["metadata"]["annotations"][util.REVISION] == "2"
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (10, 10, 10, 10)
    assert "unavailableReplicas" not in st  # omitempty
    assert condition(st, "Available")["reason"] == "MinimumReplicasAvailable"
    progressing = condition(st, "Progressing")
    assert progressing["status"] == "True" and progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has successfully progressed.'
    events = [e["message"] for e in cluster.api.objects("events", "default")
              if e["involvedObject"]["kind"] == "Deployment"]
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 3" in events


def test_recreate_deletes_every_old_pod_before_creating_new_ones(cluster):
    cluster.create("deployments.apps", deployment(4, strategy={"type": "Recreate"}))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 4))

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource == "pods" and event == "ADDED" and image_of(obj) == "nginx:1.26":
            assert all(image_of(p) == "nginx:1.26" for p in cluster.pods())

    cluster.api.observers.append(check)
    cluster.update("deployments.apps", "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    cluster.run_until(lambda: complete(cluster, "nginx:1.26", 4))


def test_scale_0_to_50_to_10_then_roll_converges(cluster):
    """The acceptance path, with the default strategy (maxSurge 25%, maxUnavailable 25%)
    checked after every write the controllers make."""
    cluster.create("deployments.apps", deployment(0))
    cluster.run_for(5)
    assert cluster.pods() == []
    bounds = {"replicas": 0}

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        desired = bounds["replicas"]
        total_spec = sum(rs["spec"]["replicas"] for rs in cluster.api.objects("replicasets.apps"))
        # maxSurge 25% of 50 rounds up to 13, of 10 to 3; maxUnavailable rounds down; while
        # scaling down, what there was before is the bound
        most = max(desired + -(-desired // 4), bounds.get("previous", 0))
        assert total_spec <= most, f"{total_spec} replicas wanted for {desired}"
        # maxSurge bounds the ReplicaSets' replicas (upstream counts spec.replicas): pods an old
        # ReplicaSet no longer wants live until its controller, paced by its client's QPS,
        # deletes them; but no ReplicaSet ever creates a pod beyond its replicas
        if resource == "pods" and event == "ADDED":
            owner = obj["metadata"]["ownerReferences"][0]["name"]
            rs = next(r for r in cluster.api.objects("replicasets.apps") if r["metadata"]["name"] == owner)
            owned = [p for p in cluster.pods() if p["metadata"]["ownerReferences"][0]["name"] == owner]
            assert len(owned) <= rs["spec"]["replicas"]
        if bounds.get("rolling"):
            assert len(ready_pods(cluster)) >= desired - desired // 4, "maxUnavailable exceeded"

    cluster.api.observers.append(check)
    bounds["replicas"] = 50
    cluster.update("deployments.apps", "default", "web", lambda d: d["spec"].__setitem__("replicas", 50))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 50))
    bounds.update(replicas=10, previous=50)
    cluster.update("deployments.apps", "default", "web", lambda d: d["spec"].__setitem__("replicas", 10))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 10))
    bounds.update(rolling=True, previous=0)
    cluster.update("deployments.apps", "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:1.26"))
    cluster.run_until(lambda: complete(cluster, "nginx:1.26", 10))
    cluster.api.observers.remove(check)
    owners = {p["metadata"]["ownerReferences"][0]["name"] for p in cluster.pods()}
    assert owners == {replicasets(cluster)[-1]["metadata"]["name"]}
    old, new = replicasets(cluster)
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 10
    assert new["metadata"]["ownerReferences"][0]["kind"] == "Deployment"


def test_scaling_mid_rollout_is_proportional(cluster):
    """The Kubernetes docs' example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout
    stuck on a broken image, then scaled to 15: 3 go to the old ReplicaSet, 2 to the new."""
    cluster.create("deployments.apps", deployment(10, strategy=rolling(3, 2)))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 10))
    cluster.becomes_ready = lambda pod: image_of(pod) != "nginx:broken"
    cluster.update("deployments.apps", "default", "web",
                   lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:broken"))
    cluster.run_for(30)
    assert [rs["spec"]["replicas"] for rs in replicasets(cluster)] == [8, 5]
    cluster.update("deployments.apps", "default", "web", lambda d: d["spec"].__setitem__("replicas", 15))
    cluster.run_for(30)
    assert [rs["spec"]["replicas"] for rs in replicasets(cluster)] == [11, 7]


def test_progress_deadline_exceeded(cluster):
    cluster.becomes_ready = lambda pod: False
    cluster.create("deployments.apps", deployment(2, progressDeadlineSeconds=30))
    cluster.run_for(10)
    assert condition(status(cluster), "Progressing")["reason"] == "ReplicaSetUpdated"
    cluster.run_for(40)
    cond = condition(status(cluster), "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert condition(status(cluster), "Available")["status"] == "False"


def test_revision_history_limit_deletes_oldest_replicasets(cluster):
    cluster.create("deployments.apps", deployment(2, revisionHistoryLimit=2))
    for version in range(1, 6):
        image = f"nginx:1.{version}"
        cluster.update("deployments.apps", "default", "web",
                       lambda d, image=image: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", image))
        cluster.run_until(lambda image=image: complete(cluster, image, 2))
    cluster.run_for(5)
    revisions = sorted(int(rs["metadata"]["annotations"][util.REVISION]) for rs in replicasets(cluster))
    assert revisions == [4, 5, 6]


def test_rollback_to_an_old_template_reuses_its_replicaset(cluster):
    cluster.create("deployments.apps", deployment(3))
    cluster.run_until(lambda: complete(cluster, "nginx:1.25", 3))
    for image in ("nginx:1.26", "nginx:1.25"):
        cluster.update("deployments.apps", "default", "web",
                       lambda d, image=image: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", image))
        cluster.run_until(lambda image=image: complete(cluster, image, 3))
    rss = replicasets(cluster)
    assert len(rss) == 2
    first = rss[0]["metadata"]["annotations"]
    assert (first[util.REVISION], first[util.REVISION_HISTORY]) == ("3", "1")
