"""Flow-control metric values as plain data; the caller exports them to Prometheus.

Keys are label-value tuples in the order of the real metric's labels:
- apiserver_flowcontrol_current_inqueue_requests{priority_level, flow_schema}
- apiserver_flowcontrol_current_executing_requests{priority_level, flow_schema}
- apiserver_flowcontrol_rejected_requests_total{priority_level, flow_schema, reason}
- apiserver_flowcontrol_dispatched_requests_total{priority_level, flow_schema}
- apiserver_flowcontrol_nominal_limit_seats{priority_level}
- apiserver_flowcontrol_current_limit_seats{priority_level}
- apiserver_current_inflight_requests{request_kind}
- apiserver_dropped_requests_total{request_kind} (max-in-flight mode)
- apiserver_flowcontrol_request_wait_duration_seconds{priority_level, flow_schema, execute}
  as individual observations, drained by the caller into its histogram.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .request import MUTATING, READ_ONLY


@dataclass(frozen=True)
class WaitObservation:
    priority_level: str
    flow_schema: str
    execute: bool
    seconds: float


@dataclass
class FlowControlMetrics:
    """A snapshot of every flow-control gauge and counter."""

    current_inqueue_requests: dict[tuple[str, str], int] = field(default_factory=dict)
    current_executing_requests: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected_requests_total: dict[tuple[str, str, str], int] = field(default_factory=dict)
    dispatched_requests_total: dict[tuple[str, str], int] = field(default_factory=dict)
    nominal_limit_seats: dict[str, int] = field(default_factory=dict)
    current_limit_seats: dict[str, int] = field(default_factory=dict)
    current_inflight_requests: dict[str, int] = field(default_factory=dict)
    dropped_requests_total: dict[str, int] = field(default_factory=dict)


class MetricsRecorder:
    """Mutable counters behind `FlowControlMetrics` snapshots."""

    def __init__(self) -> None:
        self.inqueue: Counter[tuple[str, str]] = Counter()
        self.executing: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[tuple[str, str, str]] = Counter()
        self.dispatched: Counter[tuple[str, str]] = Counter()
        self.inflight: Counter[str] = Counter({READ_ONLY: 0, MUTATING: 0})
        self.dropped: Counter[str] = Counter()
        self.waits: list[WaitObservation] = []

    def drain_waits(self) -> list[WaitObservation]:
        waits, self.waits = self.waits, []
        return waits

    def snapshot(self, nominal: dict[str, int], current: dict[str, int]) -> FlowControlMetrics:
        return FlowControlMetrics(
            current_inqueue_requests=dict(self.inqueue),
            current_executing_requests=dict(self.executing),
            rejected_requests_total=dict(self.rejected),
            dispatched_requests_total=dict(self.dispatched),
            nominal_limit_seats=dict(nominal),
            current_limit_seats=dict(current),
            current_inflight_requests=dict(self.inflight),
            dropped_requests_total=dict(self.dropped),
        )
