"""The scheduling queue: activeQ order, backoff, unschedulablePods and the events (with
QueueingHints) that move pods back, in-flight events, the 5-minute flush, gating and the
nominator (after backoff/queue/scheduling_queue_test.go)."""

from __future__ import annotations

import pytest

from kubesim.components.scheduler.interfaces import (
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
)
from kubesim.components.scheduler.plugins.basic import PrioritySort
from kubesim.components.scheduler.queue import SchedulingQueue
from kubesim.components.scheduler.scheduler import Scheduler

from .helpers import node, pod

FIT = "NodeResourcesFit"


def make_queue(**kwargs) -> SchedulingQueue:
    """A queue ordered by PrioritySort with the in-tree hints of the default profile."""
    return Scheduler(**kwargs).queue


def pop_names(q: SchedulingQueue) -> list[str]:
    names = []
    while (qpi := q.pop()) is not None:
        names.append(qpi.pi.name)
        q.done(qpi.key)
    return names


def fail(q: SchedulingQueue, name: str, plugins: set[str], now: float) -> str:
    """Pop ``name`` (must be the head) and report it unschedulable by ``plugins``."""
    qpi = q.pop()
    assert qpi is not None and qpi.pi.name == name
    return q.add_unschedulable_if_not_present(qpi, plugins, now)


def test_active_queue_orders_by_priority_then_timestamp():
    q = make_queue()
    q.add(pod("low-early", priority=1), 0.0)
    q.add(pod("high-late", priority=10), 2.0)
    q.add(pod("low-late", priority=1), 3.0)
    q.add(pod("high-early", priority=10), 1.0)
    assert pop_names(q) == ["high-early", "high-late", "low-early", "low-late"]


@pytest.mark.parametrize("attempts,want", [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (20, 10.0)])
def test_backoff_doubles_from_one_second_up_to_ten(attempts, want):
    q = make_queue()
    q.add(pod("p"), 0.0)
    qpi = q.get(pod("p"))
    qpi.attempts = attempts
    assert q.backoff_duration(qpi) == want


def test_failed_pod_without_rejecting_plugin_backs_off_then_returns():
    q = make_queue()
    q.add(pod("p"), 0.0)
    assert fail(q, "p", set(), now=0.0) == "backoff"   # an error: retried after backoff
    assert q.pop() is None
    assert q.flush_backoff_completed(0.9) == 0
    assert q.flush_backoff_completed(1.0) == 1
    assert q.where(pod("p")) == "active"
    assert fail(q, "p", set(), now=5.0) == "backoff"   # second attempt: 2 s
    assert q.flush_backoff_completed(6.9) == 0
    assert q.flush_backoff_completed(7.0) == 1


def test_rejected_pod_waits_for_an_event_its_plugin_registered():
    q = make_queue()
    q.add(pod("p", cpu="8"), 0.0)
    assert fail(q, "p", {FIT}, 0.0) == "unschedulable"
    # A node too small for the pod: NodeResourcesFit's hint says skip.
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("small", cpu="4"), 1.0) == 0
    # A node label change: NodeResourcesFit did not register for it.
    relabel = ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL, "NodeUpdate")
    assert q.move_all_to_active_or_backoff(relabel, node("a"), node("a", labels={"x": "y"}), 1.0) == 0
    # A pending pod deleted frees nothing; a placed one may.
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod("q"), None, 1.0) == 0
    assert q.where(pod("p")) == "unschedulable"
    # Big enough: moves, to backoffQ since its 1 s backoff runs until 1.0 + ... (timestamp 0 -> 1.0).
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("big", cpu="16"), 0.5) == 1
    assert q.where(pod("p")) == "backoff"


def test_assigned_pod_delete_requeues_resource_rejected_pods_to_active_after_backoff():
    q = make_queue()
    q.add(pod("p", cpu="8"), 0.0)
    fail(q, "p", {FIT}, 0.0)
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod("q", node_name="n"), None, 3.0) == 1
    assert q.where(pod("p")) == "active"


def test_event_while_in_flight_sends_the_pod_to_backoff_instead_of_unschedulable():
    q = make_queue()
    q.add(pod("p", cpu="8"), 0.0)
    qpi = q.pop()
    q.move_all_to_active_or_backoff(NODE_ADD, None, node("big", cpu="16"), 0.1)
    assert q.add_unschedulable_if_not_present(qpi, {FIT}, 0.2) == "backoff"


def test_event_before_the_pod_was_popped_does_not_count():
    q = make_queue()
    q.add(pod("p", cpu="8"), 0.0)
    q.add(pod("other", priority=1), 0.0)
    other = q.pop()
    q.move_all_to_active_or_backoff(NODE_ADD, None, node("big", cpu="16"), 0.1)
    q.done(other.key)
    assert fail(q, "p", {FIT}, 0.2) == "unschedulable"


def test_unschedulable_pods_flushed_after_five_minutes():
    q = make_queue()
    q.add(pod("p", cpu="8"), 0.0)
    fail(q, "p", {FIT}, 10.0)
    assert q.flush_unschedulable_left_over(310.0) == 0
    assert q.flush_unschedulable_left_over(310.1) == 1
    assert q.where(pod("p")) == "active"


def test_custom_hint_decides_and_a_failing_hint_queues():
    calls = []

    def hint(p, old, new):
        calls.append(new["metadata"]["name"])
        if new["metadata"]["name"] == "boom":
            raise RuntimeError("hint failed")
        return QueueingHint.QUEUE if new["metadata"]["labels"].get("ok") else QueueingHint.SKIP

    event = ClusterEvent("Node", ActionType.ADD)
    q = SchedulingQueue(lambda a, b: a.timestamp < b.timestamp,
                        hints={"default-scheduler": {"X": [ClusterEventWithHint(event, hint)]}})
    for name in ("a", "b"):
        q.add(pod(name), 0.0)
        fail(q, name, {"X"}, 0.0)
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("no"), 5.0) == 0
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("yes", labels={"ok": "1"}), 5.0) == 2
    assert pop_names(q) == ["a", "b"]
    q.add(pod("c"), 0.0)
    fail(q, "c", {"X"}, 0.0)
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("boom"), 5.0) == 1
    assert calls == ["no", "no", "yes", "yes", "boom"]


def test_scheduling_gates_hold_the_pod_until_removed():
    q = make_queue()
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    assert q.add(gated, 0.0) == "gated"
    assert q.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 1}
    assert q.get(gated).gating_message == "waiting for scheduling gates: [example.com/wait]"
    # Cluster events never move a gated pod.
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, node("n"), 1.0) == 0
    ungated = pod("g")
    assert q.update(gated, ungated, 2.0) == "active"
    assert q.get(ungated).initial_attempt_timestamp == 2.0  # SLI counts from leaving the gate


def test_update_of_unschedulable_pod_requeues_when_a_rejecting_plugin_hints_so():
    q = make_queue()
    p = pod("p")
    q.add(p, 0.0)
    fail(q, "p", {"TaintToleration"}, 0.0)
    status_only = {**p, "metadata": {**p["metadata"], "resourceVersion": "9"}, "status": {"phase": "Pending", "x": 1}}
    assert q.update(p, status_only, 1.0) == "unschedulable"
    relabelled = pod("p", labels={"a": "b"})
    assert q.update(status_only, relabelled, 2.0) == "unschedulable"  # TaintToleration ignores labels
    tolerating = pod("p", labels={"a": "b"}, tolerations=[{"key": "k", "operator": "Exists"}])
    assert q.update(relabelled, tolerating, 5.0) == "active"


def test_deleted_in_flight_pod_does_not_come_back():
    q = make_queue()
    q.add(pod("p"), 0.0)
    qpi = q.pop()
    q.delete(pod("p"))
    assert q.add_unschedulable_if_not_present(qpi, {FIT}, 1.0) == ""
    assert q.where(pod("p")) is None and len(q) == 0


def test_nominator_follows_status_and_keeps_in_memory_nomination():
    q = make_queue()
    p = pod("p", priority=5)
    q.add(p, 0.0)
    q.add_nomination(q.get(p).pi, "n1")
    assert [pi.name for pi in q.nominated_pods_for_node("n1")] == ["p"]
    # An update that does not carry the nomination yet keeps the one made in memory.
    q.update(p, {**p, "metadata": {**p["metadata"], "resourceVersion": "2"}}, 1.0)
    assert q.nominated_node(q.get(p).key) == "n1"
    # The API object now names another node: it wins.
    moved = {**p, "status": {"phase": "Pending", "nominatedNodeName": "n2"}}
    q.update(p, moved, 2.0)
    assert q.nominated_node(q.get(p).key) == "n2" and q.nominated_pods_for_node("n1") == []
    q.delete(moved)
    assert q.nominated_pods_for_node("n2") == []


def test_pending_counts_and_activate():
    q = make_queue()
    q.add(pod("a", cpu="8"), 0.0)
    q.add(pod("b"), 0.0)
    fail(q, "a", {FIT}, 0.0)
    fail(q, "b", set(), 0.0)
    assert q.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 1, "gated": 0}
    q.activate([q.get(pod("a")).key, q.get(pod("b")).key], 0.5)
    assert q.pending_counts() == {"active": 2, "backoff": 0, "unschedulable": 0, "gated": 0}


def test_priority_sort_less():
    ps = PrioritySort(None, None)
    q = make_queue()
    q.add(pod("a", priority=1), 5.0)
    q.add(pod("b", priority=2), 9.0)
    a, b = q.get(pod("a")), q.get(pod("b"))
    assert ps.less(b, a) and not ps.less(a, b)
