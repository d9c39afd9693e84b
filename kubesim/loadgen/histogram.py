"""Prometheus arithmetic the measurements need, done on raw samples instead of PromQL:
`increase()` of a histogram between two scrapes summed `by (...)` labels, and
`histogram_quantile()` as Prometheus computes it (promql/quantile.go: linear interpolation
inside the bucket holding the rank, the lower bound of the first bucket taken as 0, and the
upper bound of the last finite bucket when the rank falls in +Inf). Also clusterloader2's
percentile of raw latencies (the ceil(n*p/100)-th smallest).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Sample = tuple[str, dict[str, str], float]


@dataclass
class Histogram:
    """One aggregated histogram: cumulative bucket counts by upper bound, count and sum."""

    buckets: dict[float, float] = field(default_factory=dict)
    count: float = 0.0
    sum: float = 0.0

    def sorted_buckets(self) -> list[tuple[float, float]]:
        return sorted(self.buckets.items())

    def quantile(self, q: float) -> float:
        return histogram_quantile(q, self.sorted_buckets())

    def count_at_most(self, bound: float) -> float:
        """Observations <= `bound` (a bucket boundary)."""
        return self.buckets.get(bound, 0.0)


def _key(labels: dict[str, str], by: Sequence[str]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in by)


def aggregate(samples: Iterable[Sample], name: str, by: Sequence[str],
              keep: Iterable[tuple[str, ...]] | None = None) -> dict[tuple[str, ...], Histogram]:
    """`sum by (by)` of the histogram `name` (its _bucket, _count and _sum series)."""
    out: dict[tuple[str, ...], Histogram] = {}
    for sample_name, labels, value in samples:
        if not sample_name.startswith(name + "_"):
            continue
        suffix = sample_name[len(name) + 1:]
        if suffix not in ("bucket", "count", "sum"):
            continue
        hist = out.setdefault(_key(labels, by), Histogram())
        if suffix == "bucket":
            le = float(labels["le"])
            hist.buckets[le] = hist.buckets.get(le, 0.0) + value
        elif suffix == "count":
            hist.count += value
        else:
            hist.sum += value
    return out


def increase(before: dict[tuple[str, ...], Histogram],
             after: dict[tuple[str, ...], Histogram]) -> dict[tuple[str, ...], Histogram]:
    """What each histogram gained between two aggregations (a series absent before counts
    from zero; one whose count went down was reset, and counts from zero as Prometheus'
    counter-reset handling does)."""
    out: dict[tuple[str, ...], Histogram] = {}
    for key, now in after.items():
        was = before.get(key)
        if was is None or now.count < was.count:
            delta = Histogram(dict(now.buckets), now.count, now.sum)
        else:
            delta = Histogram({le: c - was.buckets.get(le, 0.0) for le, c in now.buckets.items()},
                              now.count - was.count, now.sum - was.sum)
        if delta.count > 0:
            out[key] = delta
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) pairs, sorted."""
    if not buckets or buckets[-1][0] != math.inf:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_le, count) in enumerate(buckets) if count >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0] if len(buckets) >= 2 else math.nan
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, lower_count = (0.0, 0.0) if b == 0 else (buckets[b - 1][0], buckets[b - 1][1])
    end, count = buckets[b][0], buckets[b][1] - lower_count
    return start + (end - start) * ((rank - lower_count) / count) if count else end


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """clusterloader2's percentile: the ceil(n*p/100)-th smallest value (nan when empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(len(sorted_values) * p / 100) - 1)]


def latency_summary(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"perc50": percentile(ordered, 50), "perc90": percentile(ordered, 90),
            "perc99": percentile(ordered, 99), "count": len(ordered)}
