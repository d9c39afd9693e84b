"""DaemonSet controller on the sim runtime: one pod per eligible node (nodeSelector, node
affinity, taints and tolerations), nodes coming and going, NoExecute versus NoSchedule,
failed pods replaced, and rolling updates inside maxUnavailable / maxSurge at every step."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api import meta
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.daemonset import (
    REVISION_HASH_LABEL,
    TEMPLATE_GENERATION_LABEL,
    node_should_run,
    target_node,
)
from tests.components.controllers.harness import Cluster, node_object, template

LABELS = {"app": "agent"}
NODES = [f"node-{i}" for i in range(5)]


def daemonset(image: str = "agent:1", strategy: dict[str, Any] | None = None, **pod_spec: Any) -> dict[str, Any]:
    tpl = template(LABELS, image)
    tpl["spec"].update(pod_spec)
    spec: dict[str, Any] = {"selector": {"matchLabels": LABELS}, "template": tpl}
    if strategy is not None:
        spec["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": spec}


@pytest.fixture
def cluster():
    c = Cluster(seed=11, controllers=("daemonset",), nodes=NODES)
    yield c
    c.close()


def live_pods(c: Cluster) -> list[dict[str, Any]]:
    return [p for p in c.pods() if not meta.is_being_deleted(p)]


def by_node(c: Cluster) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pod in live_pods(c):
        out.setdefault(target_node(pod), []).append(pod["spec"]["containers"][0]["image"])
    return out


def ds_status(c: Cluster) -> dict[str, Any]:
    return c.get("daemonsets.apps", "default", "agent").get("status", {})


def taint(c: Cluster, node: str, key: str, effect: str) -> None:
    c.api.mutate("nodes", "", node, lambda n: n.setdefault("spec", {}).setdefault("taints", []).append(
        {"key": key, "value": "x", "effect": effect}))


def settled(c: Cluster, nodes: list[str], image: str = "agent:1") -> bool:
    placed = by_node(c)
    return (sorted(placed) == sorted(nodes) and all(v == [image] for v in placed.values())
            and all(podutil.is_pod_ready(p) for p in live_pods(c)))


def test_one_pod_per_eligible_node_with_selector_and_taints(cluster):
    cluster.api.mutate("nodes", "", "node-4", lambda n: n["metadata"]["labels"].__setitem__("disk", "hdd"))
    for n in NODES[:4]:
        cluster.api.mutate("nodes", "", n, lambda node: node["metadata"]["labels"].__setitem__("disk", "ssd"))
    taint(cluster, "node-3", "dedicated", "NoSchedule")
    cluster.create("daemonsets.apps", daemonset(nodeSelector={"disk": "ssd"}))
    cluster.run_until(lambda: settled(cluster, ["node-0", "node-1", "node-2"]))
    cluster.run_until(lambda: ds_status(cluster).get("numberAvailable") == 3)
    st = ds_status(cluster)
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["updatedNumberScheduled"], st["numberMisscheduled"]) == (3, 3, 3, 3, 0)
    assert "numberUnavailable" not in st  # omitempty
    pod = live_pods(cluster)[0]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [target_node(pod)]}]}]
    assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
    assert pod["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] == "1"
    assert pod["metadata"]["labels"][REVISION_HASH_LABEL]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"


def test_nodes_joining_tainted_and_leaving(cluster):
    cluster.create("daemonsets.apps", daemonset())
    cluster.run_until(lambda: settled(cluster, NODES))
    cluster.create("nodes", node_object("node-5", "zone-a", cluster.now()), "")
    cluster.run_until(lambda: settled(cluster, [*NODES, "node-5"]))
    # NoSchedule does not evict a running daemon pod
    taint(cluster, "node-1", "maintenance", "NoSchedule")
    cluster.run_for(10)
    assert "node-1" in by_node(cluster)
    # an untolerated NoExecute taint does
    taint(cluster, "node-2", "evict", "NoExecute")
    cluster.run_until(lambda: "node-2" not in by_node(cluster), timeout=10)
    cluster.delete("nodes", "", "node-5")
    cluster.run_until(lambda: ds_status(cluster).get("desiredNumberScheduled") == 4)


def test_tolerations_let_pods_onto_tainted_nodes(cluster):
    taint(cluster, "node-0", "gpu", "NoSchedule")
    cluster.create("daemonsets.apps", daemonset(tolerations=[{"key": "gpu", "operator": "Exists"}]))
    cluster.run_until(lambda: settled(cluster, NODES))


def test_failed_pod_is_replaced(cluster):
    cluster.create("daemonsets.apps", daemonset())
    cluster.run_until(lambda: settled(cluster, NODES))
    victim = next(p for p in live_pods(cluster) if target_node(p) == "node-3")
    cluster.api.mutate("pods", "default", victim["metadata"]["name"],
                       lambda p: p["status"].__setitem__("phase", "Failed"))
    cluster.run_until(lambda: any(target_node(p) == "node-3" and p["metadata"]["uid"] != victim["metadata"]["uid"]
                                  for p in live_pods(cluster)), timeout=10)
    assert any(e["reason"] == "FailedDaemonPod" for e in cluster.api.objects("events", "default"))
    cluster.run_until(lambda: settled(cluster, NODES))


def unavailable_nodes(c: Cluster) -> int:
    ready_nodes = {target_node(p) for p in live_pods(c) if podutil.is_pod_ready(p)}
    return len([n for n in NODES if n not in ready_nodes])


def roll(c: Cluster) -> None:
    c.update("daemonsets.apps", "default", "agent",
             lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "agent:2"))


def test_rolling_update_keeps_at_most_max_unavailable_nodes_down(cluster):
    cluster.create("daemonsets.apps", daemonset(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}))
    cluster.run_until(lambda: settled(cluster, NODES))
    seen = {"max_down": 0}

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        down = unavailable_nodes(cluster)
        assert down <= 2, f"{down} nodes without a ready daemon pod"
        seen["max_down"] = max(seen["max_down"], down)
        assert all(len(v) == 1 for v in by_node(cluster).values()), "two pods on a node without maxSurge"

    cluster.api.observers.append(check)
    roll(cluster)
    cluster.run_until(lambda: settled(cluster, NODES, "agent:2"))
    cluster.api.observers.remove(check)
    assert seen["max_down"] == 2
    generations = {p["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] for p in live_pods(cluster)}
    assert generations == {"2"}
    cluster.run_until(lambda: ds_status(cluster).get("updatedNumberScheduled") == 5)


def test_rolling_update_with_surge_never_loses_a_node(cluster):
    cluster.create("daemonsets.apps", daemonset(strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    cluster.run_until(lambda: settled(cluster, NODES))
    seen = {"max_pods": 0}

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        assert unavailable_nodes(cluster) == 0
        seen["max_pods"] = max(seen["max_pods"], len(live_pods(cluster)))
        assert len(live_pods(cluster)) <= len(NODES) + 1

    cluster.api.observers.append(check)
    roll(cluster)
    cluster.run_until(lambda: settled(cluster, NODES, "agent:2"))
    cluster.api.observers.remove(check)
    assert seen["max_pods"] == len(NODES) + 1


def test_on_delete_strategy_waits_for_pods_to_be_deleted(cluster):
    cluster.create("daemonsets.apps", daemonset(strategy={"type": "OnDelete"}))
    cluster.run_until(lambda: settled(cluster, NODES))
    roll(cluster)
    cluster.run_for(20)
    assert all(v == ["agent:1"] for v in by_node(cluster).values())
    victim = next(p for p in live_pods(cluster) if target_node(p) == "node-0")
    cluster.delete("pods", "default", victim["metadata"]["name"])
    cluster.run_until(lambda: by_node(cluster).get("node-0") == ["agent:2"], timeout=10)
    assert sorted(v[0] for v in by_node(cluster).values()) == ["agent:1"] * 4 + ["agent:2"]


def test_node_should_run_follows_affinity_and_no_execute():
    node = {"metadata": {"name": "n", "labels": {"zone": "a"}}, "spec": {}}
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}
    assert node_should_run(node, ds) == (False, False)
    node["metadata"]["labels"]["zone"] = "b"
    assert node_should_run(node, ds) == (True, True)
    node["spec"]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    assert node_should_run(node, ds) == (False, True)
    node["spec"]["taints"] = [{"key": "k", "effect": "NoExecute"}]
    assert node_should_run(node, ds) == (False, False)
    node["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    assert node_should_run(node, ds) == (True, True)
