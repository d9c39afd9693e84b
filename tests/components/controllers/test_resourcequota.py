"""ResourceQuota controller on the sim runtime: status.hard and status.used computed from
the namespace, replenishment on deletions and pods finishing, spec edits, scopes, and the
five-minute full resync (the fake apiserver runs no quota admission, so a creation is
only seen by the resync)."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.components.controllers.resourcequota import monitored_resources
from tests.components.controllers.harness import Cluster


def pod(name: str, cpu: str | None = None) -> dict[str, Any]:
    ctr: dict[str, Any] = {"name": "app", "image": "busybox"}
    if cpu is not None:
        ctr["resources"] = {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [ctr]}}


def quota(name: str = "q", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def cluster():
    c = Cluster(seed=9, controllers=("resourcequota",), kubelet_delay=None)
    yield c
    c.close()


def st(c: Cluster, name: str = "q") -> dict[str, Any]:
    return c.get("resourcequotas", "default", name).get("status", {})


def test_usage_of_existing_objects_and_zeros_for_unused_resources(cluster):
    cluster.create("pods", pod("a", "250m"))
    cluster.create("pods", pod("b", "500m"))
    cluster.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    cluster.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
                                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    hard = {"pods": "10", "requests.cpu": "2", "limits.memory": "1Gi", "count/configmaps": "5",
            "services.loadbalancers": "1", "count/deployments.apps": "3"}
    cluster.create("resourcequotas", quota(hard=hard))
    cluster.run_until(lambda: "used" in st(cluster), timeout=5)
    status = st(cluster)
    assert status["hard"] == {"count/configmaps": "5", "count/deployments.apps": "3", "limits.memory": "1Gi",
                              "pods": "10", "requests.cpu": "2", "services.loadbalancers": "1"}
    assert status["used"] == {"count/configmaps": "1", "count/deployments.apps": "0", "limits.memory": "128Mi",
                              "pods": "2", "requests.cpu": "750m", "services.loadbalancers": "1"}


def test_deletions_and_finished_pods_are_replenished_at_once(cluster):
    for name in ("a", "b", "c"):
        cluster.create("pods", pod(name, "100m"))
    cluster.create("resourcequotas", quota(hard={"pods": "10", "count/pods": "10", "requests.cpu": "1"}))
    cluster.run_until(lambda: st(cluster).get("used", {}).get("pods") == "3", timeout=5)
    cluster.delete("pods", "default", "a")
    cluster.run_until(lambda: st(cluster)["used"]["pods"] == "2", timeout=1)
    cluster.api.mutate("pods", "default", "b", lambda p: p["status"].__setitem__("phase", "Succeeded"))
    cluster.run_until(lambda: st(cluster)["used"]["pods"] == "1", timeout=1)
    # a finished pod is still an object in storage: count/pods keeps it
    assert st(cluster)["used"] == {"count/pods": "2", "pods": "1", "requests.cpu": "100m"}


def test_spec_edit_updates_hard_and_computes_the_new_resource(cluster):
    cluster.create("pods", pod("a", "100m"))
    cluster.create("resourcequotas", quota(hard={"pods": "10"}))
    cluster.run_until(lambda: "used" in st(cluster), timeout=5)

    def edit(q: dict[str, Any]) -> None:
        q["spec"]["hard"] = {"pods": "4", "requests.memory": "1Gi"}
    cluster.update("resourcequotas", "default", "q", edit)
    cluster.run_until(lambda: st(cluster)["hard"].get("pods") == "4", timeout=5)
    assert st(cluster)["used"] == {"pods": "1", "requests.memory": "64Mi"}


def test_scoped_quota_counts_only_matching_pods(cluster):
    cluster.create("pods", pod("best-effort"))
    cluster.create("pods", pod("guaranteed", "100m"))
    cluster.create("resourcequotas", quota("be", hard={"pods": "5"}, scopes=["BestEffort"]))
    cluster.create("resourcequotas", quota("nbe", hard={"pods": "5"}, scopes=["NotBestEffort"]))
    cluster.run_until(lambda: "used" in st(cluster, "be") and "used" in st(cluster, "nbe"), timeout=5)
    assert st(cluster, "be")["used"] == {"pods": "1"}
    assert st(cluster, "nbe")["used"] == {"pods": "1"}
    cluster.delete("pods", "default", "best-effort")
    cluster.run_until(lambda: st(cluster, "be")["used"] == {"pods": "0"}, timeout=1)
    assert st(cluster, "nbe")["used"] == {"pods": "1"}


def test_creations_without_admission_are_caught_by_the_five_minute_resync(cluster):
    cluster.create("resourcequotas", quota(hard={"count/secrets": "10"}))
    cluster.run_until(lambda: "used" in st(cluster), timeout=5)
    cluster.create("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    cluster.run_for(290)
    assert st(cluster)["used"] == {"count/secrets": "0"}
    cluster.run_until(lambda: st(cluster)["used"] == {"count/secrets": "1"}, timeout=15)


def test_a_pod_stuck_terminating_past_its_grace_period_stops_counting():
    c = Cluster(seed=10, controllers=("resourcequota",), kubelet_delay=None, graceful_pods=True)
    try:
        c.create("pods", pod("a", "100m"))
        c.api.mutate("pods", "default", "a", lambda p: p["spec"].__setitem__("nodeName", "node-0"))
        c.create("resourcequotas", quota(hard={"pods": "5", "count/pods": "5"}))
        c.run_until(lambda: st(c).get("used", {}).get("pods") == "1", timeout=5)
        c.delete("pods", "default", "a")  # the node's kubelet is gone: it stays terminating
        deleted = c.api.find("pods", "default", "a")["metadata"]
        assert deleted["deletionGracePeriodSeconds"] == 30
        c.run_for(60)
        assert st(c)["used"] == {"count/pods": "1", "pods": "1"}  # no event says it changed
        c.run_until(lambda: st(c)["used"] == {"count/pods": "1", "pods": "0"}, timeout=300)  # the resync does
    finally:
        c.close()


def test_monitor_watches_namespaced_deletable_resources_not_events():
    resources = monitored_resources()
    assert {"pods", "services", "configmaps", "deployments.apps", "resourcequotas"} <= set(resources)
    assert "events" not in resources and "nodes" not in resources and "namespaces" not in resources
