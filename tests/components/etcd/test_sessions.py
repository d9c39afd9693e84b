"""Applied-request sessions: a proposal appended twice applies once, on every member alike."""

from __future__ import annotations

from kubesim.components.etcd.sessions import WINDOW, AppliedRequests, request_id


def test_a_request_applies_once_per_proposer():
    seen = AppliedRequests()
    assert seen.first_time(1, request_id(0, 5))
    assert not seen.first_time(1, request_id(0, 5))  # the duplicate
    assert seen.first_time(2, request_id(0, 5))  # another proposer's request 5
    assert seen.first_time(1, request_id(0, 4))  # committed out of order: still the first time


def test_ids_stay_unique_across_a_proposers_restarts():
    seen = AppliedRequests()
    assert seen.first_time(1, request_id(0, 1))
    assert seen.first_time(1, request_id(1, 1))  # after a restart its counter starts again
    assert request_id(1, 1) > request_id(0, 10**9)


def test_requests_far_below_the_window_count_as_applied():
    seen = AppliedRequests()
    assert seen.first_time(1, request_id(2, 1))
    assert not seen.first_time(1, request_id(2, 1) - WINDOW)


def test_the_table_survives_a_snapshot():
    seen = AppliedRequests()
    for i in range(1, 50):
        seen.first_time(3, request_id(0, i))
    restored = AppliedRequests.from_wire(seen.to_wire())
    assert not restored.first_time(3, request_id(0, 7))
    assert restored.first_time(3, request_id(0, 50))
