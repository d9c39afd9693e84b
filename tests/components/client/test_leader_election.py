"""Leader election over a Lease: the pure elector with exact timings, and the driver on sim."""

from __future__ import annotations

import copy
import heapq
from typing import Any

import pytest

from kubesim.components.client.leader_election import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    LeaderElector,
    micro_time,
    run_leader_election,
)
from kubesim.runtime import Actor, ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime

LD, RD, RP = LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD


class LeaseStore:
    """The apiserver's side of one Lease: create-if-absent, update-if-resourceVersion-matches."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self._rv = 0

    def get(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.lease)

    def write(self, lease: dict[str, Any], create: bool) -> bool:
        if create:
            if self.lease is not None:
                return False  # AlreadyExists
        elif self.lease is None or (
            lease["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]
        ):
            return False  # Conflict
        self._rv += 1
        self.lease = copy.deepcopy(lease)
        self.lease["metadata"]["resourceVersion"] = str(self._rv)
        return True


def attempt(elector: LeaderElector, store: LeaseStore, now: float, reachable: bool = True) -> bool:
    """One tryAcquireOrRenew round trip: read, decide, write, report."""
    if not reachable:
        return elector.record_result(now, None)
    current = store.get()
    desired = elector.try_acquire_or_renew(now, current)
    ok = desired is not None and store.write(desired, current is None)
    return elector.record_result(now, desired if ok else None)


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float | str]] = []
        self.t = 0.0

    def elector(self, identity: str) -> LeaderElector:
        return LeaderElector(
            identity,
            "kube-scheduler",
            on_started_leading=lambda: self.events.append(("started", identity, self.t)),
            on_stopped_leading=lambda: self.events.append(("stopped", identity, self.t)),
            on_new_leader=lambda who: self.events.append(("new_leader", identity, who)),
        )

    def when(self, kind: str, identity: str) -> float:
        return next(t for k, i, t in self.events if k == kind and i == identity)


def simulate(
    log: Log,
    store: LeaseStore,
    offsets: dict[str, float],
    until: float,
    crash: dict[str, float] | None = None,
    cut: dict[str, float] | None = None,
) -> dict[str, LeaderElector]:
    """Run electors on one virtual clock with run_leader_election's timing (no jitter).

    Elector i first tries at offsets[i]; crash[i]: its process is dead from then on;
    cut[i]: it cannot reach the apiserver from then on. Asserts that at most one live
    elector leads after every step, and returns the electors.
    """
    crash, cut = crash or {}, cut or {}
    electors = {name: log.elector(name) for name in offsets}
    timers = [(t, name) for name, t in offsets.items()]
    heapq.heapify(timers)
    while timers:
        now, name = heapq.heappop(timers)
        if now > until or now >= crash.get(name, float("inf")):
            continue
        log.t = now
        el = electors[name]
        if el.leading and not el.check(now):
            continue  # lost leadership while waiting: Run returns
        was_leading = el.leading
        attempt(el, store, now, reachable=now < cut.get(name, float("inf")))
        live = [n for n, e in electors.items() if e.leading and now < crash.get(n, float("inf"))]
        assert len(live) <= 1, f"two leaders at t={now}: {live}"
        if was_leading and not el.leading:
            continue
        delay = el.retry_period
        if el.renew_deadline_at is not None:
            delay = min(delay, el.renew_deadline_at - now)
        heapq.heappush(timers, (now + delay, name))
    return electors


def test_micro_time_is_rfc3339_with_microseconds():
    assert micro_time(0.0) == "1970-01-01T00:00:00.000000Z"
    assert micro_time(1.5, epoch=1_700_000_000) == "2023-11-14T22:13:21.500000Z"
    assert micro_time(0.000001) == "1970-01-01T00:00:00.000001Z"


def test_first_candidate_creates_the_lease_then_renews_it():
    log, store = Log(), LeaseStore()
    a = log.elector("a")
    assert attempt(a, store, 0.0)
    assert a.leading and a.is_leader and a.leader == "a"
    assert store.lease == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kube-scheduler", "namespace": "kube-system", "resourceVersion": "1"},
        "spec": {
            "holderIdentity": "a",
            "leaseDurationSeconds": 15,
            "acquireTime": "1970-01-01T00:00:00.000000Z",
            "renewTime": "1970-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }
    assert log.events == [("new_leader", "a", "a"), ("started", "a", 0.0)]
    assert attempt(a, store, 2.0)
    spec = store.lease["spec"]
    assert spec["acquireTime"] == "1970-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "1970-01-01T00:00:02.000000Z"
    assert spec["leaseTransitions"] == 0
    assert store.lease["metadata"]["resourceVersion"] == "2"
    assert len(log.events) == 2  # no new callbacks on renew


def test_standby_stands_by_while_the_lease_is_fresh():
    log, store = Log(), LeaseStore()
    a, b = log.elector("a"), log.elector("b")
    attempt(a, store, 0.0)
    for t in (0.5, 2.5, 4.5):
        attempt(a, store, t - 0.5)
        assert not attempt(b, store, t)
    assert not b.leading and b.leader == "a" and not b.is_leader
    assert ("new_leader", "b", "a") in log.events


def test_simultaneous_creates_one_wins():
    log, store = Log(), LeaseStore()
    a, b = log.elector("a"), log.elector("b")
    lease_a, lease_b = store.get(), store.get()
    want_a = a.try_acquire_or_renew(0.0, lease_a)
    want_b = b.try_acquire_or_renew(0.0, lease_b)
    assert store.write(want_a, True)
    assert not store.write(want_b, True)
    a.record_result(0.0, want_a)
    b.record_result(0.0, None)
    assert a.leading and not b.leading
    assert not attempt(b, store, 2.0)


def test_stale_update_conflicts():
    log, store = Log(), LeaseStore()
    a, b = log.elector("a"), log.elector("b")
    attempt(a, store, 0.0)
    seen_by_b = store.get()
    attempt(a, store, 2.0)  # a renews after b read
    want_b = b.try_acquire_or_renew(20.0, seen_by_b)  # b thinks it expired (first sight)
    assert want_b is None  # first observation starts b's own LeaseDuration wait
    want_b = b.try_acquire_or_renew(36.0, seen_by_b)
    assert want_b is not None and not store.write(want_b, False)


@pytest.mark.parametrize("offset", [0.1, 0.5, 1.0, 1.5, 1.9])
def test_takeover_after_holder_dies_between_lease_duration_and_one_retry_more(offset):
    log, store = Log(), LeaseStore()
    simulate(log, store, {"a": 0.0, "b": offset}, until=60.0, crash={"a": 20.0 + offset / 2})
    last_renew = 20.0  # a renews every 2 s from 0 and dies just after t=20
    seen = last_renew + offset  # b's first poll after it: when b saw the record change
    took_over = log.when("started", "b")
    assert LD <= took_over - seen <= LD + RP
    assert LD <= took_over - last_renew <= LD + RP + offset
    spec = store.lease["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == micro_time(took_over)  # renewTime has moved on since
    assert ("new_leader", "b", "b") in log.events


def test_observed_time_not_renew_time_decides():
    """A candidate that starts late waits a full LeaseDuration of its own time,
    even if the record's renewTime is long past (clock skew tolerance)."""
    log, store = Log(), LeaseStore()
    a = log.elector("a")
    attempt(a, store, 0.0)  # renewTime = 0, then a dies
    b = log.elector("b")
    assert not attempt(b, store, 100.0)  # first sight at 100: wait until 115
    assert not attempt(b, store, 114.9)
    assert attempt(b, store, 115.0)


def test_holder_that_cannot_renew_steps_down_by_renew_deadline():
    log, store = Log(), LeaseStore()
    electors = simulate(log, store, {"a": 0.0, "b": 0.5}, until=80.0, cut={"a": 21.0})
    # a renewed at 20; its attempts from 22 on fail; it gives up RenewDeadline later
    first_failure = 22.0
    stopped = log.when("stopped", "a")
    assert stopped == first_failure + RD
    took_over = log.when("started", "b")
    assert stopped < took_over
    assert LD <= took_over - 20.5 <= LD + RP
    assert not electors["a"].leading and electors["b"].leading
    assert store.lease["spec"]["leaseTransitions"] == 1


def test_deadline_counts_from_the_start_of_the_failing_attempt():
    log, store = Log(), LeaseStore()
    a = log.elector("a")
    attempt(a, store, 0.0)
    a.record_result(12.0, None, started=2.0)  # a renewal that hung from 2 to 12
    assert not a.leading
    assert log.events[-1] == ("stopped", "a", 0.0)


def test_leader_that_sees_another_holder_keeps_leading_until_the_deadline():
    log, store = Log(), LeaseStore()
    a = log.elector("a")
    attempt(a, store, 0.0)
    stolen = store.get()
    stolen["spec"]["holderIdentity"] = "intruder"
    store.write(stolen, False)
    assert not attempt(a, store, 2.0)
    assert a.leader == "intruder" and not a.is_leader
    assert ("new_leader", "a", "intruder") in log.events
    assert a.leading and a.renew_deadline_at == 12.0
    assert a.check(11.9)
    assert not a.check(12.0)


def test_invalid_timings_are_refused():
    with pytest.raises(ValueError):
        LeaderElector("a", "l", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElector("a", "l", renew_deadline=2.4, retry_period=2)


# the async driver on the sim runtime ----------------------------------------------------

SERVER = Address("test", "lease-server")


class LeaseServer(Actor):
    def __init__(self) -> None:
        self.store = LeaseStore()

    def receive(self, sender: Address, message: Any) -> Any:
        if message["op"] == "get":
            return self.store.get()
        return self.store.write(message["lease"], message["create"])


class Candidate(Actor):
    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.log: list[tuple[str, float]] = []
        self.finished_at: float | None = None

    def on_start(self) -> Any:
        self.elector = LeaderElector(
            self.identity,
            "kube-scheduler",
            on_started_leading=lambda: self.log.append(("started", self.ctx.now())),
            on_stopped_leading=lambda: self.log.append(("stopped", self.ctx.now())),
        )
        return self._run()

    async def _run(self) -> None:
        await run_leader_election(self.ctx, self._get, self._write, self.elector)
        self.finished_at = self.ctx.now()

    async def _get(self) -> Any:
        return await self.ctx.call(SERVER, {"op": "get"}, timeout=1.0)

    async def _write(self, lease: dict, create: bool) -> bool:
        return await self.ctx.call(
            SERVER, {"op": "write", "lease": lease, "create": create}, timeout=1.0
        )


def _cluster(rt: SimRuntime) -> None:
    for machine in ("m0", "m1", "m2"):
        rt.add_machine(Machine(machine, zone="z1"))
    rt.spawn(ActorSpec(SERVER, LeaseServer, "m0"))
    for name, machine in (("a", "m1"), ("b", "m2")):
        rt.spawn(ActorSpec(Address("test", name), Candidate, machine, kwargs={"identity": name}))


def _candidates(rt: SimRuntime) -> dict[str, tuple[Candidate, str]]:
    return {n: (rt.actor(Address("test", n)), m) for n, m in (("a", "m1"), ("b", "m2"))}


def _leader(rt: SimRuntime) -> tuple[str, str]:
    leading = [(n, m) for n, (c, m) in _candidates(rt).items() if c.elector.leading]
    assert len(leading) == 1
    return leading[0]


def test_driver_standby_takes_over_after_leader_crash():
    with SimRuntime(seed=5) as rt:
        _cluster(rt)
        rt.run_for(30)
        leader, machine = _leader(rt)
        other = "b" if leader == "a" else "a"
        standby = rt.actor(Address("test", other))
        assert standby.log == []
        rt.crash_machine(machine)
        rt.run_for(30)
        took_over = standby.log[0]
        assert took_over[0] == "started"
        # the dead leader renewed at most ~RP before the crash; jitter stretches retries to 2.2 RP
        assert LD - RP - 0.5 <= took_over[1] - 30 <= LD + RP * 2.2 + 0.5
        assert rt.actor(SERVER).store.lease["spec"]["holderIdentity"] == other


def test_driver_partitioned_leader_steps_down_before_standby_takes_over():
    with SimRuntime(seed=9) as rt:
        _cluster(rt)
        rt.run_for(30)
        leader, machine = _leader(rt)
        other = "b" if leader == "a" else "a"
        rt.partition([machine], ["m0"])
        rt.run_for(40)
        old = rt.actor(Address("test", leader))
        new = rt.actor(Address("test", other))
        stopped = old.log[-1]
        assert stopped[0] == "stopped"
        assert stopped[1] - 30 <= RP + RD + 0.5
        assert old.finished_at == stopped[1]  # Run returns once leadership is lost
        assert new.log and new.log[0][0] == "started"
        assert stopped[1] < new.log[0][1]
