"""The measurements that watch pods through the API, run by the load worker next to its
client: PodStartupLatency, SchedulingThroughput and WaitForControlledPodsRunning, after
clusterloader2's pkg/measurement/common (pod_startup_latency.go, scheduling_throughput.go,
wait_for_controlled_pods.go).

PodStartupLatency: a watch on the selected pods records, for each pod seen Running the
first time, its creationTimestamp, the latest container `startedAt` (run) and the watcher's
clock (watch); at gather the schedule time comes from the scheduler's `Scheduled` events
(firstTimestamp, `source=default-scheduler`). Phases: create_to_schedule, schedule_to_run,
run_to_watch, schedule_to_watch and pod_startup (create to watch), each p50/p90/p99; the SLO
is pod_startup p99 <= threshold (5 s, the stateless pod startup SLO). API timestamps have
whole seconds, as on a real cluster.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from kubesim.api import meta, selectors, status
from kubesim.components.client.api import APIClient, Obj
from kubesim.loadgen.histogram import latency_summary, percentile
from kubesim.loadgen.watcher import ListWatch

DEFAULT_POD_STARTUP_THRESHOLD = 5.0  # sig-scalability pod startup SLO
SUCCESSFUL_STARTUP_RATIO = 0.99  # cl2 successfulStartupRatioThreshold
DEFAULT_THROUGHPUT_INTERVAL = 5.0  # cl2 defaultSchedulingThroughputInterval
WAIT_POLL = 5.0  # seconds between WaitForControlledPodsRunning checks


class Clock:
    """What a pod measurement needs from where it runs: Unix time now, sleeping, tasks."""

    def __init__(self, now: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 spawn: Callable[[Any], asyncio.Task[Any]]) -> None:
        self.now = now
        self.sleep = sleep
        self.spawn = spawn


def _key(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


class PodStartupLatency:
    def __init__(self, client: APIClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self.watch: ListWatch | None = None
        self.create: dict[str, float] = {}
        self.run: dict[str, float] = {}
        self.watched: dict[str, float] = {}
        self.namespace = ""
        self.threshold = DEFAULT_POD_STARTUP_THRESHOLD

    async def start(self, params: dict[str, Any]) -> None:
        self.namespace = str(params.get("namespace") or "")
        self.threshold = float(params.get("threshold", DEFAULT_POD_STARTUP_THRESHOLD))
        self.watch = ListWatch(self.client, "pods", self._check, namespace=self.namespace,
                               label_selector=str(params.get("labelSelector") or ""),
                               field_selector=str(params.get("fieldSelector") or ""), sleep=self.clock.sleep)
        self.clock.spawn(self.watch.run())
        await self.watch.synced.wait()

    def _check(self, pod: Obj, _event: str) -> None:
        if (pod.get("status") or {}).get("phase") != "Running":
            return
        key = _key(pod)
        if key in self.watched:
            return
        self.watched[key] = self.clock.now()
        self.create[key] = meta.parse_timestamp(pod["metadata"]["creationTimestamp"])
        started = [meta.parse_timestamp(cs["state"]["running"]["startedAt"])
                   for cs in (pod.get("status") or {}).get("containerStatuses") or []
                   if (cs.get("state") or {}).get("running", {}).get("startedAt")]
        if started:
            self.run[key] = max(started)

    async def _schedule_times(self) -> dict[str, float]:
        events = await self.client.list("events", self.namespace,
                                        field_selector="involvedObject.kind=Pod,source=default-scheduler")
        out: dict[str, float] = {}
        for event in events.get("items") or []:
            if event.get("reason") != "Scheduled":
                continue
            involved = event.get("involvedObject") or {}
            key = f"{involved.get('namespace', '')}/{involved.get('name', '')}"
            stamp = event.get("eventTime") or event.get("firstTimestamp")
            if key in self.create and stamp:
                out[key] = meta.parse_timestamp(stamp)
        return out

    async def gather(self, _params: dict[str, Any]) -> dict[str, Any]:
        if self.watch is None:
            raise ValueError("PodStartupLatency: gather before start")
        await self.watch.stop()
        scheduled = await self._schedule_times()
        lags: dict[str, list[float]] = {k: [] for k in
                                        ("create_to_schedule", "schedule_to_run", "run_to_watch",
                                         "schedule_to_watch", "pod_startup")}
        pods = []
        for key, created in sorted(self.create.items()):
            sched, run, watch = scheduled.get(key), self.run.get(key), self.watched[key]
            if sched is None or run is None:
                continue
            lags["create_to_schedule"].append(sched - created)
            lags["schedule_to_run"].append(run - sched)
            lags["run_to_watch"].append(watch - run)
            lags["schedule_to_watch"].append(watch - sched)
            lags["pod_startup"].append(watch - created)
            pods.append([key, created, sched, run, watch])
        summary = {name: latency_summary(values) for name, values in lags.items()}
        p99 = summary["pod_startup"]["perc99"]
        measured = len(lags["pod_startup"])
        slos = [{"name": "pod startup p99", "threshold": self.threshold, "value": p99,
                 "pass": bool(measured) and p99 <= self.threshold}]
        error = None
        if self.create and measured / len(self.create) < SUCCESSFUL_STARTUP_RATIO:
            error = f"only {100 * measured / len(self.create):.1f}% of the pods seen running have schedule and run times"
        return {"summary": summary, "slos": slos, "error": error, "pods_running": len(self.watched),
                "pods_measured": measured, "samples": pods}


class SchedulingThroughput:
    def __init__(self, client: APIClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self.scheduled: set[str] = set()
        self.throughputs: list[float] = []
        self.timeline: list[list[float]] = []  # [unix time, pods scheduled so far]
        self.watch: ListWatch | None = None
        self.sampler: asyncio.Task[Any] | None = None
        self.interval = DEFAULT_THROUGHPUT_INTERVAL

    async def start(self, params: dict[str, Any]) -> None:
        self.interval = float(params.get("measurmentInterval", params.get("measurementInterval",
                                                                           DEFAULT_THROUGHPUT_INTERVAL)))
        self.watch = ListWatch(self.client, "pods", self._check, namespace=str(params.get("namespace") or ""),
                               label_selector=str(params.get("labelSelector") or ""),
                               field_selector=str(params.get("fieldSelector") or ""), sleep=self.clock.sleep)
        self.clock.spawn(self.watch.run())
        await self.watch.synced.wait()
        self.sampler = self.clock.spawn(self._sample())

    def _check(self, pod: Obj, event: str) -> None:
        if event != "DELETED" and (pod.get("spec") or {}).get("nodeName"):
            self.scheduled.add(_key(pod))

    async def _sample(self) -> None:
        last = len(self.scheduled)
        self.timeline.append([self.clock.now(), float(last)])
        while True:
            await self.clock.sleep(self.interval)
            count = len(self.scheduled)
            self.throughputs.append((count - last) / self.interval)
            self.timeline.append([self.clock.now(), float(count)])
            last = count

    async def gather(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.watch is None or self.sampler is None:
            raise ValueError("SchedulingThroughput: gather before start")
        self.sampler.cancel()
        await self.watch.stop()
        values = sorted(self.throughputs)
        summary = {"perc50": percentile(values, 50), "perc90": percentile(values, 90),
                   "perc99": percentile(values, 99), "max": values[-1] if values else math.nan,
                   "intervals": len(values), "interval_seconds": self.interval,
                   "pods_scheduled": len(self.scheduled)}
        threshold = float(params.get("threshold", 0) or 0)
        slos = []
        if threshold > 0:
            slos.append({"name": "scheduling throughput max", "threshold": threshold, "value": summary["max"],
                         "pass": bool(values) and summary["max"] >= threshold, "higher_is_better": True})
        return {"summary": summary, "slos": slos, "error": None, "timeline": self.timeline}


class WaitForControlledPodsRunning:
    """At gather, waits (polling) until every selected controller has as many Running pods
    as its spec.replicas; an error after operationTimeout."""

    RESOURCES = {"Deployment": "deployments.apps", "ReplicaSet": "replicasets.apps",
                 "DaemonSet": "daemonsets.apps", "Job": "jobs.batch"}

    def __init__(self, client: APIClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self.params: dict[str, Any] = {}

    async def start(self, params: dict[str, Any]) -> None:
        self.params = dict(params)

    async def _pending(self) -> tuple[int, int, list[str]]:
        resource = self.RESOURCES[str(self.params.get("kind", "Deployment"))]
        controllers = (await self.client.list(resource, label_selector=str(self.params.get("labelSelector") or "")))
        pods = (await self.client.list("pods")).get("items") or []
        by_ns: dict[str, list[Obj]] = {}
        for pod in pods:
            if not (pod.get("metadata") or {}).get("deletionTimestamp"):
                by_ns.setdefault(pod["metadata"].get("namespace", ""), []).append(pod)
        waiting = []
        total = 0
        for ctl in controllers.get("items") or []:
            spec = ctl.get("spec") or {}
            want = int(spec.get("replicas", 1)) if "replicas" in spec or resource != "daemonsets.apps" else 0
            if resource == "jobs.batch":
                want = int(spec.get("parallelism", 1))
            sel = selectors.from_label_selector(spec.get("selector"))
            running = sum(1 for p in by_ns.get(ctl["metadata"].get("namespace", ""), [])
                          if sel.matches((p.get("metadata") or {}).get("labels"))
                          and (p.get("status") or {}).get("phase") == "Running")
            total += 1
            if running < want:
                waiting.append(f"{ctl['metadata'].get('namespace')}/{ctl['metadata']['name']} ({running}/{want})")
        return total, len(waiting), waiting

    async def gather(self, _params: dict[str, Any]) -> dict[str, Any]:
        timeout = float(self.params.get("operationTimeout", 600.0))
        started = self.clock.now()
        while True:
            try:
                total, waiting, names = await self._pending()
            except status.APIError as exc:
                total, waiting, names = 0, -1, [f"{exc.code}: {exc}"]
            waited = self.clock.now() - started
            if waiting == 0:
                return {"summary": {"controllers": total, "waited_seconds": waited}, "slos": [], "error": None}
            if waited >= timeout:
                return {"summary": {"controllers": total, "waited_seconds": waited, "not_running": names[:10]},
                        "slos": [], "error": f"{waiting} of {total} controllers not running within {timeout:g}s: "
                                            f"{', '.join(names[:5])}"}
            await self.clock.sleep(WAIT_POLL)


WORKER_MEASUREMENTS: dict[str, type] = {
    "PodStartupLatency": PodStartupLatency,
    "SchedulingThroughput": SchedulingThroughput,
    "WaitForControlledPodsRunning": WaitForControlledPodsRunning,
}
