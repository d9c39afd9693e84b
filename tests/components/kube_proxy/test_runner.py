"""The BoundedFrequencyRunner: burst of two, then one run per minInterval; the periodic
timer; deferral to the earlier of the next possible and the periodic run."""

from __future__ import annotations

import pytest

from kubesim.components.kube_proxy.runner import BoundedFrequencyRunner


def drive(runner: BoundedFrequencyRunner, requests: list[float], until: float) -> list[float]:
    """Times the function runs (instantly) when runs are requested at ``requests``; the
    timer fires at ``deadline`` and is handled like a request, as in Loop()."""
    runs: list[float] = []
    pending = sorted(requests)
    while True:
        now = min(pending[0] if pending else until, runner.deadline)
        if now >= until:
            return runs
        if pending and pending[0] == now:
            pending.pop(0)
        if runner.try_run(now):
            runs.append(now)
            runner.ran(now)


def test_burst_of_two_then_one_per_min_interval():
    r = BoundedFrequencyRunner(1.0, 3600.0)
    assert r.try_run(0.0) and r.try_run(0.1)
    r.ran(0.1)
    assert not r.try_run(0.2)
    assert r.deadline == pytest.approx(1.1)  # min_interval after the last run ended
    assert not r.try_run(0.9)  # one token needs a full second since the last accept
    assert r.try_run(1.1)
    r.ran(1.1)
    assert not r.try_run(1.5) and r.deadline == pytest.approx(2.1)


def test_a_stream_of_changes_runs_once_a_second():
    runs = drive(BoundedFrequencyRunner(1.0, 3600.0), [i * 0.05 for i in range(200)], until=60.0)
    # the burst, then the token bucket refills one run per second (continuously, so the
    # third run comes 1 s after the first); the change at 9.95 s runs at 10 s
    assert runs == pytest.approx([0.0, 0.05] + [float(t) for t in range(1, 11)])
    # no change for an hour: the periodic timer runs it
    assert drive(BoundedFrequencyRunner(1.0, 3600.0), [], until=7300.0) == [3600.0, 7200.0]


def test_periodic_timer_and_no_limit_without_min_interval():
    r = BoundedFrequencyRunner(0.0, 30.0)
    assert all(r.try_run(t) for t in (0.0, 0.0, 0.0))
    r.ran(5.0)
    assert r.deadline == 35.0
    with pytest.raises(ValueError):
        BoundedFrequencyRunner(31.0, 30.0)
    with pytest.raises(ValueError):
        BoundedFrequencyRunner(1.0, 0.0)
