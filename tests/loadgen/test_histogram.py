import math

from kubesim.loadgen.histogram import Histogram, aggregate, histogram_quantile, increase, percentile


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 99.0), (math.inf, 100.0)]
    assert math.isclose(histogram_quantile(0.5, buckets), 0.1)  # rank 50 ends the first bucket
    assert math.isclose(histogram_quantile(0.25, buckets), 0.05)  # first bucket from 0
    assert math.isclose(histogram_quantile(0.7, buckets), 0.1 + 0.4 * (70 - 50) / 40)
    # rank in +Inf: the upper bound of the last finite bucket
    assert histogram_quantile(0.999, buckets) == 1.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))


def test_aggregate_sums_series_and_increase_subtracts():
    def samples(n):
        return [("d_bucket", {"verb": "GET", "instance": i, "le": le}, float(n * c))
                for i in ("a", "b") for le, c in (("1.0", 1), ("+Inf", 2))] + \
               [("d_count", {"verb": "GET", "instance": i}, float(2 * n)) for i in ("a", "b")] + \
               [("d_sum", {"verb": "GET", "instance": i}, float(n)) for i in ("a", "b")]

    before, after = aggregate(samples(1), "d", ("verb",)), aggregate(samples(3), "d", ("verb",))
    assert after[("GET",)].buckets == {1.0: 6.0, math.inf: 12.0}
    delta = increase(before, after)[("GET",)]
    assert delta.count == 8 and delta.buckets == {1.0: 4.0, math.inf: 8.0} and delta.sum == 4
    # a reset series counts from zero
    assert increase(after, before)[("GET",)].count == 4
    assert Histogram({1.0: 1, math.inf: 1}, 1, 0).count_at_most(1.0) == 1


def test_percentile_is_clusterloader2s():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 90) == 90
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
