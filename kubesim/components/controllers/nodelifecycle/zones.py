"""Zone-aware eviction rates of the node lifecycle controller, pure
(pkg/controller/nodelifecycle/node_lifecycle_controller.go and scheduler/rate_limited_queue.go).

A zone is *fully disrupted* when none of its nodes is Ready, *partially disrupted* when
more than 2 and at least `--unhealthy-zone-threshold` (0.55) of its nodes are not Ready,
*normal* otherwise. Nodes are tainted (and so their pods evicted) through one
`RateLimitedTimedQueue` per zone whose token bucket (burst 1) runs at:
- normal: `--node-eviction-rate` (0.1/s);
- partial disruption: `--secondary-node-eviction-rate` (0.01/s) if the zone has more than
  `--large-cluster-size-threshold` (50) nodes, else 0 (no evictions);
- full disruption: the normal rate, unless every zone is fully disrupted: then evictions
  stop everywhere (the control plane is the likelier culprit) and taints are removed.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

INITIAL = "Initial"
NORMAL = "Normal"
FULL_DISRUPTION = "FullDisruption"
PARTIAL_DISRUPTION = "PartialDisruption"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"


def zone_key(node: Obj) -> str:
    """nodetopology.GetZoneKey: "region:\\x00:zone" ("" when the node has neither label)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(REGION_LABEL) or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get(ZONE_LABEL) or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def excluded_from_disruption(node: Obj) -> bool:
    return EXCLUDE_DISRUPTION_LABEL in ((node.get("metadata") or {}).get("labels") or {})


def compute_zone_state(ready_statuses: list[str | None], unhealthy_threshold: float) -> tuple[int, str]:
    """ComputeZoneState: (not-ready count, state) from the zone's Ready condition statuses."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= unhealthy_threshold:
        return not_ready, PARTIAL_DISRUPTION
    return not_ready, NORMAL


@dataclass(frozen=True)
class EvictionRates:
    """The flags that set the per-zone tainting rates."""

    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50

    def qps(self, state: str, zone_size: int) -> float:
        """setLimiterInZone: HealthyQPSFunc for normal and full, ReducedQPSFunc for partial."""
        if state == PARTIAL_DISRUPTION:
            return self.secondary_node_eviction_rate if zone_size > self.large_cluster_size_threshold else 0.0
        return self.node_eviction_rate


class TokenBucket:
    """flowcontrol.NewTokenBucketRateLimiter(qps, burst); qps 0 never accepts."""

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst) if qps > 0 else 0.0
        self._last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class TimedValue:
    value: str
    uid: str
    added_at: float
    process_at: float


class RateLimitedTimedQueue:
    """scheduler.RateLimitedTimedQueue: unique values processed in processAt order, each
    attempt costing a token. A value stays known (not re-addable) until `remove`."""

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.limiter = TokenBucket(qps, burst, now)
        self._heap: list[tuple[float, int, str]] = []
        self._items: dict[str, TimedValue] = {}
        self._known: set[str] = set()
        self._seq = itertools.count()

    def add(self, value: str, uid: str, now: float) -> bool:
        if value in self._known:
            return False
        self._known.add(value)
        self._items[value] = TimedValue(value, uid, now, now)
        heapq.heappush(self._heap, (now, next(self._seq), value))
        return True

    def remove(self, value: str) -> bool:
        """Forget the value entirely; True if it was known."""
        self._items.pop(value, None)
        if value in self._known:
            self._known.discard(value)
            return True
        return False

    def swap_limiter(self, qps: float, now: float) -> None:
        if qps != self.limiter.qps:
            self.limiter = TokenBucket(qps, self.limiter.burst, now)

    def __len__(self) -> int:
        return len(self._items)

    def _head(self) -> TimedValue | None:
        while self._heap:
            at, _, value = self._heap[0]
            item = self._items.get(value)
            if item is not None and item.process_at == at:
                return item
            heapq.heappop(self._heap)
        return None

    def next_due(self, now: float) -> TimedValue | None:
        """The head, if a token is available and it is due (Try's loop step); each call
        with a non-empty queue costs a token, as TryAccept does."""
        item = self._head()
        if item is None or not self.limiter.try_accept(now) or now < item.process_at:
            return None
        return item

    def done(self, item: TimedValue) -> None:
        """RemoveFromQueue: processed; the value stays known until `remove`."""
        self._items.pop(item.value, None)

    def retry(self, item: TimedValue, at: float) -> None:
        item.process_at = at
        heapq.heappush(self._heap, (at, next(self._seq), item.value))
