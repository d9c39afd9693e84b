"""The availability figures of the report, from hand-made probe records, and the load
balancer's health-check state machine."""

from __future__ import annotations

import pytest

from kubesim.cluster import availability as av
from kubesim.cluster.balancer import Balancer

W = 0


def reqs(*items: tuple[float, float, int]) -> list[list]:
    """Probe records from (sent, latency, code)."""
    return [[W, sent, sent + latency, code, "apiserver/apiserver-0"] for sent, latency, code in items]


def test_per_second_share_counts_by_second_sent():
    requests = av.of_kind(reqs((0.1, 0.01, 200), (0.6, 0.01, 504), (1.2, 5.0, 200), (2.5, 0.1, 0)), W)
    assert av.per_second(requests, 3.0) == [[0, 2, 1, 0.5], [1, 1, 1, 1.0], [2, 1, 0, 0.0]]
    assert av.share(requests, 0.0, 3.0) == 0.5
    assert av.share(requests, 5.0, 6.0) is None


def test_outage_needs_a_second_of_nothing_but_failures_and_ends_at_the_next_answer():
    # a dead replica in the rotation: every third request fails -> disrupted, not unavailable
    rotation = [(t / 10, 0.01, 0 if i % 3 == 0 else 200) for i, t in enumerate(range(0, 30))]
    requests = av.of_kind(reqs(*rotation), W)
    assert av.outages(requests) == []
    [window] = av.disruptions(requests)
    assert window.start == 0.0 and window.failed == 10 and window.end == pytest.approx(2.81)
    # quorum lost from 3 s to 6 s; a request sent at 5.5 s waits and is answered at 6.2 s
    outage = [(3.0 + t / 10, 0.0, 504) for t in range(25)] + [(5.5, 0.7, 200), (6.5, 0.01, 200)]
    requests = av.of_kind(reqs((1.0, 0.01, 200), *outage), W)
    [window] = av.outages(requests)
    assert (window.start, window.end, window.failed) == (3.0, pytest.approx(6.2), 25)


def test_outage_open_at_the_end_of_the_run():
    requests = av.of_kind(reqs((0.5, 0.01, 200), (1.0, 10.0, 0), (2.0, 10.0, 0)), W)
    [window] = av.outages(requests)
    assert window.end is None and window.length(30.0) == 29.0
    rec = av.recovery(av.outages(requests), av.disruptions(requests), 1.0, 30.0, 30.0, slack=1.0)
    assert rec["time_to_recover"] is None and rec["unavailable_seconds"] == 29.0


def test_recovery_only_counts_windows_the_fault_caused():
    requests = av.of_kind(reqs((1.0, 0.0, 0), (1.5, 0.0, 0), (2.6, 0.01, 200),
                               (20.0, 0.0, 0), (21.5, 0.01, 200)), W)
    out, dis = av.outages(requests), av.disruptions(requests)
    rec = av.recovery(out, dis, 19.5, 40.0, 40.0, slack=1.0)
    assert rec["failed_requests"] == 1 and rec["time_to_recover"] == pytest.approx(2.01)
    assert rec["unavailable_seconds"] == pytest.approx(1.51)
    assert av.recovery(out, dis, 30.0, 40.0, 40.0, slack=1.0)["time_to_recover"] == 0.0


def test_percentile_nearest_rank():
    assert av.percentile([], 0.5) is None
    assert av.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert av.percentile(list(range(1, 101)), 0.99) == 99


def test_balancer_takes_a_backend_out_after_fall_and_back_after_rise():
    lb = Balancer(["a", "b", "c"], rise=2, fall=3)
    assert [lb.pick() for _ in range(4)] == ["a", "b", "c", "a"]
    assert lb.check_result("b", False) is None and lb.check_result("b", False) is None
    assert lb.check_result("b", False) is False
    assert lb.up() == ["a", "c"]
    assert {lb.pick() for _ in range(4)} == {"a", "c"}
    assert lb.check_result("b", True) is None
    assert lb.check_result("b", False) is None  # a failure resets the rise count
    assert lb.check_result("b", True) is None and lb.check_result("b", True) is True
    for name in ("a", "b", "c"):
        for _ in range(3):
            lb.check_result(name, False)
    assert lb.pick() is None
