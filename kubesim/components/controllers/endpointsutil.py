"""What the Endpoints and EndpointSlice controllers share (pkg/controller/util/endpoint and
staging/src/k8s.io/endpointslice/util): which pods back a Service, how a service port
maps onto a pod's container port, which services select a pod, and the trigger-time
tracker behind the `endpoints.kubernetes.io/last-change-trigger-time` annotation (the
start of the network programming latency SLI), and `ServiceController`, the base both
controllers build on: a Service key queue fed by Service and Pod events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubesim.api import meta, selectors
from kubesim.components.client.events import EventHandler
from kubesim.components.client.store import DeletedFinalStateUnknown
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import Controller, ControllerContext, object_key, unwrap

Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, and terminating only if asked."""
    if podutil.phase(pod) in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not meta.is_being_deleted(pod)


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"]
            and service["metadata"].get("namespace") == pod["metadata"].get("namespace"))


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """podutil.FindPort: the targetPort number, or the container port it names (None if none)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def is_service_ip_set(service: Obj) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def service_selector(service: Obj) -> selectors.LabelSelector | None:
    """labels.Set(spec.selector).AsSelectorPreValidated(); None without a selector."""
    selector = (service.get("spec") or {}).get("selector")
    return None if selector is None else selectors.selector_from_set(selector)


def services_selecting(services: list[Obj], pod: Obj) -> list[Obj]:
    """GetPodServiceMemberships: services (of the pod's namespace) whose selector matches."""
    labels = pod["metadata"].get("labels") or {}
    out = []
    for svc in services:
        selector = (svc.get("spec") or {}).get("selector")
        if selector and selectors.selector_from_set(selector).matches(labels):
            out.append(svc)
    return out


def pod_changed_services(services: list[Obj], old: Obj, new: Obj) -> list[Obj]:
    """Services to resync after a pod update: both label sets when labels changed."""
    if old["metadata"].get("labels") == new["metadata"].get("labels"):
        return services_selecting(services, new)
    seen: dict[str, Obj] = {}
    for svc in services_selecting(services, old) + services_selecting(services, new):
        seen[svc["metadata"]["name"]] = svc
    return [seen[name] for name in sorted(seen)]


def _parse(text: Any) -> float | None:
    return meta.parse_timestamp(text) if isinstance(text, str) and text else None


@dataclass
class _ServiceState:
    pod_times: dict[str, float] = field(default_factory=dict)
    service_time: float | None = None


class TriggerTimeTracker:
    """endpointutil.TriggerTimeTracker: the earliest change since the last sync of a service."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _ServiceState] = {}

    def compute(self, service: Obj, pods: list[Obj]) -> float | None:
        key = (service["metadata"].get("namespace", ""), service["metadata"]["name"])
        known = key in self._states
        state = self._states.get(key) or _ServiceState()
        earliest: float | None = None
        times: dict[str, float] = {}
        for pod in pods:
            when = _parse((podutil.condition(pod, "Ready") or {}).get("lastTransitionTime"))
            if when is None:
                continue
            times[pod["metadata"]["name"]] = when
            last = state.pod_times.get(pod["metadata"]["name"])
            if last is None or when > last:
                earliest = when if earliest is None else min(earliest, when)
        created = _parse(service["metadata"].get("creationTimestamp"))
        if created is not None and (state.service_time is None or created > state.service_time):
            earliest = created if earliest is None else min(earliest, created)
        self._states[key] = _ServiceState(times, created)
        return created if not known else earliest

    def delete(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)



class ServiceController(Controller):
    """A controller keyed by Service: every Service event, and every Pod event that changes
    which Services select the pod or what they see of it, enqueues the Service."""

    def __init__(self, cc: ControllerContext, workers: int, **kwargs: Any) -> None:
        super().__init__(cc, workers, **kwargs)
        self.svc_informer = cc.informers.informer("services")
        self.pod_informer = cc.informers.informer("pods")
        self.svc_informer.add_event_handler(EventHandler(
            on_add=self._enqueue_obj, on_update=lambda old, cur: self._enqueue_obj(cur),
            on_delete=self._enqueue_obj))
        self.pod_informer.add_event_handler(EventHandler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))

    def _enqueue_obj(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.enqueue(object_key(obj))

    def _services(self, namespace: str) -> list[Obj]:
        return self.svc_informer.indexer.by_index("namespace", namespace)

    def _pod_added(self, pod: Obj) -> None:
        for svc in services_selecting(self._services(pod["metadata"].get("namespace", "")), pod):
            self._enqueue_obj(svc)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        for svc in pod_changed_services(self._services(cur["metadata"].get("namespace", "")), old, cur):
            self._enqueue_obj(svc)

    def _pod_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self._pod_added(unwrap(obj))
