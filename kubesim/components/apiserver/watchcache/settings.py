"""Watch cache settings, each defaulting to kube-apiserver 1.32's value
(k8s.io/apiserver pkg/storage/cacher: watch_cache.go, cacher.go, time_budget.go,
util/progress)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# watch_cache.go's bounds of a watcher's buffer
MIN_WATCH_CHAN_SIZE = 10  # minWatchChanSize
MAX_WITH_INDEX_AND_TRIGGER = 10  # maxWatchChanSizeWithIndexAndTrigger
MAX_WITH_INDEX_WITHOUT_TRIGGER = 1000  # maxWatchChanSizeWithIndexWithoutTrigger
MAX_WITHOUT_INDEX = 100  # maxWatchChanSizeWithoutIndex


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
    # a watcher's buffer; None: suggestedWatchChannelSize (see suggested_buffer)
    watcher_buffer: int | None = None
    # how long dispatching may wait for slow watchers before it closes them
    dispatch_budget: float = 0.1  # timeBudget maxBudget
    dispatch_budget_refresh_per_second: float = 0.05  # refreshPerSecond
    # wait before listing again after a failed list, or watching again after etcd's watch
    # ended (the reflector's backoff)
    relist_backoff: float = 1.0

    def suggested_buffer(self, capacity: int, index_exists: bool = False,
                         trigger_used: bool = False) -> int:
        """``suggestedWatchChannelSize``: capacity / 75 s, at least 10 and at most 10 for a
        watch on its kind's indexed trigger, 1,000 for another watch of a kind with one,
        100 for a kind without."""
        if self.watcher_buffer is not None:
            return self.watcher_buffer
        size = max(math.ceil(capacity / self.event_fresh_duration), MIN_WATCH_CHAN_SIZE)
        if index_exists:
            limit = MAX_WITH_INDEX_AND_TRIGGER if trigger_used else MAX_WITH_INDEX_WITHOUT_TRIGGER
        else:
            limit = MAX_WITHOUT_INDEX
        return min(size, limit)
