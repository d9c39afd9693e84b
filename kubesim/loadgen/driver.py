"""The load-test driver: clusterloader2's simpleTestExecutor over a target.

It creates the automanaged namespaces (`<prefix>-1` .. `<prefix>-N`), runs the steps in
order (the phases of one step together, the measurements of one step in order), keeps
the state of what each phase made (replicas per namespace of each bundle's basename, as
cl2's `instancesStates`), and turns a phase into operations: with more replicas wanted
than exist the missing `<basename>-<i>` are created, with fewer the extra ones deleted,
with as many the existing ones updated (a merge patch of the re-rendered object). Object
templates see `.Name`, `.Index`, `.Namespace` and the bundle's templateFillMap.

While it runs, a sampler reads the apiserver's request-duration histograms every
`TIMELINE_PERIOD` target seconds (per-interval p50/p99 and request rate, mutating and
read-only: the report's latency-over-time plot), and a progress display shows the step,
phase, operations done, rate and errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kubesim.loadgen.config import LoadConfig, Phase, resource_of
from kubesim.loadgen.histogram import Histogram, aggregate, increase
from kubesim.loadgen.measurements import DRIVER, METHODS, seconds
from kubesim.loadgen.measurements.metrics import (
    MUTATING,
    REQUEST_DURATION,
    APIResponsiveness,
    EtcdMetrics,
    NetworkProgrammingLatency,
    SimulatorResourceUsage,
)

TIMELINE_PERIOD = 1.0  # target seconds between apiserver latency samples
PROGRESS_PERIOD = 1.0


@dataclass
class Outcome:
    """What the run produced (the JSON result is built from it)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    calls: list[list[Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ops_ok: int = 0
    ops_failed: int = 0


class Driver:
    def __init__(self, config: LoadConfig, target: Any, console: Console | None, prefix: str) -> None:
        self.config = config
        self.target = target
        self.console = console
        self.prefix = prefix
        self.state: dict[tuple[str, str], int] = {}  # (namespace, basename) -> replicas
        self.outcome = Outcome()
        self.driver_measurements: dict[str, Any] = {}
        self.started_at: dict[str, float] = {}  # identifier -> target time of its start
        self.progress: Progress | None = None

    def namespaces(self) -> list[str]:
        return [f"{self.prefix}-{i}" for i in range(1, self.config.model.namespace.number + 1)]

    async def run(self) -> Outcome:
        timeline = Timeline(self.target, self.outcome.timeline)
        await timeline.sample()
        sampler = asyncio.ensure_future(timeline.run())
        try:
            with self._progress() as progress:
                self.progress = progress
                if self.namespaces():
                    result = await self._watched("namespaces", "create namespaces", len(self.namespaces()),
                                                 {"create": self.namespaces()})
                    self._account("create namespaces", result)
                for i, step in enumerate(self.config.model.steps):
                    started = self.target.now()
                    wall = time.perf_counter()
                    if step.phases:
                        await self._phases(i, step.name, step.phases)
                    else:
                        for m in step.measurements:
                            await self._measurement(step.name, m.identifier, m.method, m.params)
                    self.outcome.steps.append({"name": step.name or f"step {i}", "started": started,
                                               "seconds": self.target.now() - started,
                                               "wall_seconds": time.perf_counter() - wall})
                if self.config.model.namespace.delete_automanaged_namespaces and self.namespaces():
                    result = await self._watched("namespaces", "delete namespaces", len(self.namespaces()),
                                                 {"delete": self.namespaces()})
                    self._account("delete namespaces", result)
        finally:
            sampler.cancel()
        await timeline.sample()
        return self.outcome

    def _progress(self) -> Any:
        if self.console is None:
            from contextlib import nullcontext

            return nullcontext(None)
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=self.console,
                        transient=False)

    def _account(self, what: str, result: dict[str, Any]) -> None:
        self.outcome.ops_ok += result["ok"]
        self.outcome.ops_failed += result["errors"]
        self.outcome.calls += result["calls"]
        for sample in result["error_samples"]:
            self.outcome.errors.append(f"{what}: {sample}")

    async def _watched(self, op: str, title: str, total: int, request: Any) -> Any:
        """A worker call with a progress line polled until it answers."""
        call = asyncio.ensure_future(self.target.worker(op, request))
        task = self.progress.add_task(title, total=total or None, state="") if self.progress else None
        base = await self.target.worker("progress")
        t0 = self.target.now()
        while not call.done():
            tick = asyncio.ensure_future(self.target.sleep(PROGRESS_PERIOD))
            await asyncio.wait([call, tick], return_when=asyncio.FIRST_COMPLETED)
            tick.cancel()
            if self.progress is not None and task is not None and not call.done():
                now = await self.target.worker("progress")
                done = now["ok"] + now["errors"] - base["ok"] - base["errors"]
                elapsed = max(self.target.now() - t0, 1e-9)
                self.progress.update(task, completed=done, state=(
                    f"t={self.target.now():.0f}s {done / elapsed:.1f} ops/s errors {now['errors'] - base['errors']}"))
        result = call.result()
        if self.progress is not None and task is not None:
            if isinstance(result, dict) and "ok" in result:
                elapsed = max(self.target.now() - t0, 1e-9)
                done = result["ok"] + result["errors"]
                self.progress.update(task, completed=done, state=(
                    f"t={self.target.now():.0f}s {done / elapsed:.1f} ops/s errors {result['errors']}"))
            else:
                self.progress.update(task, completed=total, state=f"t={self.target.now():.0f}s")
        return result

    # phases ---------------------------------------------------------------------
    def _ops(self, phase: Phase) -> list[dict[str, Any]]:
        rng = phase.namespace_range
        if rng is None:
            namespaces = [""]
        else:
            base = rng.basename or self.prefix
            namespaces = [f"{base}-{i}" for i in range(rng.min, rng.max + 1)]
        ops: list[dict[str, Any]] = []
        want = phase.replicas_per_namespace
        for ns in namespaces:
            for bundle in phase.object_bundle:
                have = self.state.get((ns, bundle.basename), 0)
                if want == have:
                    ops += [self._op("patch", ns, bundle, i) for i in range(have)]
                ops += [self._op("create", ns, bundle, i) for i in range(have, want)]
                ops += [self._op("delete", ns, bundle, i) for i in range(want, have)]
                self.state[(ns, bundle.basename)] = want
        return ops

    def _op(self, verb: str, ns: str, bundle: Any, index: int) -> dict[str, Any]:
        name = f"{bundle.basename}-{index}"
        params = {**bundle.template_fill_map, "Name": name, "Index": index, "Namespace": ns}
        obj = self.config.render_object(bundle.object_template_path, params)
        resource, namespaced = resource_of(obj)
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if namespaced:
            meta["namespace"] = ns
        op = {"verb": verb, "resource": resource, "namespace": ns if namespaced else "", "name": name}
        if verb != "delete":
            op["object"] = obj
        else:
            op["propagation"] = "Background"
        return op

    async def _phases(self, index: int, name: str, phases: list[Phase]) -> None:
        calls = []
        for p, phase in enumerate(phases):
            ops = self._ops(phase)
            title = f"{name or f'step {index}'}" + (f" [{p}]" if len(phases) > 1 else "")
            request = {"tuning": self.config.tuning_set(phase.tuning_set).spec(), "ops": ops}
            calls.append((title, self._watched("phase", title, len(ops), request)))
        results = await asyncio.gather(*(c for _t, c in calls))
        for (title, _c), result in zip(calls, results, strict=True):
            self._account(title, result)

    # measurements ---------------------------------------------------------------
    def _driver_measurement(self, method: str) -> Any:
        samples: Callable[..., Any] = self.target.samples
        if method.startswith("APIResponsivenessPrometheus"):
            return APIResponsiveness(samples)
        if method == "NetworkProgrammingLatency":
            return NetworkProgrammingLatency(samples)
        if method == "EtcdMetrics":
            return EtcdMetrics(samples)
        if method == "SimulatorResourceUsage":
            return SimulatorResourceUsage(self.target.now)
        raise ValueError(f"{method} is not a driver measurement")

    async def _measurement(self, step: str, identifier: str, method: str, raw: dict[str, Any]) -> None:
        params = seconds(raw)
        action = params.get("action", "")
        if method == "Sleep":
            await self._watched_sleep(f"{step}: sleep", float(params["duration"]))
            return
        started = self.target.now()
        if action == "start":
            self.started_at[identifier] = started
        if METHODS[method].side == DRIVER:
            if action == "start":
                m = self._driver_measurement(method)
                self.driver_measurements[identifier] = m
                await m.start(params)
                return
            m = self.driver_measurements.pop(identifier, None)
            result = (await m.gather(params) if m is not None
                      else {"summary": {}, "slos": [], "error": f"{identifier}: gather without start"})
        else:
            request = {"identifier": identifier, "method": method, "action": action, "params": params}
            if action == "start":
                await self.target.worker("measure", request)
                return
            result = await self._watched("measure", f"{step}: {identifier}", 1, request)
        self.outcome.measurements.append({"identifier": identifier, "method": method, "step": step,
                                          "window": [self.started_at.pop(identifier, None), started],
                                          "gather_seconds": self.target.now() - started, **result})

    async def _watched_sleep(self, title: str, duration: float) -> None:
        task = self.progress.add_task(title, total=None, state="") if self.progress else None
        await self.target.sleep(duration)
        if self.progress is not None and task is not None:
            self.progress.update(task, total=1, completed=1, state=f"t={self.target.now():.0f}s")



class Timeline:
    """The apiserver's request latency over time: every `TIMELINE_PERIOD` target seconds, the
    increase of apiserver_request_duration_seconds since the previous sample, mutating and
    read-only calls apart (p50, p99, rate)."""

    def __init__(self, target: Any, points: list[dict[str, Any]]) -> None:
        self.target = target
        self.points = points
        self.before: dict[tuple[str, ...], Histogram] | None = None
        self.t_before = 0.0

    async def run(self) -> None:
        while True:
            await self.target.sleep(TIMELINE_PERIOD)
            await self.sample()

    async def sample(self) -> None:
        after = aggregate(await self.target.samples([REQUEST_DURATION]), REQUEST_DURATION, ("verb",))
        now = self.target.now()
        if self.before is not None and now > self.t_before:
            delta = increase(self.before, after)
            point: dict[str, Any] = {"t": now}
            for cls in ("mutating", "readonly"):
                merged = Histogram()
                for (verb,), hist in delta.items():
                    if verb in ("WATCH", "WATCHLIST", "CONNECT") or (verb in MUTATING) != (cls == "mutating"):
                        continue
                    for le, count in hist.buckets.items():
                        merged.buckets[le] = merged.buckets.get(le, 0.0) + count
                    merged.count += hist.count
                    merged.sum += hist.sum
                point[cls] = {"count": merged.count, "rate": merged.count / (now - self.t_before),
                              "p50": merged.quantile(0.5) if merged.count else None,
                              "p99": merged.quantile(0.99) if merged.count else None}
            self.points.append(point)
        self.before, self.t_before = after, now
