"""The scheduling algorithm: percentageOfNodesToScore, the round-robin start index, the
nominated node first, seeded tie-breaking (schedule_one.go)."""

from __future__ import annotations

import pytest

from kubesim.components.scheduler.schedule_one import (
    FitError,
    NoNodesAvailable,
    SchedulingAlgorithm,
    num_feasible_nodes_to_find,
)
from kubesim.components.scheduler.snapshot import Snapshot

from .helpers import node, only, pod, schedule


# schedule_one_test.go TestNumFeasibleNodesToFind (global, profile, nodes -> wanted).
@pytest.mark.parametrize("global_pct,profile_pct,n,want", [
    (None, None, 10, 10),
    (None, 40, 10, 10),
    (None, None, 1000, 420),
    (None, 40, 1000, 400),
    (100, 40, 1000, 400),
    (40, None, 1000, 400),
    (None, None, 6000, 300),
    (None, 40, 6000, 2400),
])
def test_num_feasible_nodes_to_find_upstream_cases(global_pct, profile_pct, n, want):
    fwk = only("NodeResourcesFit", percentage=profile_pct)
    algo = SchedulingAlgorithm(global_pct)
    pct = fwk.percentage_of_nodes_to_score if fwk.percentage_of_nodes_to_score is not None else algo.percentage_of_nodes_to_score
    assert num_feasible_nodes_to_find(pct, n) == want


@pytest.mark.parametrize("n,want", [(50, 50), (100, 100), (1000, 420), (5000, 500), (10000, 500)])
def test_adaptive_default_never_below_five_percent_or_100_nodes(n, want):
    # docs "Scheduler Performance Tuning": 50% at 100 nodes, 10% at 5,000, never below 5%.
    assert num_feasible_nodes_to_find(None, n) == want


def test_filtering_stops_at_the_wanted_number_and_round_robins():
    fwk = only("NodeResourcesFit")
    algo = SchedulingAlgorithm()
    snap = Snapshot.from_nodes([node(f"n{i:03}") for i in range(200)])
    # 200 nodes: 50 - 200/125 = 49% of 200 = 98 -> at least 100 nodes.
    r1 = schedule(fwk, pod("p1"), snap, algorithm=algo)
    assert (r1.evaluated_nodes, r1.feasible_nodes) == (100, 100)
    assert algo.next_start_node_index == 100
    schedule(fwk, pod("p2"), snap, algorithm=algo)
    assert algo.next_start_node_index == 0


def test_start_index_advances_by_rejected_nodes_too_and_wraps_over_all_nodes():
    fwk = only("NodeResourcesFit")
    algo = SchedulingAlgorithm()
    nodes = [node(f"n{i:03}", cpu="1") for i in range(150)] + [node(f"m{i:03}", cpu="8") for i in range(50)]
    snap = Snapshot.from_nodes(nodes)
    res = schedule(fwk, pod("p", cpu="2"), snap, algorithm=algo)
    # All 150 small nodes are rejected before the 50 big ones fit: 200 processed.
    assert (res.evaluated_nodes, res.feasible_nodes) == (200, 50)
    assert algo.next_start_node_index == 0


def test_profile_percentage_overrides_the_global_one():
    algo = SchedulingAlgorithm(percentage_of_nodes_to_score=100)
    snap = Snapshot.from_nodes([node(f"n{i:03}") for i in range(300)])
    assert schedule(only("NodeResourcesFit"), pod("p"), snap, algorithm=algo).feasible_nodes == 300
    assert schedule(only("NodeResourcesFit", percentage=50), pod("p"), snap, algorithm=algo).feasible_nodes == 150


def test_ties_broken_with_seeded_rng():
    fwk = only("NodeResourcesFit")
    snap = Snapshot.from_nodes([node(f"n{i}") for i in range(10)])
    picks = {schedule(fwk, pod("p"), snap, seed).suggested_host for seed in range(30)}
    assert len(picks) > 3
    assert schedule(fwk, pod("p"), snap, 7).suggested_host == schedule(fwk, pod("p"), snap, 7).suggested_host


def test_best_score_wins_over_ties():
    fwk = only("NodeResourcesFit")
    nodes = [node(f"n{i}") for i in range(5)] + [node("big", cpu="64", memory="256Gi")]
    snap = Snapshot.from_nodes(nodes)
    assert {schedule(fwk, pod("p", cpu="1"), snap, seed).suggested_host for seed in range(10)} == {"big"}


def test_nominated_node_is_tried_first():
    fwk = only("NodeResourcesFit")
    snap = Snapshot.from_nodes([node("a"), node("b", cpu="64", memory="256Gi")])
    p = pod("p", cpu="1")
    p["status"]["nominatedNodeName"] = "a"
    res = schedule(fwk, p, snap)
    assert (res.suggested_host, res.evaluated_nodes, res.feasible_nodes) == ("a", 1, 1)


def test_node_tree_interleaves_zones():
    nodes = [node(f"{z}-{i}", labels={"topology.kubernetes.io/zone": z}) for z in ("a", "b") for i in range(3)]
    snap = Snapshot.from_nodes(nodes)
    assert [n.name for n in snap.node_info_list] == ["a-0", "b-0", "a-1", "b-1", "a-2", "b-2"]


def test_no_nodes_at_all():
    with pytest.raises(NoNodesAvailable, match="no nodes available to schedule pods"):
        schedule(only("NodeResourcesFit"), pod("p"), Snapshot.from_nodes([]))


def test_fit_error_keeps_every_rejected_node():
    res = schedule(only("NodeResourcesFit"), pod("p", cpu="100"), Snapshot.from_nodes([node(f"n{i}") for i in range(3)]))
    assert isinstance(res, FitError)
    assert sorted(res.diagnosis.node_to_status.statuses) == ["n0", "n1", "n2"]
    assert res.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}
