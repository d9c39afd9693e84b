"""API Priority and Fairness and max-in-flight admission: worked examples."""

from __future__ import annotations

import heapq
from itertools import count

import pytest

from kubesim.components.apiserver.flowcontrol import (
    APFController,
    MaxInFlightLimiter,
    Outcome,
    RequestAttrs,
    new_flow_control,
)
from kubesim.components.apiserver.flowcontrol.borrowing import (
    AllocItem,
    compute_concurrency_allocation,
)
from kubesim.components.apiserver.flowcontrol.shufflesharding import Dealer, hash_flow_id

AUTH = ("system:authenticated",)


def user_get(user: str, namespace: str = "default") -> RequestAttrs:
    return RequestAttrs(user=user, groups=AUTH, verb="get", resource="pods", namespace=namespace)


# -- shuffle sharding -----------------------------------------------------------------


def test_dealer_worked_examples():
    # 12345 = 1543*8 + 1; 1543 = 220*7 + 3; 220 = 36*6 + 4 -> remainders [1, 3, 4]
    # card 1; 3 >= 1 -> 4; 4 >= 3 -> 5, 5 >= 1 -> 6
    assert Dealer(8, 3).deal(12345) == [1, 4, 6]
    assert Dealer(128, 6).deal(0) == [0, 1, 2, 3, 4, 5]
    assert Dealer(128, 6).deal(1) == [1, 0, 2, 3, 4, 5]


def test_dealer_is_a_bijection_onto_ordered_hands():
    # hashes below deck!/(deck-hand)! deal every ordered hand exactly once
    dealer = Dealer(8, 3)
    hands = {tuple(dealer.deal(h)) for h in range(8 * 7 * 6)}
    assert len(hands) == 336
    assert all(len(set(hand)) == 3 and max(hand) < 8 for hand in hands)


def test_dealer_rejects_bad_parameters():
    with pytest.raises(ValueError, match="handSize 101 is greater than deckSize 100"):
        Dealer(100, 101)
    with pytest.raises(ValueError, match="required entropy bits of deckSize 512 and handSize 8"):
        Dealer(512, 8)


def test_flow_hash_is_sha256_little_endian_prefix():
    # sha256(b"global-default\x00alice") starts b7 f6 cd 2c d4 3b de f4; read little-endian
    assert hash_flow_id("global-default", "alice") == 0xF4DE3BD42CCDF6B7
    assert Dealer(128, 6).deal(0xF4DE3BD42CCDF6B7) == [55, 62, 126, 125, 105, 1]


# -- configuration ----------------------------------------------------------------------


def test_nominal_limits_split_600_seats_by_shares():
    m = APFController().metrics()
    # ceil(600 * NCS / 245), NCS = 0, 5, 30, 40, 10, 40, 100, 20
    assert m.nominal_limit_seats == {
        "exempt": 0, "catch-all": 13, "system": 74, "node-high": 98, "leader-election": 25,
        "workload-high": 98, "workload-low": 245, "global-default": 49,
    }
    # idle: every level's target is its minCL, scaled up to fill sum(nominal) = 602
    assert m.current_limit_seats == {
        "exempt": 0, "catch-all": 30, "system": 117, "node-high": 170, "leader-election": 58,
        "workload-high": 114, "workload-low": 56, "global-default": 56,
    }
    assert sum(m.current_limit_seats.values()) == 601  # rounding of the 602 allocated


@pytest.mark.parametrize(
    ("attrs", "schema", "level"),
    [
        (RequestAttrs("admin", "delete", ("system:masters", *AUTH), resource="pods", namespace="a"), "exempt", "exempt"),
        (RequestAttrs("system:anonymous", "get", ("system:unauthenticated",), non_resource_url="/readyz"), "probes", "exempt"),
        (RequestAttrs("system:node:n1", "patch", ("system:nodes", *AUTH), resource="nodes", subresource="status", name="n1"), "system-node-high", "node-high"),
        (RequestAttrs("system:node:n1", "update", ("system:nodes", *AUTH), api_group="coordination.k8s.io", resource="leases", namespace="kube-node-lease"), "system-node-high", "node-high"),
        (RequestAttrs("system:node:n1", "get", ("system:nodes", *AUTH), resource="pods", namespace="a"), "system-nodes", "system"),
        (RequestAttrs("system:kube-controller-manager", "update", AUTH, api_group="coordination.k8s.io", resource="leases", namespace="kube-system"), "system-leader-election", "leader-election"),
        (RequestAttrs("system:kube-controller-manager", "update", AUTH, resource="endpoints", namespace="default"), "endpoint-controller", "workload-high"),
        (RequestAttrs("system:kube-controller-manager", "list", AUTH, api_group="apps", resource="replicasets"), "kube-controller-manager", "workload-high"),
        (RequestAttrs("system:kube-scheduler", "create", AUTH, resource="pods", subresource="binding", namespace="a"), "kube-scheduler", "workload-high"),
        (RequestAttrs("system:serviceaccount:kube-system:coredns", "list", ("system:serviceaccounts", *AUTH), resource="services"), "kube-system-service-accounts", "workload-high"),
        (RequestAttrs("system:serviceaccount:kube-system:x", "get", ("system:serviceaccounts", *AUTH), resource="configmaps", namespace="ns1"), "workload-leader-election", "leader-election"),
        (RequestAttrs("system:serviceaccount:team:bot", "list", ("system:serviceaccounts", *AUTH), resource="pods", namespace="team"), "service-accounts", "workload-low"),
        (user_get("alice"), "global-default", "global-default"),
        (RequestAttrs("nobody", "get", (), resource="pods", namespace="a"), "catch-all", "catch-all"),
    ],
)
def test_classification(attrs, schema, level):
    d = APFController().admit(attrs, 0.0)
    assert (d.outcome, d.flow_schema, d.priority_level) == (Outcome.EXECUTE, schema, level)


# -- admission ----------------------------------------------------------------------------


def test_exempt_requests_always_run():
    apf = APFController()
    admin = RequestAttrs("admin", "list", ("system:masters",), resource="pods")
    decisions = [apf.admit(admin, 0.0) for _ in range(2000)]
    assert {d.outcome for d in decisions} == {Outcome.EXECUTE}
    assert apf.metrics().current_executing_requests == {("exempt", "exempt"): 2000}


def test_long_running_requests_bypass_but_watch_takes_a_seat_while_starting():
    apf = APFController()
    logs = apf.admit(RequestAttrs("alice", "get", AUTH, resource="pods", subresource="log", namespace="a", is_long_running=True), 0.0)
    assert logs.outcome is Outcome.EXECUTE and logs.ticket is None
    watch = apf.admit(RequestAttrs("alice", "watch", AUTH, resource="pods", namespace="a", is_long_running=True), 0.0)
    assert watch.ticket is not None
    assert apf.metrics().current_inflight_requests == {"readOnly": 1, "mutating": 0}
    apf.finish(watch.ticket, 0.2)
    assert apf.metrics().current_inflight_requests == {"readOnly": 0, "mutating": 0}


def test_queue_full_after_the_flows_hand_of_queues_fills():
    apf = APFController()
    # 56 seats execute; the flow then spreads over its hand of 6 queues of length 50
    outcomes = [apf.admit(user_get("alice"), 0.0).outcome for _ in range(56 + 300 + 1)]
    assert outcomes.count(Outcome.EXECUTE) == 56
    assert outcomes.count(Outcome.QUEUED) == 300
    assert outcomes[-1] is Outcome.REJECT
    m = apf.metrics()
    assert m.rejected_requests_total == {("global-default", "global-default", "queue-full"): 1}
    assert m.current_inqueue_requests == {("global-default", "global-default"): 300}
    assert m.current_executing_requests == {("global-default", "global-default"): 56}
    # another user has other queues: still room
    assert apf.admit(user_get("bob"), 0.0).outcome is Outcome.QUEUED


def test_reject_type_level_refuses_over_its_limit():
    apf = APFController()
    nobody = RequestAttrs("nobody", "get", (), resource="pods", namespace="a")
    decisions = [apf.admit(nobody, 0.0) for _ in range(31)]
    assert [d.outcome for d in decisions].count(Outcome.EXECUTE) == 30
    rejection = decisions[-1].rejection
    assert (rejection.reason, rejection.status, rejection.retry_after) == ("concurrency-limit", 429, 1)
    assert rejection.message == "Too many requests, please try again later."


def test_queued_requests_time_out_after_15_seconds():
    apf = APFController()
    for _ in range(56):
        apf.admit(user_get("alice"), 0.0)
    queued = apf.admit(user_get("alice"), 1.0)
    assert queued.outcome is Outcome.QUEUED
    assert apf.next_expiry() == 16.0
    assert apf.expire(15.9) == []
    [rejection] = apf.expire(16.0)
    assert (rejection.reason, rejection.ticket) == ("time-out", queued.ticket)
    assert apf.next_expiry() is None
    m = apf.metrics()
    assert m.rejected_requests_total == {("global-default", "global-default", "time-out"): 1}
    assert m.current_inqueue_requests == {("global-default", "global-default"): 0}
    waits = apf.drain_wait_observations()
    assert [w for w in waits if not w.execute][0].seconds == pytest.approx(15.0)


def test_finish_dispatches_queued_tickets_and_records_the_wait():
    apf = APFController()
    running = [apf.admit(user_get("alice"), 0.0).ticket for _ in range(56)]
    queued = apf.admit(user_get("alice"), 0.5).ticket
    apf.drain_wait_observations()
    assert apf.finish(running[0], 2.0) == [queued]
    assert queued.started == 2.0
    [wait] = apf.drain_wait_observations()
    assert (wait.priority_level, wait.flow_schema, wait.execute, wait.seconds) == ("global-default", "global-default", True, 1.5)
    assert apf.metrics().dispatched_requests_total == {("global-default", "global-default"): 57}
    with pytest.raises(ValueError):
        apf.finish(running[0], 2.0)


def simulate(apf, clients, service, until):
    """Closed-loop clients: each keeps `n` requests outstanding. Returns waits per user."""
    events, seq, waits = [], count(), {user: [] for user in clients}

    def started(t, ticket):
        waits[ticket.flow_distinguisher].append(t - ticket.arrival)
        heapq.heappush(events, (t + service, next(seq), ticket))

    def submit(t, user):
        d = apf.admit(user_get(user), t)
        if d.outcome is Outcome.EXECUTE:
            started(t, d.ticket)
        assert d.outcome is not Outcome.REJECT

    for user, outstanding in clients.items():
        for _ in range(outstanding):
            submit(0.0, user)
    while events and events[0][0] <= until:
        t, _, ticket = heapq.heappop(events)
        for ticket_started in apf.finish(ticket, t):
            started(t, ticket_started)
        submit(t, ticket.flow_distinguisher)
    return waits


def test_heavy_flow_cannot_starve_a_light_one_in_the_same_level():
    waits = simulate(APFController(), {"heavy": 290, "light": 1}, service=0.01, until=5.0)
    heavy, light = waits["heavy"], waits["light"]
    assert len(light) > 200  # about one request per (service + wait)
    assert max(light) <= 0.01 + 1e-9  # at most one service time in the queue
    assert sum(heavy) / len(heavy) > 4 * max(light)


def test_flows_sharing_a_level_get_equal_throughput():
    waits = simulate(APFController(), {"a": 150, "b": 150}, service=0.01, until=5.0)
    a, b = len(waits["a"]), len(waits["b"])
    assert abs(a - b) / (a + b) < 0.05


def test_concurrency_allocation_worked_example():
    # fairProp = 10 / (2 + 3 + 5) = 1 with no bound active
    allocs, prop = compute_concurrency_allocation(10, [AllocItem(2, 0, 10), AllocItem(3, 0, 10), AllocItem(5, 0, 10)])
    assert allocs == pytest.approx([2, 3, 5]) and prop == pytest.approx(1)
    # the first is pinned at its lower bound 4; the rest share 6 in proportion 3:5... capped at 3
    allocs, prop = compute_concurrency_allocation(10, [AllocItem(4, 4, 10), AllocItem(3, 0, 3), AllocItem(5, 0, 10)])
    assert allocs == pytest.approx([4, 2.25, 3.75]) and prop == pytest.approx(0.75)
    with pytest.raises(ValueError, match="lower bounds sum"):
        compute_concurrency_allocation(1, [AllocItem(2, 2, 3)])


def test_borrowing_gives_busy_levels_the_seats_idle_ones_lend():
    apf = APFController()
    for i in range(1000):
        apf.admit(RequestAttrs(f"system:serviceaccount:ns:sa{i}", "list", ("system:serviceaccounts", *AUTH), resource="pods", namespace="ns"), 0.0)
    for i in range(400):
        apf.admit(user_get(f"user{i}"), 0.0)
    started = apf.rebalance(10.0)
    limits = apf.metrics().current_limit_seats
    assert limits["workload-low"] > 245 and limits["global-default"] > 49  # borrowed beyond nominal
    assert limits["workload-low"] > limits["global-default"]
    assert limits["leader-election"] == 25 and limits["catch-all"] == 13  # lend nothing
    assert len(started) == (limits["workload-low"] - 56) + (limits["global-default"] - 56)
    executing = apf.metrics().current_executing_requests
    assert executing[("workload-low", "service-accounts")] == limits["workload-low"]


# -- max-in-flight -------------------------------------------------------------------------


def test_max_in_flight_limits_read_only_and_mutating_separately():
    limiter = new_flow_control(enable_priority_and_fairness=False)
    assert isinstance(limiter, MaxInFlightLimiter)
    reads = [limiter.admit(user_get("a"), 0.0) for _ in range(401)]
    assert [d.outcome for d in reads].count(Outcome.EXECUTE) == 400
    assert reads[-1].rejection.status == 429 and reads[-1].rejection.retry_after == 1
    create = RequestAttrs("a", "create", AUTH, resource="pods", namespace="a")
    writes = [limiter.admit(create, 0.0) for _ in range(201)]
    assert [d.outcome for d in writes].count(Outcome.EXECUTE) == 200
    watch = RequestAttrs("a", "watch", AUTH, resource="pods", is_long_running=True)
    assert limiter.admit(watch, 0.0).outcome is Outcome.EXECUTE
    admin = RequestAttrs("admin", "get", ("system:masters",), resource="pods")
    assert limiter.admit(admin, 0.0).outcome is Outcome.EXECUTE
    m = limiter.metrics()
    assert m.current_inflight_requests == {"readOnly": 400, "mutating": 200}
    assert m.dropped_requests_total == {"readOnly": 1, "mutating": 1}
    limiter.finish(reads[0].ticket, 1.0)
    assert limiter.admit(user_get("a"), 1.0).outcome is Outcome.EXECUTE


def test_server_concurrency_limit_comes_from_the_inflight_flags():
    apf = new_flow_control(max_requests_inflight=800, max_mutating_requests_inflight=400)
    assert apf.metrics().nominal_limit_seats["workload-low"] == 490  # ceil(1200 * 100 / 245)
