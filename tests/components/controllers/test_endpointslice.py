"""EndpointSlice and Endpoints controllers: slicing at 100, conditions, port groups,
placeholders, and slices that match the ready pods after churn."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.controllers.endpointslice import (
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    endpoint_key,
    reconcile,
)
from tests.components.controllers.harness import Cluster, template

LABELS = {"app": "web"}
SLICES = "endpointslices.discovery.k8s.io"


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"tier": "front"}},
            "spec": {"selector": LABELS, "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}], **spec}}


def pod(i: int, ready: bool = True, node: str = "node-0", **md: Any) -> dict[str, Any]:
    return {"metadata": {"name": f"web-{i}", "namespace": "default", "uid": f"pod-{i}", "labels": LABELS, **md},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": f"10.0.{i // 250}.{i % 250}",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


NODES = {"node-0": {"metadata": {"name": "node-0", "labels": {"topology.kubernetes.io/zone": "zone-a"}}}}


def apply(plan_slices: list[dict[str, Any]], existing: list[dict[str, Any]], plan: Any) -> list[dict[str, Any]]:
    """The slices after a plan is written (names for created ones, as the apiserver would)."""
    by_name = {s["metadata"]["name"]: s for s in existing}
    for s in plan.delete:
        del by_name[s["metadata"]["name"]]
    for s in plan.update:
        by_name[s["metadata"]["name"]] = s
    for i, s in enumerate(plan.create):
        s = {**s, "metadata": {**s["metadata"], "name": f"web-new{len(by_name)}-{i}"}}
        by_name[s["metadata"]["name"]] = s
    return list(by_name.values())


def test_250_endpoints_are_split_into_slices_of_at_most_100():
    svc = service()
    plan, skipped = reconcile(svc, [pod(i) for i in range(250)], NODES, [])
    assert skipped == [] and not plan.update and not plan.delete
    assert sorted(len(s["endpoints"]) for s in plan.create) == [50, 100, 100]
    first = plan.create[0]
    assert first["metadata"]["labels"] == {"tier": "front", SERVICE_NAME_LABEL: "web",
                                           MANAGED_BY_LABEL: "endpointslice-controller.k8s.io"}
    assert first["metadata"]["generateName"] == "web-" and first["addressType"] == "IPv4"
    assert first["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    ep = first["endpoints"][0]
    assert ep == {"addresses": ["10.0.0.0"], "conditions": {"ready": True, "serving": True, "terminating": False},
                  "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "pod-0"},
                  "nodeName": "node-0", "zone": "zone-a"}


def test_a_changed_endpoint_updates_its_slice_and_new_ones_fill_another():
    svc = service()
    pods = [pod(i) for i in range(250)]
    plan, _ = reconcile(svc, pods, NODES, [])
    slices = apply([], [], plan)
    pods[3] = pod(3, ready=False)
    pods += [pod(300), pod(301)]
    plan, _ = reconcile(svc, pods, NODES, slices)
    # the slice holding web-3 is full, so the new pods go to the unchanged slice with room
    assert not plan.create and not plan.delete
    assert sorted(len(s["endpoints"]) for s in plan.update) == [52, 100]
    by_pod = {e["targetRef"]["name"]: e for s in apply([], slices, plan) for e in s["endpoints"]}
    assert by_pod["web-3"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert {"web-300", "web-301"} <= set(by_pod)


def test_leftovers_go_to_the_unchanged_slice_closest_to_full():
    svc = service()
    plan, _ = reconcile(svc, [pod(i) for i in range(130)], NODES, [])
    slices = apply([], [], plan)
    plan, _ = reconcile(svc, [pod(i) for i in range(135)], NODES, slices)
    assert not plan.create and len(plan.update) == 1 and len(plan.update[0]["endpoints"]) == 35


def test_pods_with_other_ports_get_their_own_slice():
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    a, b = pod(1), pod(2)
    a["spec"]["containers"][0]["ports"] = [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]
    b["spec"]["containers"][0]["ports"] = [{"name": "web", "containerPort": 9090, "protocol": "TCP"}]
    plan, _ = reconcile(svc, [a, b], NODES, [])
    assert sorted(s["ports"][0]["port"] for s in plan.create) == [8080, 9090]


def test_no_pods_keeps_one_placeholder_slice():
    svc = service()
    plan, _ = reconcile(svc, [], NODES, [])
    assert len(plan.create) == 1 and plan.create[0]["endpoints"] == [] and plan.create[0]["ports"] == []
    slices = apply([], [], plan)
    plan, _ = reconcile(svc, [], NODES, slices)
    assert not plan.create and not plan.update and not plan.delete
    plan, _ = reconcile(svc, [pod(1)], NODES, slices)
    assert not plan.create and not plan.delete and len(plan.update) == 1  # the placeholder is reused


def test_pod_on_unknown_node_is_skipped():
    plan, skipped = reconcile(service(), [pod(1, node="ghost")], NODES, [])
    assert skipped == ["web-1"]


# -- on the sim runtime ----------------------------------------------------------------------
@pytest.fixture
def cluster():
    c = Cluster(seed=11, graceful_pods=True,
                controllers=("deployment", "replicaset", "endpoint", "endpointslice", "garbagecollector"))
    yield c
    c.close()


def deployment(replicas: int) -> dict[str, Any]:
    t = template(LABELS)
    t["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": t}}


def cluster_service() -> dict[str, Any]:
    svc = service()
    del svc["metadata"]["uid"], svc["metadata"]["namespace"]
    svc["spec"]["ports"][0]["targetPort"] = "http"
    return svc


def endpoints_by_pod(c: Cluster) -> dict[str, dict[str, Any]]:
    out = {}
    for s in c.api.objects(SLICES, "default"):
        for ep in s.get("endpoints") or []:
            out[ep["targetRef"]["name"]] = ep
    return out


def is_ready(p: dict[str, Any]) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True" for x in p.get("status", {}).get("conditions", []))


def slices_match_pods(c: Cluster) -> bool:
    pods = [p for p in c.pods() if p.get("status", {}).get("podIP")]
    eps = endpoints_by_pod(c)
    if set(eps) != {p["metadata"]["name"] for p in pods}:
        return False
    for p in pods:
        terminating = bool(p["metadata"].get("deletionTimestamp"))
        want = {"ready": is_ready(p) and not terminating, "serving": is_ready(p), "terminating": terminating}
        if eps[p["metadata"]["name"]]["conditions"] != want or eps[p["metadata"]["name"]]["addresses"] != [p["status"]["podIP"]]:
            return False
    return True


def endpoints_match_pods(c: Cluster) -> bool:
    ep = c.api.find("endpoints", "default", "web")
    if ep is None:
        return False
    ready = sorted(a["ip"] for s in ep.get("subsets", []) for a in s.get("addresses", []))
    not_ready = sorted(a["ip"] for s in ep.get("subsets", []) for a in s.get("notReadyAddresses", []))
    live = [p for p in c.pods() if p.get("status", {}).get("podIP") and not p["metadata"].get("deletionTimestamp")]
    return (ready == sorted(p["status"]["podIP"] for p in live if is_ready(p))
            and not_ready == sorted(p["status"]["podIP"] for p in live if not is_ready(p)))


def test_slices_and_endpoints_follow_pods_and_terminating_pods(cluster):
    cluster.create("services", cluster_service())
    cluster.create("deployments.apps", deployment(3))
    cluster.run_until(lambda: len(endpoints_by_pod(cluster)) == 3 and slices_match_pods(cluster))
    cluster.run_until(lambda: endpoints_match_pods(cluster))
    ep = cluster.get("endpoints", "default", "web")
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    [s] = cluster.api.objects(SLICES, "default")
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

    victim = cluster.pods()[0]["metadata"]["name"]
    cluster.delete("pods", "default", victim)  # graceful: stays with deletionTimestamp
    cluster.run_until(lambda: endpoints_by_pod(cluster)[victim]["conditions"]["terminating"])
    assert endpoints_by_pod(cluster)[victim]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    cluster.run_until(lambda: endpoints_match_pods(cluster))
    assert victim not in {a["targetRef"]["name"] for s in cluster.get("endpoints", "default", "web")["subsets"]
                          for a in s.get("addresses", [])}

    cluster.delete("services", "default", "web")
    cluster.run_until(lambda: cluster.api.find("endpoints", "default", "web") is None
                      and not cluster.api.objects(SLICES, "default"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slices_match_ready_pods_after_churn(seed):
    c = Cluster(seed=seed, graceful_pods=True,
                controllers=("deployment", "replicaset", "endpoint", "endpointslice"))
    try:
        rng = random.Random(seed)
        c.create("services", cluster_service())
        c.create("deployments.apps", deployment(20))
        for _ in range(15):
            action = rng.choice(["scale", "unready", "ready", "kill", "finish"])
            pods = c.pods()
            if action == "scale":
                replicas = rng.randint(0, 260)
                c.update("deployments.apps", "default", "web", lambda d, n=replicas: d["spec"].__setitem__("replicas", n))
            elif pods and action in ("unready", "ready"):
                for p in rng.sample(pods, min(len(pods), 5)):
                    if p.get("status", {}).get("conditions"):
                        flag = "False" if action == "unready" else "True"
                        c.api.mutate("pods", "default", p["metadata"]["name"],
                                     lambda x, f=flag: x["status"]["conditions"][0].__setitem__("status", f))
            elif pods and action == "kill":
                c.delete("pods", "default", rng.choice(pods)["metadata"]["name"])
            elif pods and action == "finish":
                terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")]
                if terminating:
                    c.delete("pods", "default", terminating[0]["metadata"]["name"], grace_period_seconds=0)
            c.run_for(rng.uniform(0.5, 5))
        c.run_until(lambda: slices_match_pods(c) and endpoints_match_pods(c), timeout=60)
        slices = c.api.objects(SLICES, "default")
        assert all(len(s.get("endpoints") or []) <= 100 for s in slices)
        keys = [endpoint_key(e) for s in slices for e in s.get("endpoints") or []]
        assert len(keys) == len(set(keys))
    finally:
        c.close()
