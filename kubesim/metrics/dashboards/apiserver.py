"""kube-apiserver: request rate and p99 by verb, resource and code, in-flight requests,
API Priority and Fairness queues and rejections, watch events and stored objects."""

from __future__ import annotations

from kubesim.metrics.dashboards.model import Dashboard, Panel, Query, Row
from kubesim.metrics.dashboards.promql import (
    cluster_variable,
    quantile,
    rate,
    scoped_variable,
    selector,
)

S = selector(variables=("cluster", "instance"))
NOT_LONG = selector('verb!~"WATCH|CONNECT"', variables=("cluster", "instance"))
ERRORS = selector('code=~"5..|429"', variables=("cluster", "instance"))

DASHBOARD = Dashboard(
    uid="kubesim-apiserver",
    title="kubesim / kube-apiserver",
    description="kube-apiserver replicas: requests, latency, flow control, watches and storage.",
    variables=(cluster_variable("apiserver_request_total"),
               scoped_variable("instance", "Instance", "apiserver_request_total")),
    rows=(
        Row("Requests", (
            Panel("Request rate by verb", "Requests per second by verb (apiserver_request_total).",
                  (Query(rate("apiserver_request_total", S, ("verb",)), "{{verb}}"),), unit="reqps", width=8),
            Panel("Request rate by resource", "Requests per second by resource.",
                  (Query(rate("apiserver_request_total", S, ("resource",)), "{{resource}}"),), unit="reqps",
                  width=8),
            Panel("Request rate by code", "Requests per second by HTTP status code.",
                  (Query(rate("apiserver_request_total", S, ("code",)), "{{code}}"),), unit="reqps", width=8),
            Panel("Request p99 by verb", "99th percentile latency by verb (long-running WATCH and CONNECT excluded).",
                  (Query(quantile(0.99, "apiserver_request_duration_seconds", NOT_LONG, ("verb",)), "{{verb}}"),),
                  unit="s"),
            Panel("Request p99 by resource", "99th percentile latency by resource and verb.",
                  (Query(quantile(0.99, "apiserver_request_duration_seconds", NOT_LONG, ("resource", "verb")),
                         "{{verb}} {{resource}}"),),
                  unit="s"),
            Panel("Request rate by instance", "Requests per second each replica serves.",
                  (Query(rate("apiserver_request_total", S, ("instance",)), "{{instance}}"),), unit="reqps"),
            Panel("Error ratio", "Share of requests answered 5xx or 429.",
                  (Query(f"{rate('apiserver_request_total', ERRORS, ('code',))} / scalar("
                         f"{rate('apiserver_request_total', S)})", "{{code}}"),),
                  unit="percentunit"),
        )),
        Row("In-flight and flow control", (
            Panel("In-flight requests", "Requests in flight by kind (mutating / read-only), per replica.",
                  (Query(f"sum by (instance, request_kind) (apiserver_current_inflight_requests{S})",
                         "{{instance}} {{request_kind}}"),), width=8),
            Panel("Long-running requests", "Open WATCH and other long-running requests by resource.",
                  (Query(f"sum by (resource) (apiserver_longrunning_requests{S})", "{{resource}}"),), width=8),
            Panel("Dropped requests", "Requests refused with 'Try again later' (max-inflight filter).",
                  (Query(rate("apiserver_dropped_requests_total", S, ("request_kind",)), "{{request_kind}}"),),
                  unit="reqps", width=8),
            Panel("APF requests in queue", "Requests waiting in API Priority and Fairness queues.",
                  (Query(f"sum by (priority_level) (apiserver_flowcontrol_current_inqueue_requests{S})",
                         "{{priority_level}}"),), width=8),
            Panel("APF requests executing", "Requests executing, by priority level.",
                  (Query(f"sum by (priority_level) (apiserver_flowcontrol_current_executing_requests{S})",
                         "{{priority_level}}"),), width=8),
            Panel("APF dispatch rate", "Requests dispatched per second by priority level.",
                  (Query(rate("apiserver_flowcontrol_dispatched_requests_total", S, ("priority_level",)),
                         "{{priority_level}}"),), unit="reqps", width=8),
            Panel("APF rejections", "Requests rejected by flow control, by priority level and reason.",
                  (Query(rate("apiserver_flowcontrol_rejected_requests_total", S, ("priority_level", "reason")),
                         "{{priority_level}} {{reason}}"),), unit="reqps", width=8),
            Panel("APF queue wait p99", "99th percentile time requests waited in their queue.",
                  (Query(quantile(0.99, "apiserver_flowcontrol_request_wait_duration_seconds", S,
                                  ("priority_level",)), "{{priority_level}}"),), unit="s", width=8),
            Panel("APF seats", "Current seat limit of each priority level.",
                  (Query(f"max by (priority_level) (apiserver_flowcontrol_current_limit_seats{S})",
                         "{{priority_level}}"),), width=8),
        )),
        Row("Watches and storage", (
            Panel("Watch events rate by kind", "Events sent to watch clients per second.",
                  (Query(rate("apiserver_watch_events_total", S, ("kind",)), "{{kind}}"),), unit="ops"),
            Panel("Registered watchers by kind", "Watchers registered with the watch cache.",
                  (Query(f"sum by (kind) (apiserver_registered_watchers{S})", "{{kind}}"),)),
            Panel("Stored objects by resource", "Objects in etcd per resource (apiserver_storage_objects).",
                  (Query(f"max by (resource) (apiserver_storage_objects{S})", "{{resource}}"),)),
            Panel("etcd request p99 by operation", "99th percentile latency of the apiserver's etcd requests.",
                  (Query(quantile(0.99, "etcd_request_duration_seconds", S, ("operation",)), "{{operation}}"),),
                  unit="s"),
        )),
    ),
)
