"""The max-in-flight filter: what kube-apiserver uses when APF is turned off.

Two plain counters, --max-requests-inflight (400) for read-only requests and
--max-mutating-requests-inflight (200) for mutating ones; a request over its limit
is dropped at once with 429 and Retry-After: 1. Long-running requests (watch,
exec, logs, proxy) and members of system:masters are not limited. A limit of 0
means unlimited.
"""

from __future__ import annotations

from .bootstrap import SYSTEM_PRIVILEGED_GROUP
from .metrics import FlowControlMetrics, MetricsRecorder, WaitObservation
from .request import (
    MUTATING,
    READ_ONLY,
    REASON_MAX_IN_FLIGHT,
    Decision,
    Outcome,
    Rejection,
    RequestAttrs,
    Ticket,
)

DEFAULT_MAX_REQUESTS_INFLIGHT = 400
DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200


class MaxInFlightLimiter:
    """Same driver interface as APFController; nothing ever waits in a queue."""

    def __init__(
        self,
        max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
        max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    ) -> None:
        self.limits = {READ_ONLY: max_requests_inflight, MUTATING: max_mutating_requests_inflight}
        self.recorder = MetricsRecorder()
        self._next_ticket = 0

    def admit(self, attrs: RequestAttrs, now: float) -> Decision:
        if attrs.is_long_running or SYSTEM_PRIVILEGED_GROUP in attrs.groups:
            return Decision(Outcome.EXECUTE)
        kind = attrs.request_kind
        limit = self.limits[kind]
        if limit and self.recorder.inflight[kind] >= limit:
            self.recorder.dropped[kind] += 1
            return Decision(Outcome.REJECT, rejection=Rejection(REASON_MAX_IN_FLIGHT))
        self._next_ticket += 1
        ticket = Ticket(self._next_ticket, "", "", "", kind, 1, arrival=now, started=now)
        self.recorder.inflight[kind] += 1
        return Decision(Outcome.EXECUTE, ticket)

    def finish(self, ticket: Ticket, now: float) -> list[Ticket]:
        if ticket.finished:
            raise ValueError(f"ticket {ticket.id} is not executing")
        ticket.finished = True
        self.recorder.inflight[ticket.request_kind] -= 1
        return []

    def expire(self, now: float) -> list[Rejection]:
        return []

    def next_expiry(self) -> float | None:
        return None

    def rebalance(self, now: float) -> list[Ticket]:
        return []

    def metrics(self) -> FlowControlMetrics:
        return self.recorder.snapshot({}, {})

    def drain_wait_observations(self) -> list[WaitObservation]:
        return self.recorder.drain_waits()
