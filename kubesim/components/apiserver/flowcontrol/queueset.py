"""Fair queuing for one priority level (k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset).

A QueueSet holds the level's queues and its current concurrency limit (in seats).
A request is shuffle-sharded onto the shortest queue of its flow's hand; requests are
dispatched from the queue whose head has the smallest virtual finish time
R(dispatch) + work, where the virtual clock R advances at
min(seats requested, limit) / active queues seat-seconds per second, and each
request's work is estimated as seats x 3 ms and corrected by its actual service time
when it finishes. Virtual time is kept in integer units of 1e-8 seat-seconds, as the
apiserver does, so runs are exactly reproducible.

Exempt levels never wait; levels whose limit response is Reject have no queues and
turn away what does not fit at once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .config import PriorityLevel
from .request import REASON_CONCURRENCY_LIMIT, REASON_QUEUE_FULL, Ticket
from .shufflesharding import Dealer

SS_PER_SEAT_SECOND = 100_000_000  # fairqueuing/request ssScale
ESTIMATED_SERVICE_NS = 3_000_000  # queueSet.estimatedServiceDuration = 3 ms


def go_round(x: float) -> int:
    """math.Round in Go: halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def seats_times_ns(seats: float, ns: int) -> int:
    """SeatsTimesDuration: seats x duration in 1e-8 seat-seconds."""
    return go_round(seats * ns / (1_000_000_000 / SS_PER_SEAT_SECOND))


def to_ns(seconds: float) -> int:
    return go_round(seconds * 1_000_000_000)


@dataclass
class _Waiting:
    ticket: Ticket
    arrival_ns: int
    arrival_r: int
    work: int


@dataclass
class _Queue:
    index: int
    requests: deque[_Waiting] = field(default_factory=deque)
    next_dispatch_r: int = 0
    requests_executing: int = 0
    seats_in_use: int = 0
    work_waiting: int = 0
    seats_waiting: int = 0


class QueueSet:
    """The queues and dispatching state of one priority level."""

    def __init__(self, level: PriorityLevel, concurrency_limit: int, now: float) -> None:
        self.level = level
        self.concurrency_limit = concurrency_limit
        self.queue_length_limit = level.queuing.queue_length_limit if level.queuing else 0
        self.dealer = Dealer(level.queuing.queues, level.queuing.hand_size) if level.queuing else None
        self.queues = [_Queue(i) for i in range(level.queuing.queues if level.queuing else 0)]
        self.current_r = 0
        self.last_ns = to_ns(now)
        self.robin_index = 0
        self.enqueues = 0
        self.executing: set[Ticket] = set()
        self.tot_requests_waiting = 0
        self.tot_seats_waiting = 0
        self.tot_seats_in_use = 0

    @property
    def seat_demand(self) -> int:
        """Seats in use plus seats waiting: the input to borrowing."""
        return self.tot_seats_in_use + self.tot_seats_waiting

    def start_request(self, ticket: Ticket, hash_value: int, now: float) -> str | None:
        """Execute, enqueue or refuse `ticket`.

        Returns None when the ticket executes now (`ticket.started` is set) or was
        queued (`ticket.queue` is set), else the rejection reason.
        """
        self._sync_time(now)
        if self.dealer is None:
            if not self._can_accommodate(ticket.seats):
                return REASON_CONCURRENCY_LIMIT
            self._start_executing(ticket, None, now)
            return None
        queue = self.queues[self._shuffle_shard(hash_value)]
        if self.tot_seats_in_use >= self.concurrency_limit and len(queue.requests) >= self.queue_length_limit:
            return REASON_QUEUE_FULL
        if not queue.requests and queue.requests_executing == 0:
            queue.next_dispatch_r = self.current_r
        ticket.queue = queue.index
        work = ticket.seats * seats_times_ns(1, ESTIMATED_SERVICE_NS)
        queue.requests.append(_Waiting(ticket, to_ns(now), self.current_r, work))
        queue.work_waiting += work
        queue.seats_waiting += ticket.seats
        self.tot_requests_waiting += 1
        self.tot_seats_waiting += ticket.seats
        self._bound_next_dispatch(queue)
        self._dispatch_as_much_as_possible(now)
        return None

    def finish_request(self, ticket: Ticket, now: float) -> list[Ticket]:
        """Release `ticket`'s seats; returns the tickets dispatched in consequence."""
        self._sync_time(now)
        self.executing.discard(ticket)
        self.tot_seats_in_use -= ticket.seats
        if ticket.queue is not None:
            queue = self.queues[ticket.queue]
            queue.requests_executing -= 1
            queue.seats_in_use -= ticket.seats
            started = now if ticket.started is None else ticket.started
            actual_ns = to_ns(now) - to_ns(started)
            queue.next_dispatch_r -= seats_times_ns(ticket.seats, ESTIMATED_SERVICE_NS - actual_ns)
            self._bound_next_dispatch(queue)
        return self._dispatch_as_much_as_possible(now)

    def set_concurrency_limit(self, limit: int, now: float) -> list[Ticket]:
        """Apply a new current limit (borrowing); returns the tickets it lets run."""
        self._sync_time(now)
        self.concurrency_limit = limit
        return self._dispatch_as_much_as_possible(now)

    def remove_timed_out(self, now: float, wait_limit: float) -> list[Ticket]:
        """Take out the waiting tickets that arrived `wait_limit` seconds ago or earlier."""
        self._sync_time(now)
        limit_ns = to_ns(now) - to_ns(wait_limit)
        removed: list[Ticket] = []
        for queue in self.queues:
            while queue.requests and queue.requests[0].arrival_ns <= limit_ns:
                removed.append(self._pop_head(queue).ticket)
            self._bound_next_dispatch(queue)
        return removed

    def oldest_arrival(self) -> int | None:
        """Arrival (ns) of the oldest waiting request, if any."""
        heads = [q.requests[0].arrival_ns for q in self.queues if q.requests]
        return min(heads) if heads else None

    # -- internals ------------------------------------------------------------------

    def _sync_time(self, now: float) -> None:
        now_ns = to_ns(now)
        elapsed = now_ns - self.last_ns
        self.last_ns = now_ns
        self.current_r += seats_times_ns(self._virtual_time_ratio(), elapsed)

    def _virtual_time_ratio(self) -> float:
        active = 0
        seats_requested = 0
        for queue in self.queues:
            seats_requested += queue.seats_in_use + queue.seats_waiting
            if queue.requests or queue.requests_executing:
                active += 1
        if active == 0:
            return 0.0
        return min(seats_requested, self.concurrency_limit) / active

    def _shuffle_shard(self, hash_value: int) -> int:
        assert self.dealer is not None
        hand = self.dealer.deal(hash_value)
        offset = self.enqueues % len(hand)
        self.enqueues += 1
        best, best_work = -1, None
        for i in range(len(hand)):
            index = hand[(offset + i) % len(hand)]
            work = self.queues[index].work_waiting
            if best_work is None or work < best_work:
                best, best_work = index, work
        return best

    def _can_accommodate(self, seats: int) -> bool:
        if self.level.is_exempt:
            return True
        if seats > self.concurrency_limit:
            return not self.executing
        return self.tot_seats_in_use + seats <= self.concurrency_limit

    def _start_executing(self, ticket: Ticket, queue: _Queue | None, now: float) -> None:
        ticket.started = now
        self.executing.add(ticket)
        self.tot_seats_in_use += ticket.seats
        if queue is not None:
            queue.requests_executing += 1
            queue.seats_in_use += ticket.seats

    def _dispatch_as_much_as_possible(self, now: float) -> list[Ticket]:
        dispatched: list[Ticket] = []
        while self.tot_requests_waiting and self.tot_seats_in_use < self.concurrency_limit:
            queue = self._find_dispatch_queue()
            if queue is None:
                break
            waiting = self._pop_head(queue)
            self._start_executing(waiting.ticket, queue, now)
            queue.next_dispatch_r += waiting.work
            self._bound_next_dispatch(queue)
            dispatched.append(waiting.ticket)
        return dispatched

    def _find_dispatch_queue(self) -> _Queue | None:
        best: _Queue | None = None
        best_finish = 0
        for _ in range(len(self.queues)):
            self.robin_index = (self.robin_index + 1) % len(self.queues)
            queue = self.queues[self.robin_index]
            if queue.requests:
                finish = queue.next_dispatch_r + queue.requests[0].work
                if best is None or finish < best_finish:
                    best, best_finish = queue, finish
        if best is None or not self._can_accommodate(best.requests[0].ticket.seats):
            return None
        self.robin_index = best.index
        return best

    def _pop_head(self, queue: _Queue) -> _Waiting:
        waiting = queue.requests.popleft()
        queue.work_waiting -= waiting.work
        queue.seats_waiting -= waiting.ticket.seats
        self.tot_requests_waiting -= 1
        self.tot_seats_waiting -= waiting.ticket.seats
        return waiting

    def _bound_next_dispatch(self, queue: _Queue) -> None:
        """Anti-windup: a queue's virtual dispatch never precedes its head's arrival."""
        if queue.requests and queue.next_dispatch_r < queue.requests[0].arrival_r:
            queue.next_dispatch_r = queue.requests[0].arrival_r
