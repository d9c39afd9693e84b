"""The kubesim.io annotations that script a container's life."""

from __future__ import annotations

import pytest

from kubesim.components.kubelet.behavior import (
    EXIT_AFTER,
    EXIT_CODE,
    INIT_EXIT_AFTER,
    LIVENESS_FAIL_AFTER,
    READY_AFTER,
    Behavior,
    BehaviorError,
    container_behavior,
    parse_duration,
)


def pod(annotations):
    return {"metadata": {"annotations": annotations}}


def test_durations():
    assert parse_duration("30") == 30.0
    assert parse_duration("1.5") == 1.5
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("1h") == 3600.0
    assert parse_duration("250ms") == 0.25
    for bad in ("", "abc", "5x", "-3", "1m30"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_per_container_override_and_defaults():
    annotations = {EXIT_AFTER: "10s", EXIT_CODE: "0", f"{EXIT_CODE}.worker": "3", READY_AFTER: "2"}
    assert container_behavior(pod(annotations), "web") == Behavior(exit_after=10.0, exit_code=0, ready_after=2.0)
    assert container_behavior(pod(annotations), "worker").exit_code == 3
    assert container_behavior(pod({}), "web") == Behavior()
    assert container_behavior(pod({}), "init", init=True).exit_after == 0.0
    assert container_behavior(pod({INIT_EXIT_AFTER: "4"}), "init", init=True).exit_after == 4.0
    with pytest.raises(BehaviorError, match="kubesim.io/exit-code"):
        container_behavior(pod({EXIT_CODE: "one"}), "web")


def test_probe_outcomes():
    b = container_behavior(pod({READY_AFTER: "5", LIVENESS_FAIL_AFTER: "60"}), "web")
    assert not b.healthy("readiness", 4.9) and b.healthy("readiness", 5.0) and b.healthy("readiness", 1000)
    assert b.healthy("liveness", 59.9) and not b.healthy("liveness", 60.0)
    assert b.outcome_changes("liveness") == [5.0, 60.0]
    assert b.outcome_changes("readiness") == [5.0]
