"""cloud-controller-manager on the sim runtime against the fake cloud: load balancers
after the modelled provisioning delay with the cleanup finalizer, node initialization,
nodes removed when their instance is gone, routes for pod CIDRs, and leader election."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api import meta
from kubesim.components.cloud.node import SHUTDOWN_TAINT, UNINITIALIZED_TAINT
from kubesim.components.cloud.provider import load_balancer_name
from kubesim.components.cloud.service import LB_CLEANUP_FINALIZER
from tests.components.cloud.harness import CloudCluster, node_object

FIXED_LB = {"cloud.load_balancer_provision": {"median": 45.0, "p99": 45.0},
            "cloud.api_call": {"median": 0.2, "p99": 0.2}}


def lb_service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                     "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def svc(c: CloudCluster, name: str = "web") -> dict[str, Any] | None:
    return c.api.find("services", "default", name)


def ingress(c: CloudCluster, name: str = "web") -> list[dict[str, Any]]:
    found = svc(c, name)
    return ((found or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []


def events(c: CloudCluster, reason: str) -> list[dict[str, Any]]:
    return [e for e in c.api.objects("events") if e["reason"] == reason]


@pytest.fixture
def cluster():
    c = CloudCluster(seed=1, cost=FIXED_LB)
    yield c
    c.close()


def test_load_balancer_gets_an_ingress_ip_after_the_provisioning_delay(cluster):
    created = cluster.rt.now()
    cluster.create("services", lb_service())
    cluster.run_until(lambda: LB_CLEANUP_FINALIZER in (svc(cluster)["metadata"].get("finalizers") or []), timeout=2)
    assert ingress(cluster) == []
    waited = cluster.run_until(lambda: ingress(cluster) != [], timeout=120, step=0.1)
    assert 45.0 <= cluster.rt.now() - created < 46.5, waited
    assert ingress(cluster) == [{"ip": "203.0.113.1", "ipMode": "VIP"}]
    lb = cluster.cloud.load_balancers[load_balancer_name(svc(cluster))]
    assert lb.hosts == ["node-0", "node-1", "node-2"]
    assert lb.ports[0]["port"] == 80
    assert [e["message"] for e in events(cluster, "EnsuredLoadBalancer")] == ["Ensured load balancer"]
    [syncs] = [v for n, _, v in cluster.rt.metrics.samples(["service_controller_loadbalancer_sync_total"])
               if n.endswith("_total")]
    assert syncs >= 1
    # a second Service gets the next address
    cluster.create("services", lb_service("api"))
    cluster.run_until(lambda: ingress(cluster, "api") != [], timeout=60)
    assert ingress(cluster, "api")[0]["ip"] == "203.0.113.2"


def test_default_profile_delay_is_what_the_cloud_sampled():
    c = CloudCluster(seed=4)
    try:
        c.create("services", lb_service())
        c.run_until(lambda: ingress(c) != [], timeout=1800, step=1.0)
        lb = c.cloud.load_balancers[load_balancer_name(svc(c))]
        assert lb.ready_at > 1.0  # a modelled delay, not an instant answer
        assert c.rt.now() >= lb.ready_at
    finally:
        c.close()


def test_deleting_the_service_deletes_the_load_balancer_before_the_service_goes(cluster):
    cluster.create("services", lb_service())
    cluster.run_until(lambda: ingress(cluster) != [], timeout=60)
    cluster.delete("services", "default", "web")
    assert meta.is_being_deleted(svc(cluster)), "the finalizer keeps it until the load balancer is gone"
    cluster.run_until(lambda: svc(cluster) is None, timeout=10)
    assert cluster.cloud.load_balancers == {}
    assert [e["reason"] for e in events(cluster, "DeletedLoadBalancer")] == ["DeletedLoadBalancer"]


def test_changing_the_type_away_from_loadbalancer_cleans_up(cluster):
    cluster.create("services", lb_service())
    cluster.run_until(lambda: ingress(cluster) != [], timeout=60)

    def to_cluster_ip(s: dict[str, Any]) -> None:
        s["spec"]["type"] = "ClusterIP"
        s["spec"].pop("externalTrafficPolicy", None)
        s["spec"].pop("allocateLoadBalancerNodePorts", None)
        for port in s["spec"]["ports"]:
            port.pop("nodePort", None)
    cluster.update("services", "default", "web", to_cluster_ip)
    cluster.run_until(lambda: LB_CLEANUP_FINALIZER not in (svc(cluster)["metadata"].get("finalizers") or []), timeout=10)
    assert cluster.cloud.load_balancers == {}
    assert ingress(cluster) == []


def test_load_balancer_class_is_left_to_its_own_controller(cluster):
    cluster.create("services", lb_service(loadBalancerClass="example.com/internal"))
    cluster.run_for(60)
    assert ingress(cluster) == [] and cluster.cloud.load_balancers == {}
    assert not svc(cluster)["metadata"].get("finalizers")


def test_hosts_follow_the_node_set(cluster):
    cluster.create("services", lb_service())
    cluster.run_until(lambda: ingress(cluster) != [], timeout=60)
    name = load_balancer_name(svc(cluster))
    cluster.update("nodes", "", "node-1", lambda n: n["metadata"]["labels"].__setitem__(
        "node.kubernetes.io/exclude-from-external-load-balancers", "true"))
    cluster.run_until(lambda: cluster.cloud.load_balancers[name].hosts == ["node-0", "node-2"], timeout=10)
    cluster.delete("nodes", "", "node-2")
    cluster.run_until(lambda: cluster.cloud.load_balancers[name].hosts == ["node-0"], timeout=10)


def test_uninitialized_node_gets_provider_id_labels_and_addresses():
    c = CloudCluster(seed=2, initialized=False, nodes=2)
    try:
        c.run_until(lambda: all(not c.api.find("nodes", "", n)["spec"].get("taints") for n in c.nodes), timeout=10)
        node = c.api.find("nodes", "", "node-1")
        assert node["spec"]["providerID"] == "fake://zone-a/node-1"
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == "fake.large"
        assert labels["topology.kubernetes.io/zone"] == "zone-a"
        assert labels["topology.kubernetes.io/region"] == "zone"
        assert labels["failure-domain.beta.kubernetes.io/zone"] == "zone-a"
        assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.11"},
                                               {"type": "Hostname", "address": "node-1"}]
        # a node with no instance behind it stays tainted
        c.create("nodes", node_object("ghost", c.now(), initialized=False), "")
        c.run_for(30)
        assert c.api.find("nodes", "", "ghost")["spec"]["taints"][0]["key"] == UNINITIALIZED_TAINT
    finally:
        c.close()


def not_ready(c: CloudCluster, name: str) -> None:
    """What the node lifecycle controller writes once the kubelet stopped posting status."""
    def mark(n: dict[str, Any]) -> None:
        n["status"]["conditions"][0].update(status="Unknown", reason="NodeStatusUnknown")
    c.api.mutate("nodes", "", name, mark)


def test_node_whose_instance_is_gone_is_deleted():
    c = CloudCluster(seed=3, cost={**FIXED_LB, "cloud.instance_deletion_detection": {"median": 30.0, "p99": 30.0}})
    try:
        c.cloud.terminate_instance("node-1", c.rt.now(), 30.0)
        c.run_for(20)
        assert c.api.find("nodes", "", "node-1") is not None, "a Ready node is never deleted"
        not_ready(c, "node-1")
        # shutting down but still known to the cloud: tainted, not deleted
        c.run_until(lambda: any(t["key"] == SHUTDOWN_TAINT for t in c.api.find("nodes", "", "node-1")["spec"].get("taints") or []),
                    timeout=8)
        assert c.api.find("nodes", "", "node-1") is not None
        c.run_until(lambda: c.api.find("nodes", "", "node-1") is None, timeout=20)
        assert c.rt.now() >= 30.0
        assert [e["message"] for e in events(c, "DeletingNode")] == [
            "Deleting node node-1 because it does not exist in the cloud provider"]
        # a NotReady node whose instance still runs stays
        not_ready(c, "node-2")
        c.run_for(30)
        assert c.api.find("nodes", "", "node-2") is not None
        assert not c.api.find("nodes", "", "node-2")["spec"].get("taints")
    finally:
        c.close()


def test_routes_for_pod_cidrs_and_network_condition():
    c = CloudCluster(seed=5, pod_cidrs=True, cost={"cloud.route_create": {"median": 2.0, "p99": 2.0}})
    try:
        c.run_until(lambda: len(c.cloud.routes) == 3, timeout=20)
        routes = {(r.target_node, r.destination_cidr) for r in c.cloud.list_routes("kubernetes")}
        assert routes == {("node-0", "10.244.0.0/24"), ("node-1", "10.244.1.0/24"), ("node-2", "10.244.2.0/24")}

        def network(name: str) -> dict[str, Any] | None:
            node = c.api.find("nodes", "", name)
            return next((x for x in node["status"]["conditions"] if x["type"] == "NetworkUnavailable"), None)
        c.run_until(lambda: all(network(n) is not None for n in c.nodes), timeout=10)
        cond = network("node-0")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "False", "RouteCreated", "RouteController created a route")
        c.delete("nodes", "", "node-2")
        c.run_until(lambda: len(c.cloud.routes) == 2, timeout=15)
        assert all(r.target_node != "node-2" for r in c.cloud.routes.values())
    finally:
        c.close()


def test_standby_replica_takes_over_within_the_lease_duration():
    c = CloudCluster(seed=7, replicas=2, cost=FIXED_LB)
    try:
        leading = lambda: [a for a in c.replicas if c.rt.actor(a).controllers]  # noqa: E731
        c.run_until(lambda: len(leading()) == 1, timeout=30)
        leader = leading()[0]
        lease = c.api.find("leases.coordination.k8s.io", "kube-system", "cloud-controller-manager")
        assert lease["spec"]["holderIdentity"].startswith(c.rt.actor(leader).ctx.machine.name)
        c.rt.crash_machine(c.rt.actor(leader).ctx.machine.name)
        crashed = c.rt.now()
        standby = next(a for a in c.replicas if a != leader)
        c.run_until(lambda: bool(c.rt.actor(standby).controllers), timeout=30, step=0.1)
        assert c.rt.now() - crashed <= 15.0 + 2.0 * 2.2  # lease duration, then one jittered retry at most
        c.create("services", lb_service())
        c.run_until(lambda: ingress(c) != [], timeout=60)
    finally:
        c.close()
