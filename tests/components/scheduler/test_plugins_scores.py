"""Worked examples of each score plugin, mirroring upstream's unit tests where they exist."""

from __future__ import annotations

from kubesim.components.scheduler.plugins.imagelocality import MB
from kubesim.components.scheduler.snapshot import ClusterObjects

from .helpers import node, only, pod, scores

# Upstream's "cpuAndMemory" pod: two containers, 1000m/2000 and 2000m/3000 -> 3000m/5000.
CPU_AND_MEMORY = pod("p", containers=[
    {"name": "a", "resources": {"requests": {"cpu": "1000m", "memory": "2000"}}},
    {"name": "b", "resources": {"requests": {"cpu": "2000m", "memory": "3000"}}},
])
DIFFERENT_NODES = [node("node1", cpu="4000m", memory="10000"), node("node2", cpu="6000m", memory="10000")]


def test_least_allocated_differently_sized_nodes():
    # node1: cpu (4000-3000)*100/4000 = 25, mem 50 -> 37; node2: 50, 50 -> 50
    fwk = only("NodeResourcesFit")
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 37, "node2": 50}


def test_least_allocated_counts_non_zero_defaults_for_best_effort_pods():
    # 100m / 200Mi defaults: node 1000m/1000Mi -> cpu 90, mem 80 -> 85
    fwk = only("NodeResourcesFit")
    nodes = [node("a", cpu="1", memory="1000Mi"), node("b", cpu="2", memory="1000Mi")]
    assert scores(fwk, pod("p"), nodes) == {"a": 85, "b": 87}


def test_most_allocated_differently_sized_nodes():
    # node1: cpu 3000*100/4000 = 75, mem 50 -> 62; node2: 50, 50 -> 50
    fwk = only("NodeResourcesFit", config={"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}})
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 62, "node2": 50}


def test_requested_to_capacity_ratio_rounds_half_away_from_zero():
    # shape (0 -> 10, 100 -> 0) scaled x10: cpu 75% -> 25, mem 50% -> 50; round(37.5) = 38
    cfg = {"NodeResourcesFit": {"scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 10},
                                               {"utilization": 100, "score": 0}]}}}}
    fwk = only("NodeResourcesFit", config=cfg)
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 38, "node2": 50}


def test_requested_to_capacity_ratio_bin_packing_weights():
    # shape (0 -> 0, 100 -> 10): cpu weight 3, memory weight 1
    cfg = {"NodeResourcesFit": {"scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                               {"utilization": 100, "score": 10}]}}}}
    fwk = only("NodeResourcesFit", config=cfg)
    # node1: cpu 75 * 3 + mem 50 = 275 / 4 = 68.75 -> 69; node2: (50*3 + 50)/4 = 50
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 69, "node2": 50}


def test_fit_score_includes_overhead_and_init_container_max():
    p = pod("p", containers=[{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "1000"}}}],
            initContainers=[{"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1000"}}}],
            overhead={"cpu": "1", "memory": "4000"})
    # requests = max(500m, 2) + 1 = 3000m cpu, 1000 + 4000 = 5000 memory: same as CPU_AND_MEMORY
    fwk = only("NodeResourcesFit")
    assert scores(fwk, p, DIFFERENT_NODES) == {"node1": 37, "node2": 50}


def test_balanced_allocation_differently_sized_nodes():
    # node1: fractions 0.75 and 0.5 -> std 0.125 -> 87; node2: 0.5, 0.5 -> 100
    fwk = only("NodeResourcesBalancedAllocation")
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 87, "node2": 100}


def test_balanced_allocation_uses_existing_requests():
    nodes = [node("node1", cpu="10000m", memory="20000"), node("node2", cpu="10000m", memory="20000")]
    existing = [pod("e1", cpu="3000m", memory="0", node_name="node1"),
                pod("e2", cpu="3000m", memory="5000", node_name="node2")]
    # node1: cpu 6000/10000 = .6, mem 5000/20000 = .25 -> 1 - .175 -> 82
    # node2: cpu .6, mem 10000/20000 = .5 -> 1 - .05 -> 95
    fwk = only("NodeResourcesBalancedAllocation")
    assert scores(fwk, CPU_AND_MEMORY, nodes, existing) == {"node1": 82, "node2": 95}


def test_taint_toleration_more_intolerable_taints_lower_score():
    pref = "PreferNoSchedule"
    nodes = [node("nodeA"),
             node("nodeB", taints=[{"key": "cpu-type", "value": "arm64", "effect": pref}]),
             node("nodeC", taints=[{"key": "cpu-type", "value": "arm64", "effect": pref},
                                   {"key": "disk-type", "value": "ssd", "effect": pref}])]
    p = pod("p", tolerations=[{"key": "foo", "operator": "Equal", "value": "bar", "effect": pref}])
    assert scores(only("TaintToleration"), p, nodes) == {"nodeA": 100, "nodeB": 50, "nodeC": 0}


def test_taint_toleration_default_weight_three_in_default_profile():
    pref = "PreferNoSchedule"
    nodes = [node("a"), node("b", taints=[{"key": "k", "value": "v", "effect": pref}])]
    fwk = only("TaintToleration", weights={"TaintToleration": 3})
    assert scores(fwk, pod("p"), nodes) == {"a": 300, "b": 0}


def test_node_affinity_preferred_terms():
    def term(weight, key, op, *values):
        return {"weight": weight, "preference": {"matchExpressions": [
            {"key": key, "operator": op, "values": list(values)}]}}
    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        term(2, "foo", "In", "bar"), term(4, "key", "In", "value"), term(5, "az", "In", "az1")]}})
    nodes = [node("node1", labels={"foo": "bar"}), node("node2", labels={"key": "value"}),
             node("node5", labels={"foo": "bar", "key": "value", "az": "az1"})]
    # raw 2, 4, 11 -> 2*100/11 = 18, 4*100/11 = 36, 100
    assert scores(only("NodeAffinity"), p, nodes) == {"node1": 18, "node2": 36, "node5": 100}


def test_image_locality_scaled_by_spread():
    p = pod("p", containers=[{"name": "a", "image": "gcr.io/40"}, {"name": "b", "image": "gcr.io/300"}])
    nodes = [node("node1", images=[(["gcr.io/40:latest"], 40 * MB), (["gcr.io/250:latest"], 250 * MB)]),
             node("node2", images=[(["gcr.io/300:latest"], 300 * MB)])]
    # node1: 40MB * 1/2 = 20MB < 23MB -> 0
    # node2: 300MB * 1/2 = 150MB -> 100 * (150MB - 23MB) / (2000MB - 23MB) = 6
    assert scores(only("ImageLocality"), p, nodes) == {"node1": 0, "node2": 6}


def test_pod_topology_spread_soft_hostname():
    c = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"foo": ""}}}
    p = pod("p", labels={"foo": ""}, topologySpreadConstraints=[c])
    nodes = [node(n) for n in ("node-a", "node-b", "node-c", "node-d")]
    existing = [pod("a1", node_name="node-a", labels={"foo": ""}), pod("a2", node_name="node-a", labels={"foo": ""}),
                pod("b1", node_name="node-b", labels={"foo": ""}),
                pod("d1", node_name="node-d", labels={"foo": ""}), pod("d2", node_name="node-d", labels={"foo": ""}),
                pod("d3", node_name="node-d", labels={"foo": ""})]
    # weight log(4 + 2); raw = round(cnt * 1.79): a 4, b 2, c 0, d 5
    # normalized 100 * (5 + 0 - raw) / 5: a 20, b 60, c 100, d 0  (upstream's worked example)
    got = scores(only("PodTopologySpread"), p, nodes, existing)
    assert got == {"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0}


def test_pod_topology_spread_system_default_constraints_from_service():
    svc = {"metadata": {"name": "s", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
    nodes = [node("n1", labels={"topology.kubernetes.io/zone": "z1"}),
             node("n2", labels={"topology.kubernetes.io/zone": "z1"}),
             node("n3", labels={"topology.kubernetes.io/zone": "z2"})]
    existing = [pod("w1", node_name="n1", labels={"app": "web"}), pod("w2", node_name="n2", labels={"app": "web"})]
    p = pod("p", labels={"app": "web"})
    # hostname (maxSkew 3, weight log 5 = 1.609): n1 1.609+2, n2 1.609+2, n3 0+2
    # zone (maxSkew 5, 2 domains, weight log 4 = 1.386): z1 2*1.386+4, z2 0+4
    # raw: n1 = round(3.609 + 6.773) = 10, n2 = 10, n3 = round(2 + 4) = 6
    # normalized 100 * (10 + 6 - raw) / 10: n1 60, n2 60, n3 100
    got = scores(only("PodTopologySpread"), p, nodes, existing, ClusterObjects(services=[svc]))
    assert got == {"n1": 60, "n2": 60, "n3": 100}
    # Without a Service or controller selecting the pod there are no default constraints.
    assert scores(only("PodTopologySpread", "NodeResourcesFit"), p, nodes, existing) == \
        scores(only("NodeResourcesFit"), p, nodes, existing)


def test_inter_pod_affinity_preferred():
    term = {"weight": 5, "podAffinityTerm": {"labelSelector": {"matchExpressions": [
        {"key": "security", "operator": "In", "values": ["S1"]}]}, "topologyKey": "region"}}
    p = pod("p", labels={"security": "S1"}, affinity={"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [term]}})
    nodes = [node("machine1", labels={"region": "China"}), node("machine2", labels={"region": "India"}),
             node("machine3", labels={"region": "China"})]
    existing = [pod("e", node_name="machine1", labels={"security": "S1"})]
    got = scores(only("InterPodAffinity"), p, nodes, existing)
    assert got == {"machine1": 100, "machine2": 0, "machine3": 100}


def test_inter_pod_affinity_existing_pods_hard_affinity_and_preferred_anti():
    hard = {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}
    anti = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 3, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}}]}
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}), node("c", labels={"zone": "z3"})]
    existing = [pod("web", node_name="a", labels={"app": "web"}, affinity={"podAffinity": hard}),
                pod("cache", node_name="b", labels={"app": "cache"}, affinity={"podAntiAffinity": anti})]
    # z1: +1 (hardPodAffinityWeight), z2: -3, z3: 0 -> min -3, max 1
    # normalized 100 * (s - min) / 4: a 100, b 0, c 75
    got = scores(only("InterPodAffinity"), pod("p", labels={"app": "db"}), nodes, existing)
    assert got == {"a": 100, "b": 0, "c": 75}


def test_default_profile_total_is_weighted_sum():
    fwk = only("NodeResourcesFit", "NodeResourcesBalancedAllocation", "TaintToleration",
               weights={"TaintToleration": 3})
    assert scores(fwk, CPU_AND_MEMORY, DIFFERENT_NODES) == {"node1": 37 + 87 + 300, "node2": 50 + 100 + 300}


def test_resource_scoring_of_many_nodes_is_each_node_scored_alone():
    """score_nodes (what the framework calls) gives every node the score ``score`` gives it,
    for nodes of every shape: no memory, no cpu, full, over-committed, partly used."""
    from kubesim.components.scheduler.interfaces import CycleState
    from kubesim.components.scheduler.nodeinfo import PodInfo
    from kubesim.components.scheduler.snapshot import Snapshot

    shapes = [("4", "8Gi"), ("0", "8Gi"), ("4", "0"), ("1", "1Gi"), ("64", "256Gi"), ("100m", "10Mi")]
    nodes = [node(f"n{i}", cpu=c, memory=m) for i, (c, m) in enumerate(shapes)]
    placed = [pod(f"q{i}", cpu="1500m", memory="3Gi", node_name=f"n{i}") for i in range(0, len(shapes), 2)]
    placed += [pod(f"b{i}", node_name=f"n{i}") for i in range(3, len(shapes))]  # 100m/200Mi non-zero
    snap = Snapshot.from_nodes(nodes, placed)
    strategies = [None, {"type": "MostAllocated"}, {"type": "RequestedToCapacityRatio",
                  "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                                         {"utilization": 100, "score": 10}]}}]
    for p in (CPU_AND_MEMORY, pod("besteffort"), pod("cpu-only", cpu="2")):
        for strategy in strategies:
            cfg = {"NodeResourcesFit": {"scoringStrategy": strategy}} if strategy else None
            fwk = only("NodeResourcesFit", "NodeResourcesBalancedAllocation", config=cfg)
            for plugin in fwk.score_plugins:
                state, pi = CycleState(), PodInfo(p)
                if hasattr(plugin, "pre_score"):
                    plugin.pre_score(state, pi, snap.node_info_list)
                each = [plugin.score(state, pi, ni) for ni in snap.node_info_list]
                assert plugin.score_nodes(state, pi, snap.node_info_list) == each, (plugin.name, p, strategy)
                assert len(set(each)) > 1  # the shapes give different scores
