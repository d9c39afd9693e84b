"""client-go's workqueue (k8s.io/client-go/util/workqueue), without threads.

Three layers, as in client-go:
- `Queue`: FIFO with a *dirty* set (needs processing) and a *processing* set (handed out
  by `get`, not yet `done`). An item is never handed out twice at once; adding an item
  that is already dirty is a no-op; adding an item that is being processed marks it dirty
  and `done` puts it back in the queue.
- `DelayingQueue`: `add_after(item, delay)`; of several pending delays for one item the
  earliest wins. Time comes from the `clock` callable the caller gives (e.g. `ctx.now`);
  `next_ready_at()` tells the caller when to call `poll()` (e.g. with `ctx.call_later`).
  Every operation first moves due items into the queue, so items enter in the order they
  would have in client-go.
- `RateLimitingQueue`: `add_rate_limited` / `forget` / `num_requeues` over a `RateLimiter`,
  by default `default_controller_rate_limiter` (per-item exponential 5 ms .. 1000 s, and an
  overall 10 qps / burst 100 token bucket; the larger delay wins).

`get()` never blocks: it returns None when nothing is ready. The optional `notify`
callback plays the role of client-go's condition signal: it is called whenever an item
becomes available to `get`. With a metrics handle the queue exports client-go's
workqueue metrics under the `name` label; call `update_unfinished_work()` every
`UNFINISHED_WORK_UPDATE_PERIOD` seconds as client-go's background loop does.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from kubesim.runtime.metrics import MetricsHandle

Clock = Callable[[], float]
T = TypeVar("T", bound=Hashable)

#: client-go's defaultUnfinishedWorkUpdatePeriod.
UNFINISHED_WORK_UPDATE_PERIOD = 0.5
#: client-go's workqueue histogram buckets: prometheus.ExponentialBuckets(10e-9, 10, 10).
DURATION_BUCKETS = tuple(1e-8 * 10**i for i in range(10))


class _QueueMetrics:
    """client-go's defaultQueueMetrics plus the retry counter, for one named queue."""

    def __init__(self, handle: MetricsHandle, name: str, clock: Clock) -> None:
        self._clock = clock
        self._depth = handle.gauge(
            "workqueue_depth", "Current depth of workqueue", ["name"]
        ).labels(name)
        self._adds = handle.counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", ["name"]
        ).labels(name)
        self._latency = handle.histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            ["name"],
            DURATION_BUCKETS,
        ).labels(name)
        self._work_duration = handle.histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            ["name"],
            DURATION_BUCKETS,
        ).labels(name)
        self._unfinished = handle.gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has done that is in progress and hasn't been observed "
            "by work_duration. Large values indicate stuck threads. One can deduce the number "
            "of stuck threads by observing the rate at which this increases.",
            ["name"],
        ).labels(name)
        self._longest = handle.gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            ["name"],
        ).labels(name)
        self._retries = handle.counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", ["name"]
        ).labels(name)
        self._add_times: dict[Hashable, float] = {}
        self._processing_starts: dict[Hashable, float] = {}

    def add(self, item: Hashable, at: float) -> None:
        self._adds.inc()
        self._depth.inc()
        self._add_times.setdefault(item, at)

    def get(self, item: Hashable) -> None:
        now = self._clock()
        self._depth.dec()
        self._processing_starts[item] = now
        start = self._add_times.pop(item, None)
        if start is not None:
            self._latency.observe(now - start)

    def done(self, item: Hashable) -> None:
        start = self._processing_starts.pop(item, None)
        if start is not None:
            self._work_duration.observe(self._clock() - start)

    def retry(self) -> None:
        self._retries.inc()

    def update_unfinished_work(self) -> None:
        now = self._clock()
        ages = [now - start for start in self._processing_starts.values()]
        self._unfinished.set(sum(ages))
        self._longest.set(max(ages, default=0.0))


class Queue(Generic[T]):
    """client-go's workqueue.Type: fair, stingy (dedup, never concurrent), shut-down aware."""

    def __init__(
        self,
        clock: Clock,
        name: str = "",
        *,
        metrics: MetricsHandle | None = None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._shutting_down = False
        self._notify = notify
        self._metrics = _QueueMetrics(metrics, name, clock) if metrics is not None else None

    # client-go's Interface -------------------------------------------------
    def add(self, item: T) -> None:
        """Mark `item` as needing processing (ignored once shutting down)."""
        self._tick()
        self._add(item, self._clock())

    def get(self) -> T | None:
        """The next item to process, now in the processing set; None if none is ready.

        After `shut_down` the items already queued are still handed out; once it is empty
        the worker should stop (`shutting_down` is true).
        """
        self._tick()
        if not self._queue:
            return None
        item = self._queue.popleft()
        if self._metrics is not None:
            self._metrics.get(item)
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Finish processing `item`; if it was added meanwhile, queue it again."""
        self._tick()
        if self._metrics is not None:
            self._metrics.done(item)
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._signal()

    def __len__(self) -> int:
        """Items waiting to be handed out (not counting those being processed)."""
        self._tick()
        return len(self._queue)

    def shut_down(self) -> None:
        """Ignore further adds; `get` drains what is queued, then returns None.

        client-go's ShutDownWithDrain is `shut_down()` then waiting until `drained`.
        """
        self._shutting_down = True

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def drained(self) -> bool:
        """Shut down and no item is being processed any more."""
        return self._shutting_down and not self._processing

    def update_unfinished_work(self) -> None:
        """Refresh workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds."""
        if self._metrics is not None and not self._shutting_down:
            self._metrics.update_unfinished_work()

    # internals -------------------------------------------------------------
    def _add(self, item: T, at: float) -> None:
        if self._shutting_down or item in self._dirty:
            return
        if self._metrics is not None:
            self._metrics.add(item, at)
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._signal()

    def _signal(self) -> None:
        if self._notify is not None:
            self._notify()

    def _tick(self) -> None:
        """Hook for subclasses to catch up with time before an operation."""


class DelayingQueue(Queue[T]):
    """client-go's delayingType: a Queue whose items can be added after a delay."""

    def __init__(
        self,
        clock: Clock,
        name: str = "",
        *,
        metrics: MetricsHandle | None = None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(clock, name, metrics=metrics, notify=notify)
        self._ready_at: dict[T, float] = {}
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` once `delay` seconds have passed; an earlier pending time for it wins."""
        if self._shutting_down:
            return
        self._tick()
        if self._metrics is not None:
            self._metrics.retry()
        if delay <= 0:
            self._add(item, self._clock())
            return
        ready_at = self._clock() + delay
        existing = self._ready_at.get(item)
        if existing is not None and existing <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), item))

    def next_ready_at(self) -> float | None:
        """When the earliest waiting item is due (call `poll()` then), or None."""
        self._tick()
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def poll(self) -> None:
        """Move every waiting item that is due into the queue."""
        self._tick()

    def waiting(self) -> int:
        """Items waiting for their delay to pass."""
        self._tick()
        return len(self._ready_at)

    def shut_down(self) -> None:
        super().shut_down()
        self._ready_at.clear()
        self._heap.clear()

    def _drop_stale(self) -> None:
        while self._heap and self._ready_at.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def _tick(self) -> None:
        now = self._clock()
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return
            ready_at, _, item = heapq.heappop(self._heap)
            del self._ready_at[item]
            self._add(item, ready_at)


class RateLimiter(Protocol):
    """client-go's workqueue.RateLimiter; delays in seconds."""

    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """Delay base * 2**failures for an item, capped at max_delay; `forget` resets it."""

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        try:
            backoff = self.base_delay * 2.0**exp
        except OverflowError:
            return self.max_delay
        return min(backoff, self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall token bucket (golang.org/x/time/rate's Limiter.Reserve), not per item.

    The bucket starts full; each `when` takes a token and returns how long to wait
    until that token exists.
    """

    def __init__(self, qps: float, burst: int, clock: Clock) -> None:
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: Hashable) -> float:
        now = self._clock()
        if self._last is not None:
            elapsed = max(0.0, now - self._last)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._last = now
        self._tokens -= 1.0
        return -self._tokens / self.qps if self._tokens < 0 else 0.0

    def forget(self, item: Hashable) -> None:
        return None

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters (each one is asked, so each one counts)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: 5 ms doubling to 1000 s per item, 10 qps burst 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )


class RateLimitingQueue(DelayingQueue[T]):
    """client-go's rateLimitingType. Remember to `forget` an item once it succeeds."""

    def __init__(
        self,
        clock: Clock,
        name: str = "",
        *,
        rate_limiter: RateLimiter | None = None,
        metrics: MetricsHandle | None = None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(clock, name, metrics=metrics, notify=notify)
        self.rate_limiter = (
            rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)
        )

    def add_rate_limited(self, item: T) -> None:
        """Add `item` after the delay the rate limiter gives it."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop tracking the item's failures (does not replace `done`)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
