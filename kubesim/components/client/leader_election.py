"""client-go's leader election (tools/leaderelection) over a coordination.k8s.io/v1 Lease.

`LeaderElector` is pure: given the Lease it just read (or None) and `now` it decides
whether to write a Lease (acquire or renew) or stand by; the caller does the write and
reports the outcome with `record_result`. As in client-go:
- a candidate trusts its own clock only: it takes over once it has seen the lease record
  unchanged for leaseDurationSeconds of *its* time (observedTime), never by reading
  renewTime;
- the leader renews every RetryPeriod; once a renewal fails it keeps retrying, and if none
  succeeds within RenewDeadline of the first failure it stops leading;
- a takeover increments leaseTransitions; a renewal keeps acquireTime and leaseTransitions.
client-go's optimistic fast path for the leader (an update without a fresh get) and
ReleaseOnCancel are not modelled.

`run_leader_election` drives an elector from an actor with the runtime's timers only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kubesim.api.copying import deep_copy
from kubesim.runtime.context import Context
from kubesim.runtime.errors import RuntimeErrorBase

LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
#: wait.JitterUntil factor of the acquire loop: a candidate retries every RetryPeriod * [1, 2.2).
JITTER_FACTOR = 1.2

Lease = dict[str, Any]


def micro_time(t: float, epoch: float = 0.0) -> str:
    """metav1.MicroTime in JSON: RFC 3339 in UTC with microseconds, for sim time `t`.

    `epoch` is the Unix time that sim time 0 stands for.
    """
    stamp = datetime.fromtimestamp(epoch + t, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(lease: Lease) -> dict[str, Any]:
    """The LeaderElectionRecord a Lease carries (LeaseSpecToLeaderElectionRecord)."""
    spec = lease.get("spec") or {}
    return {
        "holderIdentity": spec.get("holderIdentity") or "",
        "leaseDurationSeconds": int(spec.get("leaseDurationSeconds") or 0),
        "acquireTime": spec.get("acquireTime"),
        "renewTime": spec.get("renewTime"),
        "leaseTransitions": int(spec.get("leaseTransitions") or 0),
    }


class LeaderElector:
    """One candidate's view of the election and its decisions (client-go's LeaderElector)."""

    def __init__(
        self,
        identity: str,
        lease_name: str,
        namespace: str = "kube-system",
        *,
        lease_duration: float = LEASE_DURATION,
        renew_deadline: float = RENEW_DEADLINE,
        retry_period: float = RETRY_PERIOD,
        epoch: float = 0.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")
        self.identity = identity
        self.lease_name = lease_name
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.epoch = epoch
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        #: between on_started_leading and on_stopped_leading.
        self.leading = False
        self._observed: dict[str, Any] | None = None
        self._observed_time = 0.0
        self._reported_leader = ""
        self._failing_since: float | None = None

    @property
    def leader(self) -> str:
        """The holder of the last observed record ("" if none)."""
        return self._observed["holderIdentity"] if self._observed else ""

    @property
    def is_leader(self) -> bool:
        """Whether the last observed record names this candidate (client-go's IsLeader)."""
        return self.leader == self.identity

    @property
    def renew_deadline_at(self) -> float | None:
        """While leading and failing to renew: when leadership will be given up."""
        if not self.leading or self._failing_since is None:
            return None
        return self._failing_since + self.renew_deadline

    def try_acquire_or_renew(self, now: float, lease: Lease | None) -> Lease | None:
        """The Lease to create (if `lease` is None) or update, or None to stand by.

        An update is `lease` with a new spec, so it carries the resourceVersion that was
        read and fails with a conflict if someone wrote in between.
        """
        stamp = micro_time(now, self.epoch)
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        }
        if lease is None:
            return {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.lease_name, "namespace": self.namespace},
                "spec": spec,
            }
        old = _record(lease)
        if old != self._observed:
            self._observed = old
            self._observed_time = now
        if old["holderIdentity"] and self._lease_valid(now) and not self.is_leader:
            return None
        if self.is_leader:
            spec["acquireTime"] = old["acquireTime"]
            spec["leaseTransitions"] = old["leaseTransitions"]
        else:
            spec["leaseTransitions"] = old["leaseTransitions"] + 1
        desired = deep_copy(lease)
        desired["spec"] = {k: v for k, v in spec.items() if v is not None}
        return desired

    def record_result(
        self, now: float, written: Lease | None, started: float | None = None
    ) -> bool:
        """Report an attempt that began at `started` (default `now`): the Lease that was
        written, or None (stood by, or the read or the write failed).

        Fires on_started_leading on the first success, on_new_leader when the observed
        holder changes, and on_stopped_leading once the renew deadline has passed.
        Returns whether the attempt succeeded.
        """
        if written is not None:
            self._observed = _record(written)
            self._observed_time = now
            self._failing_since = None
        elif self.leading and self._failing_since is None:
            self._failing_since = now if started is None else started
        self._report_transition()
        if written is not None and not self.leading:
            self.leading = True
            if self.on_started_leading is not None:
                self.on_started_leading()
        self.check(now)
        return written is not None

    def check(self, now: float) -> bool:
        """Stop leading if the renew deadline has passed; returns whether still leading."""
        deadline = self.renew_deadline_at
        if deadline is not None and now >= deadline:
            self.leading = False
            self._failing_since = None
            if self.on_stopped_leading is not None:
                self.on_stopped_leading()
        return self.leading

    def _lease_valid(self, now: float) -> bool:
        duration = self._observed["leaseDurationSeconds"] if self._observed else 0
        return self._observed_time + duration > now

    def _report_transition(self) -> None:
        if self.leader == self._reported_leader:
            return
        self._reported_leader = self.leader
        if self.on_new_leader is not None:
            self.on_new_leader(self._reported_leader)


async def run_leader_election(
    ctx: Context,
    get_lease: Callable[[], Awaitable[Lease | None]],
    write_lease: Callable[[Lease, bool], Awaitable[bool]],
    elector: LeaderElector,
    jitter: float = JITTER_FACTOR,
) -> None:
    """client-go's LeaderElector.Run on the runtime's clock; returns once leadership is lost.

    `get_lease()` returns the Lease or None if it does not exist; `write_lease(lease,
    create)` creates or updates it and returns False on a conflict or error. Runtime
    errors (timeouts, remote errors) count as a failed attempt. Candidates retry every
    RetryPeriod * (1 + jitter * U[0,1)) with `ctx.random`; the leader every RetryPeriod.
    """
    was_leading = False
    while True:
        started = ctx.now()
        written: Lease | None = None
        try:
            current = await get_lease()
            desired = elector.try_acquire_or_renew(ctx.now(), current)
            if desired is not None and await write_lease(desired, current is None):
                written = desired
        except RuntimeErrorBase:
            written = None
        elector.record_result(ctx.now(), written, started)
        if was_leading and not elector.leading:
            return
        was_leading = elector.leading
        delay = elector.retry_period
        if not elector.leading:
            delay *= 1.0 + jitter * ctx.random.random()
        deadline = elector.renew_deadline_at
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - ctx.now()))
        await ctx.sleep(delay)
        if not elector.check(ctx.now()) and was_leading:
            return
