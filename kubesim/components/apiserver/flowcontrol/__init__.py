"""kube-apiserver request admission: API Priority and Fairness (default) or max-in-flight.

Pure and I/O-free: the caller passes `now` to every call and exports the metric values.
`new_flow_control()` builds what a kube-apiserver 1.32 with default flags runs.
"""

from __future__ import annotations

from typing import Protocol

from .apf import DEFAULT_REQUEST_WAIT_LIMIT, APFController
from .borrowing import BORROWING_ADJUSTMENT_PERIOD
from .maxinflight import (
    DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    DEFAULT_MAX_REQUESTS_INFLIGHT,
    MaxInFlightLimiter,
)
from .metrics import FlowControlMetrics, WaitObservation
from .request import Decision, Outcome, Rejection, RequestAttrs, Ticket

__all__ = [
    "APFController", "BORROWING_ADJUSTMENT_PERIOD", "Decision", "FlowControl", "FlowControlMetrics",
    "MaxInFlightLimiter", "Outcome", "RequestAttrs", "Rejection", "Ticket", "WaitObservation",
    "new_flow_control",
]


class FlowControl(Protocol):
    """The interface both admission modes offer their driver."""

    def admit(self, attrs: RequestAttrs, now: float) -> Decision: ...
    def finish(self, ticket: Ticket, now: float) -> list[Ticket]: ...
    def expire(self, now: float) -> list[Rejection]: ...
    def next_expiry(self) -> float | None: ...
    def rebalance(self, now: float) -> list[Ticket]: ...
    def metrics(self) -> FlowControlMetrics: ...
    def drain_wait_observations(self) -> list[WaitObservation]: ...


def new_flow_control(
    now: float = 0.0,
    enable_priority_and_fairness: bool = True,
    max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    request_timeout: float = 4 * DEFAULT_REQUEST_WAIT_LIMIT,
) -> FlowControl:
    """APF with ServerCL = the sum of both in-flight flags, or the max-in-flight filter."""
    if enable_priority_and_fairness:
        return APFController(
            now, max_requests_inflight + max_mutating_requests_inflight, request_timeout / 4
        )
    return MaxInFlightLimiter(max_requests_inflight, max_mutating_requests_inflight)
