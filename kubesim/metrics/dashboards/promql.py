"""Small PromQL builders the dashboard definitions share, so every panel spells a
selector, a rate and a histogram quantile the same way."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import RATE, Variable


def selector(*matchers: str, variables: tuple[str, ...] = ("cluster",)) -> str:
    """`{cluster=~"$cluster", ...}`: one regex matcher per variable, then `matchers`."""
    parts = [f'{v}=~"${v}"' for v in variables] + list(matchers)
    return "{" + ", ".join(parts) + "}"


def by(labels: tuple[str, ...]) -> str:
    return f" by ({', '.join(labels)})" if labels else ""


def rate(metric: str, sel: str, labels: tuple[str, ...] = (), agg: str = "sum") -> str:
    """`sum by (labels) (rate(metric{sel}[$__rate_interval]))`."""
    return f"{agg}{by(labels)} (rate({metric}{sel}[{RATE}]))"


def quantile(q: float, histogram: str, sel: str, labels: tuple[str, ...] = ()) -> str:
    """The q-quantile of a histogram over the rate interval, per `labels`."""
    return (f"histogram_quantile({q:g}, sum{by((*labels, 'le'))} "
            f"(rate({histogram}_bucket{sel}[{RATE}])))")


def cluster_variable(metric: str) -> Variable:
    """The `cluster` variable (the label the scrape config gives every series of a run)."""
    return Variable("cluster", "Cluster", metric)


def scoped_variable(name: str, label: str, metric: str) -> Variable:
    """A variable whose values are those of `metric` in the selected clusters."""
    return Variable(name, label, f'{metric}{{cluster=~"$cluster"}}')
