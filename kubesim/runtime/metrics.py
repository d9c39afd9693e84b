"""Prometheus metrics for logical actors: per-process registries, handles with actor labels,
HTTP exposition on 127.0.0.1, and the file_sd targets file Prometheus reads.

Components create metrics with any name and labels through their `MetricsHandle`;
the handle adds the actor's own labels (`instance`, or `node` for node agents) so
many logical actors can share one process registry, and two actors asking for the
same metric get the same family. When the actor stops or crashes its series go
(`MetricsHandle.clear`), as a dead process' /metrics does; a restarted actor starts its
counters from zero, as a restarted process does (Prometheus' rate() and increase() read
the drop as a reset).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

_TYPES = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}
#: the gauge each host exports of its clock: with Prometheus' wall-clock timestamps it shows
#: how fast simulated time runs
SIMULATED_SECONDS = "kubesim_simulated_seconds"
SIMULATED_SECONDS_HELP = "Simulated seconds since the run started, by this host's clock."


class MetricsRegistry:
    """One process's registry, with the metric families created in it so far; with
    `process_metrics`, also the process' own (process_cpu_seconds_total,
    process_resident_memory_bytes, ...), as every Go binary of Kubernetes exports them."""

    def __init__(self, process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            ProcessCollector(registry=self.registry)
        self._families: dict[str, tuple[str, tuple[str, ...], Any]] = {}
        self._server: Any = None

    def family(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] | None = None,
    ) -> Any:
        """Get or create a family; asking for an existing name with another shape is an error."""
        key = tuple(labelnames)
        existing = self._families.get(name)
        if existing is not None:
            if existing[0] != kind or existing[1] != key:
                raise ValueError(
                    f"metric {name} already registered as {existing[0]} with labels {existing[1]}"
                )
            return existing[2]
        kwargs: dict[str, Any] = {"registry": self.registry}
        if kind == "histogram" and buckets is not None:
            kwargs["buckets"] = tuple(buckets)
        metric = _TYPES[kind](name, documentation, labelnames=key, **kwargs)
        self._families[name] = (kind, key, metric)
        return metric

    def handle(self, const_labels: Mapping[str, str]) -> MetricsHandle:
        return MetricsHandle(self, dict(const_labels))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format, as /metrics serves it."""
        return generate_latest(self.registry)

    def samples(self, names: Iterable[str]) -> list[tuple[str, dict[str, str], float]]:
        """The current samples (name, labels, value) of the families called `names` (as
        created, e.g. a counter without its `_total`); unknown names give nothing."""
        out = []
        for name in names:
            family = self._families.get(name)
            if family is None:
                continue
            for metric in family[2].collect():
                out += [(s.name, dict(s.labels), float(s.value)) for s in metric.samples]
        return out

    def serve(self, port: int = 0) -> int:
        """Expose /metrics over HTTP on 127.0.0.1; returns the bound port."""
        if self._server is None:
            server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
            self._server = server
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class BoundMetric:
    """A metric family seen through an actor's constant labels."""

    __slots__ = ("_metric", "_const", "_names", "_children", "_plain")

    def __init__(self, metric: Any, const: dict[str, str], names: tuple[str, ...]) -> None:
        self._metric = metric
        self._const = const
        self._names = names  # the family's label names: the constant ones, then the metric's
        self._children: dict[tuple[str, ...], tuple[Any, tuple[str, ...]]] = {}
        has_labels = len(names) > len(const)
        self._plain = None if has_labels else (metric.labels(**const) if const else metric)

    def labels(self, *values: str, **labels: str) -> Any:
        """The child for these label values (positional in declared order, or by name)."""
        key = values if values else tuple(f"{k}={v}" for k, v in labels.items())
        entry = self._children.get(key)
        if entry is None:
            if values:
                full = (*self._const.values(), *(str(v) for v in values))
            else:
                merged = {**self._const, **labels}
                full = tuple(str(merged[n]) for n in self._names)
            entry = self._children[key] = (self._metric.labels(*full), full)
        return entry[0]

    def _child(self) -> Any:
        if self._plain is None:
            raise ValueError("metric has labels: call .labels(...) first")
        return self._plain

    def inc(self, amount: float = 1.0) -> None:
        self._child().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._child().dec(amount)

    def set(self, value: float) -> None:
        self._child().set(value)

    def observe(self, value: float) -> None:
        self._child().observe(value)

    def set_function(self, read: Callable[[], float]) -> None:
        """A gauge whose value is read when scraped."""
        self._child().set_function(read)

    def remove(self, *values: str) -> None:
        """Forget one child (e.g. a pod that is gone)."""
        self._children.pop(values, None)
        try:
            self._metric.remove(*self._const.values(), *values)
        except KeyError:
            pass

    def clear(self) -> None:
        """Drop every series this actor made of the family (it needs constant labels to
        tell its series from other actors')."""
        if not self._const:
            return
        series = [full for _, full in self._children.values()]
        if self._plain is not None:
            series.append(tuple(self._const.values()))
        self._children.clear()
        for full in series:
            try:
                self._metric.remove(*full)
            except KeyError:
                pass


class MetricsHandle:
    """What a logical actor uses to create its metrics."""

    def __init__(self, registry: MetricsRegistry, const_labels: dict[str, str]) -> None:
        self._registry = registry
        self.const_labels = const_labels
        self._made: list[BoundMetric] = []

    def _make(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Iterable[str],
        buckets: Sequence[float] | None = None,
    ) -> BoundMetric:
        labels = tuple(labelnames)
        clash = set(labels) & set(self.const_labels)
        if clash:
            raise ValueError(f"metric {name}: labels {sorted(clash)} are set by the runtime")
        names = (*self.const_labels, *labels)
        family = self._registry.family(kind, name, documentation, names, buckets)
        bound = BoundMetric(family, self.const_labels, names)
        self._made.append(bound)
        return bound

    def clear(self) -> None:
        """The actor stopped or crashed: its series leave the registry."""
        for bound in self._made:
            bound.clear()
        self._made.clear()

    def counter(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> BoundMetric:
        return self._make("counter", name, documentation, labelnames)

    def gauge(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> BoundMetric:
        return self._make("gauge", name, documentation, labelnames)

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> BoundMetric:
        return self._make("histogram", name, documentation, labelnames, buckets)

    def exposition(self) -> bytes:
        """This actor's samples (those carrying its constant labels) in Prometheus' text
        format, as a component's own /metrics endpoint serves them."""
        return generate_latest(_OwnSamples(self._registry.registry, self.const_labels))


class _OwnSamples:
    """A registry view keeping only the samples whose labels include `const`."""

    def __init__(self, registry: CollectorRegistry, const: Mapping[str, str]) -> None:
        self._registry = registry
        self._const = dict(const)

    def collect(self) -> Iterable[Any]:
        for family in self._registry.collect():
            samples = [s for s in family.samples
                       if all(s.labels.get(k) == v for k, v in self._const.items())]
            if samples:
                family.samples = samples
                yield family


def write_file_sd(path: str | os.PathLike[str], targets: Iterable[tuple[str, Mapping[str, str]]]) -> Path:
    """Write a Prometheus file_sd JSON file: one group per (host:port, labels)."""
    groups = [{"targets": [target], "labels": dict(labels)} for target, labels in targets]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(groups, indent=2) + "\n")
    os.replace(tmp, out)
    return out
