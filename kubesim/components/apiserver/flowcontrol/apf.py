"""API Priority and Fairness: the admission controller kube-apiserver 1.32 runs by default.

A pure state machine driven by its caller's clock:
- `admit(attrs, now)` classifies the request to a FlowSchema and priority level and
  executes, queues or rejects it;
- `finish(ticket, now)` releases the ticket's seats and returns the queued tickets
  that may run now;
- `expire(now)` rejects (reason time-out) requests that waited `request_wait_limit`
  (the apiserver's --request-timeout / 4 = 15 s); `next_expiry()` says when to call it;
- `rebalance(now)`, every BORROWING_ADJUSTMENT_PERIOD (10 s), re-divides seats
  between levels by their recent demand and returns the tickets that may now run.

The server's concurrency limit (max-requests-inflight + max-mutating-requests-inflight,
600 by default) is split among the levels in proportion to their
nominalConcurrencyShares: NominalCL = ceil(ServerCL x NCS / sum NCS).
Long-running requests other than watch bypass flow control; a watch holds its seat
only until its initialisation is done (the caller finishes its ticket then).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .bootstrap import FLOW_SCHEMAS, PRIORITY_LEVELS
from .borrowing import (
    AllocItem,
    SeatDemandIntegrator,
    SeatDemandStats,
    compute_concurrency_allocation,
)
from .config import FlowSchema, PriorityLevel
from .matching import classify, flow_distinguisher, sort_flow_schemas
from .metrics import FlowControlMetrics, MetricsRecorder, WaitObservation
from .queueset import QueueSet, go_round, to_ns
from .request import REASON_TIME_OUT, Decision, Outcome, Rejection, RequestAttrs, Ticket
from .shufflesharding import hash_flow_id

DEFAULT_SERVER_CONCURRENCY_LIMIT = 400 + 200
DEFAULT_REQUEST_WAIT_LIMIT = 60.0 / 4


@dataclass
class _Level:
    config: PriorityLevel
    nominal_cl: int
    min_cl: int
    max_cl: int
    current_cl: int
    queues: QueueSet
    demand: SeatDemandIntegrator
    stats: SeatDemandStats


class APFController:
    """Request admission by API Priority and Fairness; see the module docstring."""

    def __init__(
        self,
        now: float = 0.0,
        server_concurrency_limit: int = DEFAULT_SERVER_CONCURRENCY_LIMIT,
        request_wait_limit: float = DEFAULT_REQUEST_WAIT_LIMIT,
        priority_levels: Iterable[PriorityLevel] = PRIORITY_LEVELS,
        flow_schemas: Iterable[FlowSchema] = FLOW_SCHEMAS,
    ) -> None:
        self.server_concurrency_limit = server_concurrency_limit
        self.request_wait_limit = request_wait_limit
        configs = {pl.name: pl for pl in priority_levels}
        for mandatory in PRIORITY_LEVELS[:2]:  # exempt and catch-all always exist
            configs.setdefault(mandatory.name, mandatory)
        schemas = {fs.name: fs for fs in flow_schemas if fs.priority_level in configs}
        for mandatory in (FLOW_SCHEMAS[0], FLOW_SCHEMAS[-1]):
            schemas.setdefault(mandatory.name, mandatory)
        self.flow_schemas = sort_flow_schemas(schemas.values())
        self.levels = self._build_levels(configs, now)
        self.nominal_cl_sum = sum(level.nominal_cl for level in self.levels.values())
        self.recorder = MetricsRecorder()
        self._next_ticket = 0
        self._update_borrowing(now)
        for level in self.levels.values():
            level.queues.set_concurrency_limit(level.current_cl, now)

    # -- the driver's interface ------------------------------------------------------

    def admit(self, attrs: RequestAttrs, now: float) -> Decision:
        """Decide about a new request: execute, queue or reject it."""
        if attrs.is_long_running and attrs.verb != "watch":
            return Decision(Outcome.EXECUTE)
        fs = classify(attrs, self.flow_schemas)
        level = self.levels[fs.priority_level]
        distinguisher, hash_value = "", 0
        queuing = level.config.queuing
        if queuing is not None and queuing.queues > 1:
            distinguisher = flow_distinguisher(attrs, fs.distinguisher)
            hash_value = hash_flow_id(fs.name, distinguisher)
        self._next_ticket += 1
        ticket = Ticket(
            id=self._next_ticket, priority_level=level.config.name, flow_schema=fs.name,
            flow_distinguisher=distinguisher, request_kind=attrs.request_kind,
            seats=max(1, attrs.seats), arrival=now,
        )
        reason = level.queues.start_request(ticket, hash_value, now)
        level.demand.set(level.queues.seat_demand, now)
        if reason is not None:
            rejection = Rejection(reason, ticket.priority_level, ticket.flow_schema, ticket)
            self._note_rejected(rejection, waited=0.0)
            return Decision(Outcome.REJECT, None, rejection, ticket.priority_level, ticket.flow_schema)
        if ticket.started is None:
            self.recorder.inqueue[(ticket.priority_level, ticket.flow_schema)] += 1
            return Decision(Outcome.QUEUED, ticket, None, ticket.priority_level, ticket.flow_schema)
        self._note_started(ticket, queued=False)
        return Decision(Outcome.EXECUTE, ticket, None, ticket.priority_level, ticket.flow_schema)

    def finish(self, ticket: Ticket, now: float) -> list[Ticket]:
        """The request of `ticket` is done; returns the queued tickets that start now."""
        if ticket.started is None or ticket.finished:
            raise ValueError(f"ticket {ticket.id} is not executing")
        ticket.finished = True
        level = self.levels[ticket.priority_level]
        self.recorder.executing[(ticket.priority_level, ticket.flow_schema)] -= 1
        self.recorder.inflight[ticket.request_kind] -= 1
        dispatched = level.queues.finish_request(ticket, now)
        level.demand.set(level.queues.seat_demand, now)
        for started in dispatched:
            self._note_started(started, queued=True)
        return dispatched

    def expire(self, now: float) -> list[Rejection]:
        """Reject (time-out) every queued request that has waited the wait limit."""
        rejections: list[Rejection] = []
        for level in self.levels.values():
            if level.queues.oldest_arrival() is None:
                continue
            for ticket in level.queues.remove_timed_out(now, self.request_wait_limit):
                self.recorder.inqueue[(ticket.priority_level, ticket.flow_schema)] -= 1
                rejection = Rejection(REASON_TIME_OUT, ticket.priority_level, ticket.flow_schema, ticket)
                self._note_rejected(rejection, waited=now - ticket.arrival)
                rejections.append(rejection)
            level.demand.set(level.queues.seat_demand, now)
        return rejections

    def next_expiry(self) -> float | None:
        """When the oldest queued request times out (call `expire` then), or None."""
        arrivals = [a for a in (lv.queues.oldest_arrival() for lv in self.levels.values()) if a is not None]
        return min(arrivals) / 1e9 + self.request_wait_limit if arrivals else None

    def rebalance(self, now: float) -> list[Ticket]:
        """Periodic borrowing adjustment; returns the queued tickets that start now."""
        self._update_borrowing(now)
        dispatched: list[Ticket] = []
        for level in self.levels.values():
            started = level.queues.set_concurrency_limit(level.current_cl, now)
            level.demand.set(level.queues.seat_demand, now)
            for ticket in started:
                self._note_started(ticket, queued=True)
            dispatched.extend(started)
        return dispatched

    def metrics(self) -> FlowControlMetrics:
        return self.recorder.snapshot(
            {name: lv.nominal_cl for name, lv in self.levels.items()},
            {name: lv.current_cl for name, lv in self.levels.items()},
        )

    def drain_wait_observations(self) -> list[WaitObservation]:
        """apiserver_flowcontrol_request_wait_duration_seconds samples since the last drain."""
        return self.recorder.drain_waits()

    # -- internals ------------------------------------------------------------------

    def _build_levels(self, configs: dict[str, PriorityLevel], now: float) -> dict[str, _Level]:
        share_sum = sum(pl.nominal_concurrency_shares for pl in configs.values())
        levels: dict[str, _Level] = {}
        for name, pl in configs.items():
            nominal = math.ceil(self.server_concurrency_limit * pl.nominal_concurrency_shares / share_sum)
            lendable = go_round(nominal * pl.lendable_percent / 100)
            if pl.borrowing_limit_percent is None:
                borrowing = self.server_concurrency_limit
            else:
                borrowing = go_round(nominal * pl.borrowing_limit_percent / 100)
            current = nominal - lendable // 2
            levels[name] = _Level(
                pl, nominal, nominal - lendable, nominal + borrowing, current,
                QueueSet(pl, current, now), SeatDemandIntegrator(now), SeatDemandStats(),
            )
        return levels

    def _update_borrowing(self, now: float) -> None:
        items: list[AllocItem] = []
        for level in self.levels.values():
            level.stats.update(level.demand.reset(now))
            floor = max(float(level.min_cl), min(float(level.nominal_cl), level.stats.high_watermark))
            items.append(AllocItem(max(floor, level.stats.smoothed), floor, float(level.max_cl)))
        allocs, _ = compute_concurrency_allocation(self.nominal_cl_sum, items)
        for level, alloc in zip(self.levels.values(), allocs, strict=True):
            level.current_cl = go_round(alloc)

    def _note_started(self, ticket: Ticket, queued: bool) -> None:
        key = (ticket.priority_level, ticket.flow_schema)
        if queued:
            self.recorder.inqueue[key] -= 1
        self.recorder.executing[key] += 1
        self.recorder.dispatched[key] += 1
        self.recorder.inflight[ticket.request_kind] += 1
        if not self.levels[ticket.priority_level].config.is_exempt:
            started = ticket.arrival if ticket.started is None else ticket.started
            waited = (to_ns(started) - to_ns(ticket.arrival)) / 1e9
            self.recorder.waits.append(WaitObservation(*key, True, waited))

    def _note_rejected(self, rejection: Rejection, waited: float) -> None:
        self.recorder.rejected[(rejection.priority_level, rejection.flow_schema, rejection.reason)] += 1
        self.recorder.waits.append(WaitObservation(rejection.priority_level, rejection.flow_schema, False, waited))
