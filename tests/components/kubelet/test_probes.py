"""Prober workers: thresholds, initial delay, hold after a liveness failure, and the
skipping of uneventful ticks checked against a tick-by-tick model; then readiness,
liveness and startup probes on whole pods."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.components.kubelet import behavior
from kubesim.components.kubelet.behavior import Behavior
from kubesim.components.kubelet.probes import (
    FAILURE,
    LIVENESS,
    READINESS,
    STARTUP,
    SUCCESS,
    UNKNOWN,
    ContainerView,
    ProbeSpec,
    ProbeWorker,
)

from .helpers import Node, container


def naive_changes(kind: str, spec: ProbeSpec, beh: Behavior, anchor: float, view: ContainerView,
                  until: float) -> list[tuple[float, str]]:
    """doProbe at every tick, literally: (time, new result) whenever the result changes."""
    result, last, run, hold = {STARTUP: UNKNOWN, READINESS: FAILURE, LIVENESS: SUCCESS}[kind], "", 0, False
    out = []
    k = 0
    while anchor + k * spec.period <= until:
        t = anchor + k * spec.period
        k += 1
        if hold or math.floor(t - view.started_at) < spec.initial_delay:
            continue
        if (kind == STARTUP) == view.started:
            continue
        outcome = SUCCESS if beh.healthy(kind, t - view.started_at) else FAILURE
        run = run + 1 if outcome == last else 1
        last = outcome
        threshold = spec.success_threshold if outcome == SUCCESS else spec.failure_threshold
        if run >= threshold and result != outcome:
            result = outcome
            out.append((t, outcome))
            if outcome == FAILURE and kind in (LIVENESS, STARTUP):
                hold, run = True, 0
    return out


def driven_changes(worker: ProbeWorker, until: float) -> list[tuple[float, str]]:
    out = []
    while True:
        due = worker.next_due()
        if due is None or due > until:
            return out
        at = worker.advance(due)
        assert at == due
        out.append((at, worker.result))


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([STARTUP, READINESS, LIVENESS]),
    period=st.sampled_from([1.0, 2.0, 5.0, 10.0]),
    delay=st.integers(0, 20),
    success=st.integers(1, 3),
    failure=st.integers(1, 4),
    ready_after=st.sampled_from([0.0, 3.0, 12.5, 40.0]),
    fail_after=st.sampled_from([None, 20.0, 61.0]),
    started_at=st.sampled_from([0.0, 0.75, 7.3]),
)
def test_skipping_ticks_gives_the_same_results_as_probing_every_tick(
        kind, period, delay, success, failure, ready_after, fail_after, started_at):
    spec = ProbeSpec(delay, period, success, failure)
    beh = Behavior(ready_after=ready_after,
                   readiness_fail_after=fail_after if kind == READINESS else None,
                   liveness_fail_after=fail_after if kind == LIVENESS else None)
    view = ContainerView("containerd://c1", True, started_at, kind != STARTUP, False)
    worker = ProbeWorker(kind, spec, beh, 0.0, never_restart=False)
    worker.observe(view)
    assert driven_changes(worker, 300.0) == naive_changes(kind, spec, beh, 0.0, view, 300.0)


def test_readiness_threshold_and_manual_trigger():
    spec = ProbeSpec(initial_delay=0, period=10.0, success_threshold=2, failure_threshold=3)
    worker = ProbeWorker(READINESS, spec, Behavior(readiness_fail_after=35.0), anchor=0.0, never_restart=False)
    assert worker.observe(ContainerView("c1", True, 2.0, True, False))
    assert worker.result == FAILURE
    assert worker.probe_now(2.0) is False  # one success of two needed
    assert worker.next_due() == 10.0
    assert worker.advance(10.0) == 10.0 and worker.result == SUCCESS
    # fails from t = 37: ticks 40, 50, 60 -> Failure at 60
    assert worker.next_due() == 60.0
    assert worker.advance(59.0) is None and worker.result == SUCCESS
    assert worker.advance(60.0) == 60.0 and worker.result == FAILURE


def test_liveness_failure_holds_until_a_new_container():
    spec = ProbeSpec(period=5.0, failure_threshold=2)
    worker = ProbeWorker(LIVENESS, spec, Behavior(liveness_fail_after=10.0), anchor=0.0, never_restart=False)
    worker.observe(ContainerView("c1", True, 0.0, True, False))
    assert worker.next_due() == 15.0
    worker.advance(15.0)
    assert worker.result == FAILURE and worker.on_hold
    assert worker.next_due() is None
    assert worker.observe(ContainerView("c2", True, 20.0, True, False))  # restarted: Success again
    assert worker.result == SUCCESS and not worker.on_hold
    assert worker.next_due() == 35.0


def test_not_running_container_fails_readiness_and_stops_for_restart_never():
    worker = ProbeWorker(READINESS, ProbeSpec(), Behavior(), anchor=0.0, never_restart=True)
    worker.observe(ContainerView("c1", True, 0.0, True, False))
    assert worker.advance(0.0) == 0.0 and worker.result == SUCCESS
    worker.observe(ContainerView("c1", False, 0.0, True, True))
    assert worker.next_due() == 10.0
    worker.advance(10.0)
    assert worker.result == FAILURE and worker.stopped


def test_probe_spec_defaults():
    assert ProbeSpec.of({"readinessProbe": {"httpGet": {"port": 80}}}, READINESS) == ProbeSpec(0, 10.0, 1, 3)
    assert ProbeSpec.of({}, LIVENESS) is None


def probe(**fields):
    return {"httpGet": {"path": "/", "port": 8080}, **fields}


def test_pod_becomes_ready_when_the_app_answers():
    node = Node()
    node.add(node.pod("web", [container(readinessProbe=probe(periodSeconds=5))],
                      annotations={behavior.READY_AFTER: "12"}))
    node.run_until_true(lambda: node.phase("web") == "Running")
    assert node.container_status("web")["ready"] is False
    started = node.worker("web").slots["app"].cur.started_at
    node.run_until(60.0)
    became = node.first("web", lambda s: s["containerStatuses"][0]["ready"])
    # probes tick every 5 s from the pod's first sync (t=0); the app answers from start+12
    assert became == math.ceil((started + 12) / 5) * 5
    ready = next(c for c in node.status("web")["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["lastTransitionTime"] == "1970-01-01T00:00:20Z"


def test_readiness_failure_makes_the_pod_unready_without_restart():
    node = Node()
    node.add(node.pod("web", [container(readinessProbe=probe(periodSeconds=10, failureThreshold=3))],
                      annotations={behavior.READINESS_FAIL_AFTER: "60"}))
    node.run_until(200.0)
    status = node.status("web")
    assert node.container_status("web")["ready"] is False
    assert node.container_status("web")["restartCount"] == 0
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    started = node.worker("web").slots["app"].cur.started_at
    went = next(t for t, n, s in node.history
                if n == "web" and t > started + 60 and not s["containerStatuses"][0]["ready"])
    # fails from start+60; the third failing tick (10 s apart) flips it
    assert went == math.ceil((started + 60) / 10) * 10 + 20


def test_failing_liveness_probe_restarts_the_container():
    node = Node()
    node.add(node.pod("live", [container(livenessProbe=probe(periodSeconds=10, failureThreshold=3))],
                      annotations={behavior.LIVENESS_FAIL_AFTER: "30"}, terminationGracePeriodSeconds=10))
    node.run_until_true(lambda: node.phase("live") == "Running")
    first = node.worker("live").slots["app"].cur
    node.run_until_true(lambda: node.container_status("live")["restartCount"] == 1, limit=200)
    slot = node.worker("live").slots["app"]
    killed = slot.prev
    assert killed.id == first.id
    # three failures 10 s apart from start+30, then the kill (SIGTERM: exits at once, code 0)
    fail_time = math.ceil((first.started_at + 30) / 10) * 10 + 20
    assert fail_time <= killed.finished_at <= fail_time + 1.0
    assert killed.exit_code == 0
    app = node.container_status("live")
    assert app["lastState"]["terminated"]["containerID"] == first.id
    assert node.phase("live") == "Running"


def test_startup_probe_gates_readiness_and_kills_a_slow_starter():
    node = Node()
    startup = probe(periodSeconds=5, failureThreshold=4)
    node.add(node.pod("slow", [container(startupProbe=startup, readinessProbe=probe(periodSeconds=5))],
                      annotations={behavior.READY_AFTER: "12"}))
    node.run_until_true(lambda: node.phase("slow") == "Running")
    assert node.container_status("slow")["started"] is False
    node.run_until_true(lambda: node.container_status("slow")["ready"], limit=100)
    assert node.container_status("slow")["started"] is True
    # an app that never comes up within 4 x 5 s is killed and restarted
    node2 = Node()
    node2.add(node2.pod("never", [container(startupProbe=startup)], annotations={behavior.READY_AFTER: "1000"}))
    node2.run_until_true(lambda: node2.phase("never") == "Running" and
                         node2.container_status("never")["restartCount"] >= 1, limit=200)
    assert node2.container_status("never")["started"] is False
