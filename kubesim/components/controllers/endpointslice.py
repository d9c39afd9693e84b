"""The EndpointSlice controller (pkg/controller/endpointslice and
staging/src/k8s.io/endpointslice: reconciler.go, utils.go, endpointslice_tracker.go, v1.32).

Each Service with a selector gets IPv4 EndpointSlices labelled
`kubernetes.io/service-name=<service>` and
`endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io`, owned by the
Service, at most `--max-endpoints-per-slice` (100) endpoints each. Every selected pod with
an IP is an endpoint with conditions serving (pod Ready), terminating (being deleted) and
ready (serving and not terminating, or publishNotReadyAddresses), its node name and its
node's `topology.kubernetes.io/zone`. Pods are grouped by their resolved ports; per group
the reconciler keeps endpoints in the slices that hold them, updates changed ones, fills
slices that are being updated anyway, then the unchanged slice closest to full that takes
all remaining endpoints, and only then creates new slices; a delete and a create turn
into one update. A Service without endpoints keeps one empty placeholder slice.

The tracker remembers the resourceVersion of every slice this controller wrote (upstream:
the generation) so a sync on an informer cache that has not caught up is retried instead
of creating duplicates, and only slices changed by someone else trigger a sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj, split_meta_namespace_key
from kubesim.components.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
)
from kubesim.components.controllers import endpointsutil as eputil
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import (
    ControllerContext,
    Requeue,
    unwrap,
)

ENDPOINTSLICES = "endpointslices.discovery.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, eputil.HEADLESS_LABEL})
MAX_ENDPOINTS_PER_SLICE = 100
#: endpointSliceChangeMinSyncDelay: a Service is synced this long after a slice changes.
SLICE_CHANGE_MIN_SYNC_DELAY = 1.0
DELETION_EXPECTED = -1


def port_map_key(ports: list[Obj]) -> str:
    """NewPortMapKey: the identity of a set of endpoint ports."""
    return json.dumps(sorted(ports, key=lambda p: json.dumps(p, sort_keys=True)), sort_keys=True)


def endpoint_key(ep: Obj) -> str:
    """hashEndpoint: addresses, hostname and the target pod."""
    ref = ep.get("targetRef") or {}
    return json.dumps([sorted(ep.get("addresses") or []), ep.get("hostname"),
                       ref.get("namespace"), ref.get("name")])


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """getEndpointPorts: the service ports this pod resolves."""
    spec = service.get("spec") or {}
    out: list[Obj] = []
    for sp in spec.get("ports") or []:
        number = eputil.find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(pod: Obj, node: Obj | None, service: Obj) -> Obj:
    """podToEndpoint."""
    serving = podutil.is_pod_ready(pod)
    terminating = meta.is_being_deleted(pod)
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: Obj = {"addresses": eputil.pod_ips(pod)[:1],
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": pod["metadata"].get("namespace", ""),
                             "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}}
    if pod["spec"].get("nodeName"):
        ep["nodeName"] = pod["spec"]["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        ep["zone"] = zone
    if eputil.should_set_hostname(pod, service):
        ep["hostname"] = pod["spec"]["hostname"]
    return ep


def slice_labels(slice_: Obj, service: Obj) -> tuple[dict[str, str], bool]:
    """setEndpointSliceLabels: the service's labels plus the reserved ones; whether the
    slice's own (non-reserved) labels differ from the service's."""
    current = {k: v for k, v in (slice_["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    wanted = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    if not eputil.is_service_ip_set(service):
        wanted[eputil.HEADLESS_LABEL] = ""
    wanted[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    wanted[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return wanted, changed


def new_slice(service: Obj, ports: list[Obj]) -> Obj:
    """newEndpointSlice: generateName `<service>-`, owned by the Service."""
    md = service["metadata"]
    slice_: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {
        "generateName": f"{md['name']}-", "namespace": md.get("namespace", ""), "labels": {},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": md["name"], "uid": md["uid"],
                             "controller": True, "blockOwnerDeletion": True}]},
        "addressType": "IPv4", "endpoints": [], "ports": deep_copy(ports)}
    slice_["metadata"]["labels"] = slice_labels(slice_, service)[0]
    return slice_


def _owned_by(slice_: Obj, service: Obj) -> bool:
    return any(ref.get("kind") == "Service" and ref.get("uid") == service["metadata"]["uid"]
               for ref in slice_["metadata"].get("ownerReferences") or [])


@dataclass
class Plan:
    """What a reconcile writes."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def _slice_to_fill(slices: list[Obj], count: int, max_endpoints: int) -> Obj | None:
    """getSliceToFill: the slice that ends closest to full after taking `count` endpoints."""
    closest, best = max_endpoints, None
    for slice_ in slices:
        diff = max_endpoints - (count + len(slice_.get("endpoints") or []))
        if 0 <= diff < closest:
            closest, best = diff, slice_
            if diff == 0:
                break
    return best


def reconcile_port_mapping(service: Obj, existing: list[Obj], desired: dict[str, Obj], ports: list[Obj],
                           max_endpoints: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """reconcileByPortMapping for one group of ports; `desired` maps endpoint_key -> endpoint
    (consumed as endpoints find a place)."""
    by_name: dict[str, Obj] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    for slice_ in existing:
        name = slice_["metadata"]["name"]
        by_name[name] = slice_
        kept: list[Obj] = []
        updated = False
        for ep in slice_.get("endpoints") or []:
            want = desired.pop(endpoint_key(ep), None)
            if want is not None:
                kept.append(want)
                updated = updated or want != ep
        labels, labels_changed = slice_labels(slice_, service)
        if updated or len(kept) != len(slice_.get("endpoints") or []):
            if not kept:
                to_delete.append(name)
            else:
                copy_ = deep_copy(slice_)
                copy_["endpoints"] = kept
                copy_["metadata"]["labels"] = labels
                by_name[name] = copy_
                to_update.append(name)
        elif labels_changed:
            copy_ = deep_copy(slice_)
            copy_["metadata"]["labels"] = labels
            by_name[name] = copy_
            to_update.append(name)
        else:
            unchanged.append(name)
    remaining = list(desired.values())
    if remaining and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
            room = max_endpoints - len(by_name[name]["endpoints"])
            if room > 0:
                by_name[name]["endpoints"].extend(remaining[:room])
                remaining = remaining[room:]
    plan = Plan()
    while remaining:
        target = None
        if len(remaining) < max_endpoints and unchanged:
            target = _slice_to_fill([by_name[n] for n in unchanged], len(remaining), max_endpoints)
        if target is None:
            target = new_slice(service, ports)
        else:
            target = deep_copy(target)
            by_name[target["metadata"]["name"]] = target
        room = max_endpoints - len(target["endpoints"])
        target["endpoints"].extend(remaining[:room])
        remaining = remaining[room:]
        name = target["metadata"].get("name")
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            plan.create.append(target)
    plan.update = [by_name[n] for n in to_update]
    plan.delete = [by_name[n] for n in to_delete]
    return plan


def _placeholder_equal(a: Obj, b: Obj) -> bool:
    """placeholderSliceCompare: namespace, labels, endpoints, ports and address type."""
    def view(s: Obj) -> tuple[object, ...]:
        return (s["metadata"].get("namespace"), s["metadata"].get("labels") or {}, s.get("endpoints") or [],
                s.get("ports") or [], s.get("addressType"))
    return view(a) == view(b)


def reconcile(service: Obj, pods: list[Obj], nodes: dict[str, Obj], existing: list[Obj],
              max_endpoints: int = MAX_ENDPOINTS_PER_SLICE) -> tuple[Plan, list[str]]:
    """reconcileByAddressType (IPv4) and finalize's create-to-update folding.

    Returns the plan and the pods skipped because their node is unknown.
    """
    plan = Plan()
    existing_by_ports: dict[str, list[Obj]] = {}
    for slice_ in existing:
        if _owned_by(slice_, service) and slice_.get("addressType") == "IPv4":
            existing_by_ports.setdefault(port_map_key(slice_.get("ports") or []), []).append(slice_)
        else:
            plan.delete.append(slice_)
    desired: dict[str, dict[str, Obj]] = {}
    ports_of: dict[str, list[Obj]] = {}
    skipped: list[str] = []
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    for pod in pods:
        if not eputil.should_pod_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        key = port_map_key(ports)
        group = desired.setdefault(key, {})
        ports_of.setdefault(key, ports)
        node = nodes.get(pod["spec"].get("nodeName", ""))
        if node is None and not publish:
            skipped.append(pod["metadata"]["name"])
            continue
        ep = pod_to_endpoint(pod, node, service)
        group[endpoint_key(ep)] = ep
    for key, group in desired.items():
        part = reconcile_port_mapping(service, existing_by_ports.get(key, []), group, ports_of[key], max_endpoints)
        plan.create += part.create
        plan.update += part.update
        plan.delete += part.delete
    for key, slices in existing_by_ports.items():
        if key not in desired:
            plan.delete += slices
    if len(existing) == len(plan.delete) and not plan.create:
        placeholder = new_slice(service, [])
        if len(plan.delete) == 1 and _placeholder_equal(plan.delete[0], placeholder):
            plan.delete = []
        else:
            plan.create.append(placeholder)
    i = 0
    while i < len(plan.delete) and plan.create:
        doomed = plan.delete[i]
        if doomed.get("addressType") == "IPv4" and _owned_by(doomed, service):
            reused = plan.create.pop()
            reused["metadata"]["name"] = doomed["metadata"]["name"]
            reused["metadata"].pop("generateName", None)
            plan.update.append(reused)
            plan.delete.pop(i)
        else:
            i += 1
    return plan, skipped


class SliceTracker:
    """endpointSliceTracker: what this controller last wrote, per Service."""

    def __init__(self) -> None:
        self._written: dict[str, dict[str, int]] = {}

    @staticmethod
    def _service_key(slice_: Obj) -> str:
        md = slice_["metadata"]
        return f"{md.get('namespace', '')}/{(md.get('labels') or {}).get(SERVICE_NAME_LABEL, '')}"

    def update(self, slice_: Obj) -> None:
        md = slice_["metadata"]
        self._written.setdefault(self._service_key(slice_), {})[md["uid"]] = int(md["resourceVersion"])

    def expect_deletion(self, slice_: Obj) -> None:
        self._written.setdefault(self._service_key(slice_), {})[slice_["metadata"]["uid"]] = DELETION_EXPECTED

    def has(self, slice_: Obj) -> bool:
        return slice_["metadata"]["uid"] in self._written.get(self._service_key(slice_), {})

    def should_sync(self, slice_: Obj) -> bool:
        """Someone else changed it (or it is unknown)."""
        written = self._written.get(self._service_key(slice_), {}).get(slice_["metadata"]["uid"])
        return written is None or int(slice_["metadata"]["resourceVersion"]) > written

    def stale(self, service_key: str, slices: list[Obj]) -> bool:
        """StaleSlices: the informer lacks a write of ours, or still has a slice we deleted."""
        seen = {s["metadata"]["uid"]: int(s["metadata"]["resourceVersion"]) for s in slices}
        for uid, written in self._written.get(service_key, {}).items():
            if written == DELETION_EXPECTED:
                if uid in seen:
                    return True
            elif uid not in seen or written > seen[uid]:
                return True
        return False

    def handle_deletion(self, slice_: Obj) -> bool:
        """Forget a deleted slice; False if this controller did not expect the deletion."""
        tracked = self._written.get(self._service_key(slice_), {})
        return tracked.pop(slice_["metadata"]["uid"], None) == DELETION_EXPECTED

    def delete_service(self, key: str) -> None:
        self._written.pop(key, None)


class EndpointSliceController(eputil.ServiceController):
    name = "endpoint_slice"
    max_retries = 15

    def __init__(self, cc: ControllerContext, workers: int = 5,
                 max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        # defaultSyncBackOff 1 s .. maxSyncBackOff 1000 s per item, 10 qps / burst 100 overall.
        limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 1000.0),
                                   BucketRateLimiter(10.0, 100, cc.ctx.now))
        super().__init__(cc, workers, rate_limiter=limiter)
        self.max_endpoints = max_endpoints_per_slice
        self.recorder = EventRecorder(cc.client, cc.ctx, "endpoint-slice-controller", cc.now)
        self.triggers = eputil.TriggerTimeTracker()
        self.tracker = SliceTracker()
        self.node_informer = cc.informers.informer("nodes")
        self.slice_informer = cc.informers.informer(ENDPOINTSLICES)
        self.slice_informer.add_event_handler(EventHandler(
            on_add=self._slice_added, on_update=self._slice_updated, on_delete=self._slice_deleted))

    # -- event handlers -------------------------------------------------------------------
    @staticmethod
    def _managed(slice_: Obj) -> bool:
        return (slice_["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME

    def _queue_for_slice(self, slice_: Obj) -> None:
        name = (slice_["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if name:
            self.enqueue_after(f"{slice_['metadata'].get('namespace', '')}/{name}", SLICE_CHANGE_MIN_SYNC_DELAY)

    def _slice_added(self, slice_: Obj) -> None:
        if self._managed(slice_) and self.tracker.should_sync(slice_):
            self._queue_for_slice(slice_)

    def _slice_updated(self, old: Obj, cur: Obj) -> None:
        old_labels, cur_labels = old["metadata"].get("labels") or {}, cur["metadata"].get("labels") or {}
        if old_labels.get(SERVICE_NAME_LABEL) != cur_labels.get(SERVICE_NAME_LABEL):
            self._queue_for_slice(cur)
            self._queue_for_slice(old)
            return
        if self._managed(old) != self._managed(cur) or (self._managed(cur) and self.tracker.should_sync(cur)):
            self._queue_for_slice(cur)

    def _slice_deleted(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        slice_ = unwrap(obj)
        if self._managed(slice_) and self.tracker.has(slice_) and not self.tracker.handle_deletion(slice_):
            self._queue_for_slice(slice_)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_meta_namespace_key(key)
        service = self.svc_informer.indexer.get_by_key(key)
        if service is None:
            self.triggers.delete(namespace, name)
            self.tracker.delete_service(key)
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return
        selector = eputil.service_selector(service)
        assert selector is not None
        pods = [p for p in self.pod_informer.indexer.by_index("namespace", namespace)
                if selector.matches(p["metadata"].get("labels"))]
        slices = [s for s in self.slice_informer.indexer.by_index("namespace", namespace)
                  if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name
                  and self._managed(s) and not meta.is_being_deleted(s)]
        if self.tracker.stale(key, slices):
            raise Requeue("EndpointSlice informer cache is out of date")
        trigger = self.triggers.compute(service, pods)
        nodes = {n["metadata"]["name"]: n for n in self.node_informer.indexer.list()}
        plan, skipped = reconcile(service, pods, nodes, slices, self.max_endpoints)
        try:
            await self._finalize(service, plan, trigger)
        except APIError as err:
            self.recorder.event(service, "Warning", "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {err.message}")
            raise
        if skipped:
            raise Requeue(f"skipping Pods {skipped} for Service {key}: Node not found")

    async def _finalize(self, service: Obj, plan: Plan, trigger: float | None) -> None:
        namespace = service["metadata"]["namespace"]

        def annotate(slice_: Obj) -> None:
            annotations = slice_["metadata"].setdefault("annotations", {})
            if trigger is not None:
                annotations[eputil.LAST_CHANGE_TRIGGER_TIME] = meta.timestamp(trigger)
            else:
                annotations.pop(eputil.LAST_CHANGE_TRIGGER_TIME, None)
            if not annotations:
                del slice_["metadata"]["annotations"]

        if not meta.is_being_deleted(service):
            for slice_ in plan.create:
                annotate(slice_)
                try:
                    created = await self.client.create(ENDPOINTSLICES, slice_, namespace)
                except APIError as err:
                    causes = (err.status.get("details") or {}).get("causes") or []
                    if any(c.get("reason") == "NamespaceTerminating" for c in causes):
                        return
                    raise
                self.tracker.update(created)
        for slice_ in plan.update:
            annotate(slice_)
            self.tracker.update(await self.client.update(ENDPOINTSLICES, slice_))
        for slice_ in plan.delete:
            await self.client.delete(ENDPOINTSLICES, namespace, slice_["metadata"]["name"])
            self.tracker.expect_deletion(slice_)
