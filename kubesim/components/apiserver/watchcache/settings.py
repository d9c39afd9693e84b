"""Watch cache settings, each defaulting to kube-apiserver 1.32's value
(k8s.io/apiserver pkg/storage/cacher: watch_cache.go, cacher.go, time_budget.go,
util/progress)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheSettings:
    # the event window: it doubles while full of events younger than event_fresh_duration
    # and halves when its newest quarter is older, within these bounds
    lower_bound_capacity: int = 100  # defaultLowerBoundCapacity
    upper_bound_capacity: int = 100 * 1024  # defaultUpperBoundCapacity
    event_fresh_duration: float = 75.0  # eventFreshDuration, seconds
    # how long a read waits for the cache to reach a resourceVersion before giving up
    block_timeout: float = 3.0  # blockTimeout
    too_high_retry_seconds: int = 1  # resourceVersionTooHighRetrySeconds
    # while reads wait for freshness, ask etcd for a progress notification this often
    progress_request_period: float = 0.1  # progressRequestPeriod
    bookmark_frequency: float = 60.0  # defaultBookmarkFrequency
    bookmark_tick: float = 1.0  # the dispatcher's bookmark timer
    # a watcher's buffer; None: suggestedWatchChannelSize (capacity / 75 s, within 10..100)
    watcher_buffer: int | None = None
    # how long dispatching may wait for slow watchers before it closes them
    dispatch_budget: float = 0.1  # timeBudget maxBudget
    dispatch_budget_refresh_per_second: float = 0.05  # refreshPerSecond
    # wait before listing again after a failed list, or watching again after etcd's watch
    # ended (the reflector's backoff)
    relist_backoff: float = 1.0

    def suggested_buffer(self, capacity: int) -> int:
        """``suggestedWatchChannelSize`` for a watch that uses no index."""
        if self.watcher_buffer is not None:
            return self.watcher_buffer
        size = math.ceil(capacity / self.event_fresh_duration)
        return min(max(size, 10), 100)
