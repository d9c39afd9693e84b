"""The scheduler cache: assumed pods, the zone-interleaved node tree, image states shared
between nodes, and incremental snapshots (after backend/cache/cache_test.go and
node_tree_test.go)."""

from __future__ import annotations

import pytest

from kubesim.components.scheduler.cache import Cache, CacheError, NodeTree
from kubesim.components.scheduler.plugins.imagelocality import MB
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import node, pod

ZONE = "topology.kubernetes.io/zone"


def test_node_tree_interleaves_zones_and_keeps_order_on_removal():
    # node_tree_test.go "remove a node": the others keep their places.
    t = NodeTree()
    for name, zone in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a"), ("c1", "c"), ("b2", "b")]:
        t.add(name, zone)
    assert t.list() == ["a1", "b1", "c1", "a2", "b2", "a3"]
    t.remove("a2", "a")
    t.remove("c1", "c")
    assert t.list() == ["a1", "b1", "a3", "b2"]
    assert t.zones == ["a", "b"] and t.num_nodes == 4


def test_node_update_keeps_tree_position_unless_the_zone_changes():
    c = Cache()
    for name, zone in [("n1", "a"), ("n2", "b"), ("n3", "a")]:
        c.add_node(node(name, labels={ZONE: zone}))
    snap = Snapshot()
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["n1", "n2", "n3"]
    c.update_node(node("n1", cpu="8", labels={ZONE: "a"}))
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["n1", "n2", "n3"]
    assert snap.get("n1").allocatable.milli_cpu == 8000
    c.update_node(node("n1", labels={ZONE: "b"}))
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["n3", "n2", "n1"]


def test_assume_confirm_forget():
    c = Cache()
    c.add_node(node("n1"))
    p = pod("p", cpu="1", node_name="n1")
    c.assume_pod(p)
    assert c.is_assumed(p) and c.node_info("n1").requested.milli_cpu == 1000
    with pytest.raises(CacheError, match="is in the cache, so can't be assumed"):
        c.assume_pod(p)
    c.add_pod(p)  # the watch confirms it
    assert not c.is_assumed(p) and c.node_info("n1").requested.milli_cpu == 1000
    with pytest.raises(CacheError, match="wasn't assumed so cannot be forgotten"):
        c.forget_pod(p)
    q = pod("q", cpu="2", node_name="n1")
    c.assume_pod(q)
    c.forget_pod(q)
    assert c.node_info("n1").requested.milli_cpu == 1000 and c.pod_count() == 1


def test_assumed_pod_confirmed_on_another_node_moves():
    c = Cache()
    c.add_node(node("n1"))
    c.add_node(node("n2"))
    c.assume_pod(pod("p", cpu="1", node_name="n1"))
    c.add_pod(pod("p", cpu="1", node_name="n2"))
    assert c.node_info("n1").requested.milli_cpu == 0 and c.node_info("n2").requested.milli_cpu == 1000


def test_pods_of_a_node_not_seen_yet_wait_for_it():
    c = Cache()
    c.add_pod(pod("p", cpu="1", node_name="late"))
    assert c.node_count() == 0 and c.node_info("late") is None
    c.add_node(node("late"))
    assert c.node_info("late").requested.milli_cpu == 1000
    c.remove_node("late")
    assert c.node_count() == 0 and c.pod_count() == 1


def test_image_states_count_nodes_as_they_come_and_go():
    c = Cache()
    c.add_node(node("n1", images=[(["nginx:1.25"], 100 * MB)]))
    c.add_node(node("n2", images=[(["nginx:1.25"], 100 * MB)]))
    assert c.node_info("n1").image_states["nginx:1.25"].num_nodes == 2
    c.remove_node("n2")
    assert c.node_info("n1").image_states["nginx:1.25"].num_nodes == 1
    c.update_node(node("n1"))
    c.add_node(node("n3", images=[(["nginx:1.25"], 100 * MB)]))
    assert c.node_info("n3").image_states["nginx:1.25"].num_nodes == 1


def test_snapshot_clones_only_what_changed_and_updates_in_place():
    c = Cache()
    for i in range(3):
        c.add_node(node(f"n{i}"))
    snap = Snapshot()
    c.update_snapshot(snap)
    infos = list(snap.node_info_list)
    c.add_pod(pod("p", cpu="1", node_name="n1", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}]}}))
    c.update_snapshot(snap)
    assert snap.node_info_list == infos and snap.node_info_list[1] is infos[1]
    assert infos[1].requested.milli_cpu == 1000 and infos[0].requested.milli_cpu == 0
    assert [n.name for n in snap.have_pods_with_required_anti_affinity] == ["n1"]
    # The snapshot is the scheduler's, not the cache's: later cache changes wait for the next update.
    c.add_pod(pod("q", cpu="1", node_name="n0"))
    assert infos[0].requested.milli_cpu == 0
