"""Filter plugins and the FitError message."""

from __future__ import annotations

import random

import pytest

from kubesim.components.scheduler import Scheduler
from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.schedule_one import FitError, ScheduleResult
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import fit_error, node, only, pod, schedule

NO_SCHEDULE = "NoSchedule"


def test_fit_error_message_counts_and_sorts_reasons_then_preemption():
    nodes = [node("n1", cpu="1"),
             node("n2", taints=[{"key": "key", "value": "value", "effect": NO_SCHEDULE}]),
             node("n3", taints=[{"key": "key", "value": "value", "effect": NO_SCHEDULE}])]
    err = fit_error(Framework(), pod("p", cpu="2"), nodes)
    assert err.message() == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {key: value}."
    s = Scheduler()
    for n in nodes:
        s.on_node_add(n, 0.0)
    s.on_pod_add(pod("p", cpu="2", priority=10), 0.0)
    out = s.schedule_next(0.0, random.Random(0))
    # FitError.Error() appends " %v." to the PostFilter message, which ends with a period
    # itself: real FailedScheduling events read "...not helpful for scheduling.." too.
    assert out.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {key: value}. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling..")


def test_fit_error_multiple_reasons_per_node():
    err = fit_error(only("NodeResourcesFit"), pod("p", cpu="8", memory="64Gi"), [node("a"), node("b", pods=0)])
    assert err.message() == ("0/2 nodes are available: 1 Too many pods, "
                             "2 Insufficient cpu, 2 Insufficient memory.")


def test_prefilter_rejection_message():
    p = pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x"]},
                                               {"key": "metadata.name", "operator": "In", "values": ["y"]}]}]}}})
    err = fit_error(Framework(), p, [node("a"), node("b")])
    assert err.message() == "0/2 nodes are available: pod affinity terms conflict."


def test_node_affinity_prefilter_restricts_nodes_and_reports_absent():
    p = pod("p", cpu="8", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}})
    err = fit_error(Framework(), p, [node("a"), node("b"), node("c")])
    assert err.message() == ("0/3 nodes are available: 1 Insufficient cpu, "
                             "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


@pytest.mark.parametrize("plugin,p,n,reason", [
    ("NodeName", pod("p", nodeName="x"), node("a"), "node(s) didn't match the requested node name"),
    ("NodeUnschedulable", pod("p"), node("a", unschedulable=True), "node(s) were unschedulable"),
    ("NodeAffinity", pod("p", nodeSelector={"disk": "ssd"}), node("a", labels={"disk": "hdd"}),
     "node(s) didn't match Pod's node affinity/selector"),
    ("TaintToleration", pod("p"), node("a", taints=[{"key": "k", "effect": "NoExecute"}]),
     "node(s) had untolerated taint {k: }"),
    ("NodePorts", pod("p", containers=[{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]),
     node("a"), "node(s) didn't have free ports for the requested pod ports"),
])
def test_filter_reasons(plugin, p, n, reason):
    existing = []
    if plugin == "NodePorts":
        existing = [pod("e", node_name="a", containers=[
            {"name": "c", "ports": [{"containerPort": 8080, "hostPort": 80, "hostIP": "10.0.0.1"}]}])]
    err = fit_error(only(plugin), p, [n], existing)
    assert err.message() == f"0/1 nodes are available: 1 {reason}."


def test_tolerations_and_unschedulable_toleration_pass():
    p = pod("p", tolerations=[{"operator": "Exists"}])
    fwk = only("TaintToleration", "NodeUnschedulable")
    res = schedule(fwk, p, Snapshot.from_nodes([node("a", unschedulable=True, taints=[
        {"key": "k", "value": "v", "effect": "NoSchedule"}])]))
    assert isinstance(res, ScheduleResult)


def test_node_ports_different_ip_or_protocol_do_not_conflict():
    fwk = only("NodePorts")
    existing = [pod("e", node_name="a", containers=[
        {"name": "c", "ports": [{"containerPort": 1, "hostPort": 80, "hostIP": "10.0.0.1"}]}])]
    ok_ip = pod("p", containers=[{"name": "c", "ports": [{"containerPort": 1, "hostPort": 80, "hostIP": "10.0.0.2"}]}])
    ok_udp = pod("q", containers=[{"name": "c", "ports": [{"containerPort": 1, "hostPort": 80, "protocol": "UDP"}]}])
    snap = Snapshot.from_nodes([node("a")], existing)
    assert isinstance(schedule(fwk, ok_ip, snap), ScheduleResult)
    assert isinstance(schedule(fwk, ok_udp, snap), ScheduleResult)


def test_node_affinity_operators():
    def req(*exprs):
        return pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": list(exprs)}]}}})
    fwk = only("NodeAffinity")
    nodes = [node("a", labels={"gpu": "4", "zone": "z1"}), node("b", labels={"gpu": "1"})]
    snap = Snapshot.from_nodes(nodes)
    assert schedule(fwk, req({"key": "gpu", "operator": "Gt", "values": ["2"]}), snap).suggested_host == "a"
    assert schedule(fwk, req({"key": "zone", "operator": "DoesNotExist"}), snap).suggested_host == "b"
    assert schedule(fwk, req({"key": "zone", "operator": "NotIn", "values": ["z1"]}), snap).suggested_host == "b"
    # The apiserver admits Gt with a non-integer (as upstream); the term then matches no node.
    err = schedule(fwk, req({"key": "gpu", "operator": "Gt", "values": ["eight"]}), snap)
    assert isinstance(err, FitError) and err.message() == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")


def test_pod_topology_spread_hard_constraint():
    # filtering_test.go "pods spread across zones as 3/3, all nodes fit" style: zone1 holds 2
    # matching pods, zone2 1; maxSkew 1 keeps the pod out of zone1 (2+1-1 = 2 > 1), and a
    # node without the zone label is unresolvable.
    c = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"foo": ""}}}
    nodes = [node("node-a", labels={"zone": "zone1"}), node("node-b", labels={"zone": "zone1"}),
             node("node-x", labels={"zone": "zone2"}), node("node-y", labels={"zone": "zone2"}),
             node("node-n")]
    existing = [pod("a1", node_name="node-a", labels={"foo": ""}), pod("b1", node_name="node-b", labels={"foo": ""}),
                pod("x1", node_name="node-x", labels={"foo": ""})]
    p = pod("p", labels={"foo": ""}, topologySpreadConstraints=[c])
    fwk = only("PodTopologySpread")
    res = schedule(fwk, p, Snapshot.from_nodes(nodes, existing))
    assert res.suggested_host in ("node-x", "node-y")
    assert (res.evaluated_nodes, res.feasible_nodes) == (5, 2)
    # Pods of another namespace do not count: every labelled node fits for it.
    p_other_ns = pod("q", labels={"foo": ""}, namespace="other", topologySpreadConstraints=[c])
    assert schedule(fwk, p_other_ns, Snapshot.from_nodes(nodes, existing)).feasible_nodes == 4
    # minDomains 3 with only 2 domains: the global minimum counts as 0, so 2+1 and 1+1 both
    # exceed maxSkew 1 and no node fits.
    strict = pod("p", labels={"foo": ""}, topologySpreadConstraints=[{**c, "minDomains": 3}])
    err = fit_error(fwk, strict, nodes, existing)
    assert err.message() == (
        "0/5 nodes are available: 1 node(s) didn't match pod topology spread constraints "
        "(missing required label), 4 node(s) didn't match pod topology spread constraints.")


def test_inter_pod_anti_affinity_filters():
    anti = {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}
    fwk = only("InterPodAffinity")
    nodes = [node("a"), node("b")]
    # incoming pod's anti-affinity
    existing = [pod("w", node_name="a", labels={"app": "web"})]
    res = schedule(fwk, pod("p", labels={"app": "web"}, affinity={"podAntiAffinity": anti}),
                   Snapshot.from_nodes(nodes, existing))
    assert res.suggested_host == "b"
    # existing pod's anti-affinity (symmetry)
    existing = [pod("w", node_name="a", labels={"app": "web"}, affinity={"podAntiAffinity": anti})]
    err = fit_error(fwk, pod("p", labels={"app": "web"}), [node("a")], existing)
    assert err.message() == "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules."


def test_inter_pod_affinity_first_pod_of_series_and_rejection():
    aff = {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}
    fwk = only("InterPodAffinity")
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]
    # No db pod anywhere but the pod matches its own term: allowed.
    first = schedule(fwk, pod("p", labels={"app": "db"}, affinity={"podAffinity": aff}),
                     Snapshot.from_nodes(nodes))
    assert isinstance(first, ScheduleResult)
    # Does not match its own term and no db pods: rejected everywhere.
    err = fit_error(fwk, pod("p", labels={"app": "web"}, affinity={"podAffinity": aff}), nodes)
    assert err.message() == "0/2 nodes are available: 2 node(s) didn't match pod affinity rules."
    # A db pod in z2: only b.
    existing = [pod("d", node_name="b", labels={"app": "db"})]
    res = schedule(fwk, pod("p", labels={"app": "web"}, affinity={"podAffinity": aff}),
                   Snapshot.from_nodes(nodes, existing))
    assert res.suggested_host == "b"




def test_extended_resources_and_ignored_ones():
    # fit_test.go "extended resource capacity enforced" / "skip checking ignored extended resource".
    def gpu_pod(n):
        return pod("p", containers=[{"name": "c", "image": "i",
                                     "resources": {"requests": {"example.com/aaa": str(n)}}}])
    nodes = [node("n", extra={"example.com/aaa": "5"})]
    err = fit_error(only("NodeResourcesFit"), gpu_pod(10), nodes)
    assert err.message() == "0/1 nodes are available: 1 Insufficient example.com/aaa."
    assert isinstance(schedule(only("NodeResourcesFit"), gpu_pod(5), Snapshot.from_nodes(nodes)), ScheduleResult)
    for args in ({"ignoredResources": ["example.com/aaa"]}, {"ignoredResourceGroups": ["example.com"]}):
        fwk = only("NodeResourcesFit", config={"NodeResourcesFit": args})
        assert isinstance(schedule(fwk, gpu_pod(10), Snapshot.from_nodes(nodes)), ScheduleResult)
    # hugepages are not extended resources: they can not be ignored.
    huge = pod("h", containers=[{"name": "c", "image": "i", "resources": {"requests": {"hugepages-2Mi": "4Mi"}}}])
    fwk = only("NodeResourcesFit", config={"NodeResourcesFit": {"ignoredResources": ["hugepages-2Mi"]}})
    assert fit_error(fwk, huge, nodes).message() == "0/1 nodes are available: 1 Insufficient hugepages-2Mi."
