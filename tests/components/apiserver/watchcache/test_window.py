"""The event window: k8s's resizing and which events a watch from a resourceVersion gets."""

from __future__ import annotations

import pytest

from kubesim.components.apiserver.watchcache.window import ADDED, CacheEvent, EventWindow, TooOld


def event(rv: int, t: float) -> CacheEvent:
    return CacheEvent(ADDED, f"/k/{rv}", {}, ({}, {}), None, None, rv, t)


def test_grows_while_full_of_fresh_events_up_to_the_upper_bound():
    window = EventWindow(4, 16, 75.0)
    window.reset(10)
    for rv in range(11, 51):
        window.add(event(rv, rv * 0.1))  # 40 events within 4 s
    assert window.capacity == 16 and len(window) == 16
    assert window.removed_since_relist
    assert [e.resource_version for e in window.since(40)] == list(range(41, 51))


def test_shrinks_when_the_newest_quarter_is_stale():
    window = EventWindow(4, 16, 75.0)
    window.reset(0)
    for rv in range(1, 17):
        window.add(event(rv, 0.0))
    assert window.capacity == 16
    window.add(event(17, 200.0))  # everything is older than 75 s
    assert window.capacity == 8 and len(window) == 8


def test_since_before_any_eviction_reaches_back_to_the_list():
    window = EventWindow(4, 4, 75.0)
    window.reset(100)
    window.add(event(105, 0.0))
    assert [e.resource_version for e in window.since(100)] == [105]
    assert window.since(105) == []
    with pytest.raises(TooOld) as info:
        window.since(98)
    assert str(info.value) == "too old resource version: 98 (100)"


def test_since_after_eviction_needs_the_oldest_kept_event():
    window = EventWindow(2, 2, 75.0)
    window.reset(1)
    for rv in (3, 5, 9):
        window.add(event(rv, 0.0))
    assert [e.resource_version for e in window.since(4)] == [5, 9]
    with pytest.raises(TooOld) as info:
        window.since(3)
    assert (info.value.requested, info.value.oldest) == (3, 4)
