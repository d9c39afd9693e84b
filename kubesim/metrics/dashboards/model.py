"""The dashboards' shape, independent of Grafana: dashboards of rows of panels of PromQL
queries, and the template variables the queries use.

One catalogue of these (`catalogue.py`) is rendered two ways: as Grafana dashboard JSON
(`grafana.py`, checked in under `dashboards/`) and as static SVG plots (`..static`).
Queries use Grafana's variables: `$cluster`, `$instance`, `$node`, `$host` (multi-value,
"All" is the regex `.*`) and `$__rate_interval`; `substitute` fills them for a direct query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

RATE = "$__rate_interval"
ALL = ".*"  # the value of a multi-value variable set to All (Grafana's `allValue`)


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel; `legend` is Grafana's legendFormat (`{{label}}`)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """A panel: a time series graph, or a stat showing the latest value of each series."""

    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = 12
    height: int = 8
    stack: bool = False
    #: stat colouring: (from value, colour), the first from is the base (-inf)
    thresholds: tuple[tuple[float | None, str], ...] = ()
    decimals: int | None = None


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A multi-value query variable filled from `label_values(<metric>, <label>)`."""

    name: str
    label: str
    metric: str  # a series selector, may use variables defined before this one
    label_name: str = ""

    @property
    def query(self) -> str:
        return f"label_values({self.metric}, {self.label_name or self.name})"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = field(default=("kubesim",))

    @property
    def filename(self) -> str:
        return f"{self.uid.removeprefix('kubesim-')}.json"

    def panels(self) -> Iterator[Panel]:
        for row in self.rows:
            yield from row.panels


_VARIABLE = re.compile(r"\$(__rate_interval|\w+)")


def substitute(expr: str, rate_interval: str, values: Mapping[str, str] | None = None) -> str:
    """`expr` with Grafana's variables replaced: `$__rate_interval` by `rate_interval`, every
    other variable by its value in `values` or by All (`.*`)."""
    given = values or {}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__rate_interval":
            return rate_interval
        return given.get(name, ALL)

    return _VARIABLE.sub(value, expr)
