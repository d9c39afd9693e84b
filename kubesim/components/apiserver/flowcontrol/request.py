"""What flow control sees of a request, and what it answers.

`RequestAttrs` is the digest kube-apiserver's filters take from RequestInfo and the
authenticated user. `Decision` is the answer to `admit`: execute now, wait in a queue
(the `Ticket` is dispatched later by `finish`/`rebalance`), or reject with 429.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# k8s.io/apiserver/pkg/endpoints/filters: verbs that do not mutate
NON_MUTATING_VERBS = frozenset({"get", "list", "watch"})

READ_ONLY = "readOnly"
MUTATING = "mutating"

TOO_MANY_REQUESTS_MESSAGE = "Too many requests, please try again later."
RETRY_AFTER_SECONDS = 1

# apiserver_flowcontrol_rejected_requests_total{reason}
REASON_QUEUE_FULL = "queue-full"
REASON_TIME_OUT = "time-out"
REASON_CONCURRENCY_LIMIT = "concurrency-limit"
# the max-in-flight filter has no queues: it just drops (apiserver_dropped_requests_total)
REASON_MAX_IN_FLIGHT = "max-in-flight"


@dataclass(frozen=True)
class RequestAttrs:
    """The request attributes flow control classifies on.

    A resource request has `non_resource_url` None; a non-resource request (e.g.
    GET /healthz) sets it to the path and leaves the resource fields empty.
    `subresource` makes rules like "nodes/status" match. `seats` is the work
    estimate's width (1 for most requests; the real estimator gives big LISTs more).
    """

    user: str
    verb: str
    groups: tuple[str, ...] = ()
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    is_long_running: bool = False
    non_resource_url: str | None = None
    seats: int = 1

    @property
    def is_resource_request(self) -> bool:
        return self.non_resource_url is None

    @property
    def request_kind(self) -> str:
        """readOnly or mutating, the label of apiserver_current_inflight_requests."""
        return READ_ONLY if self.verb in NON_MUTATING_VERBS else MUTATING


class Outcome(StrEnum):
    EXECUTE = "execute"
    QUEUED = "queued"
    REJECT = "reject"


@dataclass(eq=False)
class Ticket:
    """One admitted request: executing, or waiting in a queue of its priority level."""

    id: int
    priority_level: str
    flow_schema: str
    flow_distinguisher: str
    request_kind: str
    seats: int
    arrival: float
    queue: int | None = None
    started: float | None = None
    finished: bool = field(default=False, repr=False)


@dataclass(frozen=True)
class Rejection:
    """A request refused with 429 Too Many Requests, and why."""

    reason: str
    priority_level: str = ""
    flow_schema: str = ""
    ticket: Ticket | None = None
    status: int = 429
    retry_after: int = RETRY_AFTER_SECONDS
    message: str = TOO_MANY_REQUESTS_MESSAGE


@dataclass(frozen=True)
class Decision:
    """The answer to `admit`.

    EXECUTE with a ticket: run now and call `finish(ticket, now)` when done. EXECUTE
    without a ticket: a long-running request outside flow control; nothing to finish.
    QUEUED: wait until a later `finish`/`rebalance` returns the ticket (or `expire`
    rejects it). REJECT: answer 429 with Retry-After, see `rejection`.
    """

    outcome: Outcome
    ticket: Ticket | None = None
    rejection: Rejection | None = None
    priority_level: str = ""
    flow_schema: str = ""
