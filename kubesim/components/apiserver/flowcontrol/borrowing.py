"""Borrowing between priority levels (KEP-1040, apf_controller.go + conc_alloc.go).

Every 10 s each level's seat demand over the period (time-weighted average,
standard deviation and high watermark) is folded into a smoothed demand; then the
server's nominal seats are re-divided so that every level gets the same fraction
`fairProp` of its target, clamped to [minCL, maxCL]: minCL = nominalCL - lendableCL,
maxCL = nominalCL + borrowingCL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BORROWING_ADJUSTMENT_PERIOD = 10.0
SEAT_DEMAND_SMOOTHING = 0.977  # half-life of 5 minutes at one adjustment per 10 s
MIN_TARGET = 0.001
EPSILON = 1e-7


@dataclass(frozen=True)
class IntegratorResults:
    duration: float
    average: float
    deviation: float
    max: float


class SeatDemandIntegrator:
    """Time integral of a piecewise-constant seat demand, reset every period."""

    def __init__(self, now: float) -> None:
        self.x = 0.0
        self.start = self.last = now
        self.sum_x = self.sum_xx = 0.0
        self.max = 0.0

    def set(self, x: float, now: float) -> None:
        self._advance(now)
        self.x = x
        self.max = max(self.max, x)

    def reset(self, now: float) -> IntegratorResults:
        self._advance(now)
        duration = now - self.start
        average = deviation = 0.0
        if duration > 0:
            average = self.sum_x / duration
            deviation = math.sqrt(max(0.0, self.sum_xx / duration - average * average))
        results = IntegratorResults(duration, average, deviation, self.max)
        self.start = now
        self.sum_x = self.sum_xx = 0.0
        self.max = self.x
        return results

    def _advance(self, now: float) -> None:
        dt = now - self.last
        self.sum_x += self.x * dt
        self.sum_xx += self.x * self.x * dt
        self.last = now


@dataclass
class SeatDemandStats:
    avg: float = 0.0
    std_dev: float = 0.0
    high_watermark: float = 0.0
    smoothed: float = 0.0

    def update(self, obs: IntegratorResults) -> None:
        self.high_watermark = obs.max
        if obs.duration <= 0:
            return
        self.avg = obs.average
        self.std_dev = obs.deviation
        envelope = obs.average + obs.deviation
        self.smoothed = max(
            envelope, SEAT_DEMAND_SMOOTHING * self.smoothed + (1 - SEAT_DEMAND_SMOOTHING) * envelope
        )


@dataclass(frozen=True)
class AllocItem:
    target: float
    lower: float
    upper: float


def compute_concurrency_allocation(required_sum: int, items: list[AllocItem]) -> tuple[list[float], float]:
    """Allocations summing to `required_sum`, each clamp(fairProp x target, lower, upper).

    Returns the allocations and fairProp; raises ValueError when impossible.
    Targets below MIN_TARGET count as MIN_TARGET.
    """
    if required_sum < 0:
        raise ValueError("negative sums are not supported")
    for idx, item in enumerate(items):
        if item.lower < 0:
            raise ValueError(f"lower bound {idx} is {item.lower} but negative lower bounds are not allowed")
        if item.target < item.lower:
            raise ValueError(f"target {idx} is {item.target}, which is below its lower bound of {item.lower}")
        if item.upper < item.lower:
            raise ValueError(f"upper bound {idx} is {item.upper} but should not be less than the lower bound {item.lower}")
    targets = [max(item.target, MIN_TARGET) for item in items]
    low_sum = sum(item.lower for item in items)
    high_sum = sum(item.upper for item in items)
    if low_sum - required_sum > EPSILON:
        raise ValueError(f"lower bounds sum to {low_sum}, which is higher than the required sum of {required_sum}")
    if required_sum - high_sum > EPSILON:
        raise ValueError(f"upper bounds sum to {high_sum}, which is lower than the required sum of {required_sum}")
    if required_sum == 0:
        return [0.0] * len(items), 0.0
    if low_sum - required_sum > -EPSILON:
        return [item.lower for item in items], min(i.lower / t for i, t in zip(items, targets, strict=True))
    if required_sum - high_sum > -EPSILON:
        return [item.upper for item in items], max(i.upper / t for i, t in zip(items, targets, strict=True))

    def total(prop: float) -> float:
        return sum(min(i.upper, max(i.lower, prop * t)) for i, t in zip(items, targets, strict=True))

    # total() is non-decreasing and linear between the bounds' breakpoints.
    points = sorted({i.lower / t for i, t in zip(items, targets, strict=True)}
                    | {i.upper / t for i, t in zip(items, targets, strict=True)})
    prop, prev, prev_total = points[-1], points[0], total(points[0])
    for point in points[1:]:
        point_total = total(point)
        if point_total >= required_sum:
            slope = (point_total - prev_total) / (point - prev)
            prop = prev + (required_sum - prev_total) / slope if slope > 0 else point
            break
        prev, prev_total = point, point_total
    return [min(i.upper, max(i.lower, prop * t)) for i, t in zip(items, targets, strict=True)], prop
