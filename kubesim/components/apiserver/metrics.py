"""kube-apiserver's Prometheus metrics, with the real names, labels and buckets.

Follows k8s.io/apiserver pkg/endpoints/metrics/metrics.go (request counters and latencies,
long-running requests, in-flight gauges, response sizes), pkg/storage/cacher/metrics
(watch events, registered watchers), pkg/storage/etcd3/metrics (etcd request latency, stored
object counts) and pkg/util/flowcontrol/metrics (APF). Flow control itself is pure: it hands
over snapshots (`FlowControlMetrics`) that `export_flow_control` copies into the families.
prometheus-client adds `_total` to counter names, so counters are created without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubesim.components.apiserver.flowcontrol import FlowControlMetrics, WaitObservation
from kubesim.components.etcd.backend import EtcdBackend
from kubesim.runtime.metrics import BoundMetric, MetricsHandle

COMPONENT = "apiserver"
# metrics.go requestLatencies and etcd3 metrics etcdRequestLatency share these buckets
REQUEST_DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0,
                            3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
# flowcontrol metrics.go requestDurationSecondsBuckets
FLOWCONTROL_WAIT_BUCKETS = (0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0,
                            30.0)

_REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope",
                   "component")
_LONGRUNNING_LABELS = ("verb", "group", "version", "resource", "subresource", "scope",
                       "component")
_GVK = ("group", "version", "kind")


def scope(info: Mapping[str, Any]) -> str:
    """The `scope` label (metrics.go `CleanScope`)."""
    if info.get("name") or info.get("verb") == "create":
        return "resource"
    if info.get("namespace"):
        return "namespace"
    if info.get("resource_request"):
        return "cluster"
    return ""


def reported_verb(info: Mapping[str, Any]) -> str:
    """The `verb` label (metrics.go `CleanVerb` over the HTTP method): GET, LIST, WATCH,
    POST, PUT, PATCH, APPLY, DELETE (also for deletecollection)."""
    verb = info.get("verb", "")
    if verb == "watch":
        return "WATCH"
    if verb == "list":
        return "LIST"
    if verb == "patch" and str(info.get("content_type", "")).startswith("application/apply-patch"):
        return "APPLY"
    return {"get": "GET", "create": "POST", "update": "PUT", "patch": "PATCH",
            "delete": "DELETE", "deletecollection": "DELETE"}.get(verb, verb.upper())


def dry_run_label(info: Mapping[str, Any]) -> str:
    """metrics.go `cleanDryRun`: the sorted, de-duplicated dryRun values joined by ','."""
    value = (info.get("query") or {}).get("dryRun", "")
    return ",".join(sorted(set(v for v in value.split(",") if v)))


class ApiserverMetrics:
    """The families one apiserver replica exports."""

    def __init__(self, handle: MetricsHandle) -> None:
        self.requests = handle.counter(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            (*_REQUEST_LABELS, "code"),
        )
        self.request_duration = handle.histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            _REQUEST_LABELS, REQUEST_DURATION_BUCKETS,
        )
        self.longrunning = handle.gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component. Not all requests are tracked this way.",
            _LONGRUNNING_LABELS,
        )
        self.storage_objects = handle.gauge(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind. In case of a "
            "fetching error, the value will be -1.",
            ("resource",),
        )
        self.watch_events = handle.counter(
            "apiserver_watch_events", "Number of events sent in watch clients", _GVK
        )
        self.registered_watchers = handle.gauge(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resources", _GVK,
        )
        self.etcd_request_duration = handle.histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ("operation", "type"), REQUEST_DURATION_BUCKETS,
        )
        self._flow = _FlowControlFamilies(handle)

    # -------------------------------------------------------------- requests
    def observe_request(self, info: Mapping[str, Any], code: int, seconds: float) -> None:
        """One finished resource request (a watch: when its stream ends)."""
        verb, labels = reported_verb(info), _labels(info)
        dry_run = dry_run_label(info)
        self.requests.labels(verb, dry_run, *labels, COMPONENT, str(code)).inc()
        self.request_duration.labels(verb, dry_run, *labels, COMPONENT).observe(seconds)

    def longrunning_started(self, info: Mapping[str, Any]) -> None:
        self._longrunning(info).inc()

    def longrunning_ended(self, info: Mapping[str, Any]) -> None:
        self._longrunning(info).dec()

    def _longrunning(self, info: Mapping[str, Any]) -> BoundMetric:
        return self.longrunning.labels(reported_verb(info), *_labels(info), COMPONENT)

    # -------------------------------------------------------------- watch cache
    def watch_event(self, group: str, version: str, kind: str) -> None:
        self.watch_events.labels(group, version, kind).inc()

    def watcher_registered(self, group: str, version: str, kind: str, delta: int) -> None:
        self.registered_watchers.labels(group, version, kind).inc(delta)

    # -------------------------------------------------------------- flow control
    def export_flow_control(self, snapshot: FlowControlMetrics,
                            waits: list[WaitObservation]) -> None:
        self._flow.export(snapshot, waits)


def _labels(info: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    return (info.get("group", ""), info.get("version", ""), info.get("resource", ""),
            info.get("subresource", ""), scope(info))


class _FlowControlFamilies:
    """apiserver_flowcontrol_* and the in-flight gauges, fed from flow-control snapshots."""

    def __init__(self, handle: MetricsHandle) -> None:
        pl_fs = ("priority_level", "flow_schema")
        self.inqueue = handle.gauge(
            "apiserver_flowcontrol_current_inqueue_requests",
            "Number of requests currently pending in queues of the API Priority and Fairness "
            "subsystem", pl_fs)
        self.executing = handle.gauge(
            "apiserver_flowcontrol_current_executing_requests",
            "Number of requests in initial (for a WATCH) or any (for a non-WATCH) execution "
            "stage in the API Priority and Fairness subsystem", pl_fs)
        self.rejected = handle.counter(
            "apiserver_flowcontrol_rejected_requests",
            "Number of requests rejected by API Priority and Fairness subsystem",
            (*pl_fs, "reason"))
        self.dispatched = handle.counter(
            "apiserver_flowcontrol_dispatched_requests",
            "Number of requests executed by API Priority and Fairness subsystem", pl_fs)
        self.nominal = handle.gauge(
            "apiserver_flowcontrol_nominal_limit_seats",
            "Nominal number of execution seats configured for each priority level",
            ("priority_level",))
        self.current = handle.gauge(
            "apiserver_flowcontrol_current_limit_seats",
            "current derived number of execution seats available to each priority level",
            ("priority_level",))
        self.wait = handle.histogram(
            "apiserver_flowcontrol_request_wait_duration_seconds",
            "Length of time a request spent waiting in its queue",
            (*pl_fs, "execute"), FLOWCONTROL_WAIT_BUCKETS)
        self.inflight = handle.gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.", ("request_kind",))
        self.dropped = handle.counter(
            "apiserver_dropped_requests",
            "Number of requests dropped with 'Try again later' response", ("request_kind",))
        self._seen: dict[tuple[str, tuple[str, ...]], int] = {}

    def export(self, snap: FlowControlMetrics, waits: list[WaitObservation]) -> None:
        for key, value in snap.current_inqueue_requests.items():
            self.inqueue.labels(*key).set(value)
        for key, value in snap.current_executing_requests.items():
            self.executing.labels(*key).set(value)
        for name, value in snap.nominal_limit_seats.items():
            self.nominal.labels(name).set(value)
        for name, value in snap.current_limit_seats.items():
            self.current.labels(name).set(value)
        for kind, value in snap.current_inflight_requests.items():
            self.inflight.labels(kind).set(value)
        self._count("rejected", self.rejected, snap.rejected_requests_total)
        self._count("dispatched", self.dispatched, snap.dispatched_requests_total)
        self._count("dropped", self.dropped,
                    {(k,): v for k, v in snap.dropped_requests_total.items()})
        for w in waits:
            self.wait.labels(w.priority_level, w.flow_schema, str(w.execute).lower()).observe(
                w.seconds)

    def _count(self, family: str, metric: BoundMetric,
               totals: Mapping[tuple[str, ...], int]) -> None:
        """Counters from cumulative totals: add what grew since the last export."""
        for key, total in totals.items():
            seen = self._seen.get((family, key), 0)
            if total > seen:
                metric.labels(*key).inc(total - seen)
                self._seen[(family, key)] = total


# ----------------------------------------------------------------------------- etcd requests
def etcd_operation(op: str, req: Mapping[str, Any]) -> str | None:
    """The `operation` label etcd3/store.go records for an etcd request, or None for
    requests the store does not time (watch, leases, status, compaction)."""
    if op == "range":
        if req.get("count_only"):
            return "listWithCount"
        return "list" if req.get("range_end") else "get"
    if op == "put":
        return "update"
    if op == "delete_range":
        return "delete"
    if op != "txn":
        return None
    branch = list(req.get("success") or ())
    if any("request_delete_range" in o for o in branch):
        return "delete"
    if any("request_put" in o for o in branch):
        creating = any(c.get("target") == "CREATE" or "create_revision" in c
                       for c in req.get("compare") or ())
        return "create" if creating else "update"
    return "get"


def _first_key(op: str, req: Mapping[str, Any]) -> bytes:
    if op != "txn":
        return bytes(req.get("key", b""))
    for c in req.get("compare") or ():
        return bytes(c.get("key", b""))
    for o in req.get("success") or ():
        inner = next(iter(o.values()))
        return bytes(inner.get("key", b""))
    return b""


class InstrumentedBackend:
    """An EtcdBackend that times every store request into etcd_request_duration_seconds.

    The `type` label is the resource the key belongs to ("pods", "deployments.apps"), as
    etcd3/store.go passes its groupResource; `resource_of` maps a key to it."""

    def __init__(self, backend: EtcdBackend, metrics: ApiserverMetrics,
                 now: Callable[[], float], resource_of: Callable[[bytes], str]) -> None:
        self._backend = backend
        self._metrics = metrics
        self._now = now
        self._resource_of = resource_of

    async def _timed(self, op: str, req: Mapping[str, Any]) -> Any:
        operation = etcd_operation(op, req)
        started = self._now()
        try:
            return await getattr(self._backend, op)(req)
        finally:
            if operation is not None:
                kind = self._resource_of(_first_key(op, req))
                self._metrics.etcd_request_duration.labels(operation, kind).observe(
                    self._now() - started)

    async def range(self, req: Mapping[str, Any]) -> Any:
        return await self._timed("range", req)

    async def put(self, req: Mapping[str, Any]) -> Any:
        return await self._timed("put", req)

    async def delete_range(self, req: Mapping[str, Any]) -> Any:
        return await self._timed("delete_range", req)

    async def txn(self, req: Mapping[str, Any]) -> Any:
        return await self._timed("txn", req)

    def __getattr__(self, name: str) -> Any:
        """compact, leases, status and watch pass through untimed."""
        return getattr(self._backend, name)
