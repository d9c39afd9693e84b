"""The Endpoints controller (pkg/controller/endpoint/endpoints_controller.go, v1.32).

For every Service with a selector (not ExternalName) it keeps an Endpoints object of the
same name: one address per selected pod with an IP (ready pods under `addresses`, others
under `notReadyAddresses`, terminating pods left out unless publishNotReadyAddresses),
ports resolved per pod (named target ports looked up in the pod's containers), subsets
repacked so addresses with the same ports share one subset. Labels follow the Service
(plus `service.kubernetes.io/headless` without a cluster IP); more than 1000 addresses are
truncated with the `endpoints.kubernetes.io/over-capacity: truncated` annotation. The
Endpoints object of a deleted Service is deleted.
"""

from __future__ import annotations

import json
import math

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import Obj, split_meta_namespace_key
from kubesim.components.controllers import endpointsutil as eputil
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import ControllerContext

MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


def _address_key(addr: Obj) -> tuple[str, str]:
    return addr.get("ip", ""), (addr.get("targetRef") or {}).get("uid", "")


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """endpoints.RepackSubsets: one subset per distinct set of ports, addresses deduplicated
    (ready wins), everything sorted (subsets and ports by their content, where upstream
    sorts by hash)."""
    ready_by_port: dict[str, dict[tuple[str, str], bool]] = {}
    ports: dict[str, Obj | None] = {}
    addresses: dict[tuple[str, str], Obj] = {}
    for subset in subsets:
        for port in subset.get("ports") or [None]:
            pkey = json.dumps(port, sort_keys=True)
            ports[pkey] = port
            table = ready_by_port.setdefault(pkey, {})
            for addr in subset.get("addresses") or []:
                addresses.setdefault(_address_key(addr), addr)
                table[_address_key(addr)] = True
            for addr in subset.get("notReadyAddresses") or []:
                addresses.setdefault(_address_key(addr), addr)
                table.setdefault(_address_key(addr), False)
    grouped: dict[str, tuple[dict[tuple[str, str], bool], list[Obj]]] = {}
    for pkey, table in ready_by_port.items():
        akey = json.dumps(sorted((k, v) for k, v in table.items()))
        entry = grouped.setdefault(akey, (table, []))
        if ports[pkey] is not None:
            entry[1].append(ports[pkey])  # type: ignore[arg-type]
    final = []
    for table, port_list in grouped.values():
        subset: Obj = {}
        ready = [addresses[k] for k in sorted(table) if table[k]]
        not_ready = [addresses[k] for k in sorted(table) if not table[k]]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if port_list:
            subset["ports"] = sorted(port_list, key=lambda p: (p.get("name", ""), p["port"], p.get("protocol", "")))
        final.append(subset)
    return sorted(final, key=lambda s: json.dumps(s, sort_keys=True))


def _count(subsets: list[Obj]) -> tuple[int, int]:
    return (sum(len(s.get("addresses") or []) for s in subsets),
            sum(len(s.get("notReadyAddresses") or []) for s in subsets))


def truncate(endpoints: Obj) -> bool:
    """truncateEndpoints: cut to 1000 addresses, not-ready ones first, each subset keeping
    its proportion (rounded up, the last ones taking what is left)."""
    subsets = endpoints.get("subsets") or []
    ready, not_ready = _count(subsets)
    if ready + not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = ready > MAX_CAPACITY
    budget, total = (MAX_CAPACITY, ready) if truncate_ready else (MAX_CAPACITY - ready, not_ready)
    left = budget
    for subset in subsets:
        key = "addresses" if truncate_ready else "notReadyAddresses"
        keep = min(math.ceil(len(subset.get(key) or []) / total * budget), left)
        subset[key] = (subset.get(key) or [])[:keep]
        if truncate_ready:
            subset["notReadyAddresses"] = []
        left -= len(subset[key])
        for k in ("addresses", "notReadyAddresses"):
            if not subset.get(k):
                subset.pop(k, None)
    return True


def capacity_annotation_correct(annotations: dict[str, str], subsets: list[Obj]) -> bool:
    """capacityAnnotationSetCorrectly."""
    total = sum(_count(subsets))
    if total > MAX_CAPACITY:
        return False
    marked = OVER_CAPACITY in annotations
    return (marked and total == MAX_CAPACITY) or (not marked and total <= MAX_CAPACITY)


class EndpointsController(eputil.ServiceController):
    name = "endpoint"

    def __init__(self, cc: ControllerContext, workers: int = 5) -> None:
        super().__init__(cc, workers)
        self.recorder = EventRecorder(cc.client, cc.ctx, "endpoint-controller", cc.now)
        self.triggers = eputil.TriggerTimeTracker()
        self.ep_informer = cc.informers.informer("endpoints")
        self.ep_informer.add_event_handler(EventHandler(on_delete=self._enqueue_obj))

    async def sync(self, key: str) -> None:
        namespace, name = split_meta_namespace_key(key)
        service = self.svc_informer.indexer.get_by_key(key)
        if service is None:
            try:
                await self.client.delete("endpoints", namespace, name)
            except APIError as err:
                if err.code != 404:
                    raise
            self.triggers.delete(namespace, name)
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return
        selector = eputil.service_selector(service)
        assert selector is not None
        pods = [p for p in self.pod_informer.indexer.by_index("namespace", namespace)
                if selector.matches(p["metadata"].get("labels"))]
        trigger = self.triggers.compute(service, pods)
        publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
        subsets: list[Obj] = []
        for pod in pods:
            if not eputil.should_pod_be_in_endpoints(pod, publish_not_ready):
                continue
            address: Obj = {"ip": eputil.pod_ips(pod)[0]}
            if eputil.should_set_hostname(pod, service):
                address["hostname"] = pod["spec"]["hostname"]
            if pod["spec"].get("nodeName"):
                address["nodeName"] = pod["spec"]["nodeName"]
            address["targetRef"] = {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"],
                                    "uid": pod["metadata"]["uid"]}
            ready = publish_not_ready or podutil.is_pod_ready(pod)
            bucket = "addresses" if ready else "notReadyAddresses"
            service_ports = spec.get("ports") or []
            if not service_ports and spec.get("clusterIP") == "None":
                subsets.append({bucket: [address]})
            for sp in service_ports:
                number = eputil.find_port(pod, sp)
                if number is None:
                    continue
                port: Obj = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol", "TCP")}
                if sp.get("appProtocol"):
                    port["appProtocol"] = sp["appProtocol"]
                if not port["name"]:
                    del port["name"]
                subsets.append({bucket: [address], "ports": [port]})
        subsets = repack_subsets(subsets)
        current = self.ep_informer.indexer.get_by_key(key)
        create = current is None
        svc_labels = service["metadata"].get("labels") or {}
        if current is not None:
            labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items() if k != eputil.HEADLESS_LABEL}
            capacity_ok = capacity_annotation_correct(current["metadata"].get("annotations") or {},
                                                      current.get("subsets") or [])
            if (current.get("subsets") or []) == subsets and labels == svc_labels and capacity_ok:
                return
            new = deep_copy(current)
        else:
            new = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        new["subsets"] = subsets
        md = new["metadata"]
        md["labels"] = dict(svc_labels)
        annotations = md.setdefault("annotations", {})
        if trigger is not None:
            annotations[eputil.LAST_CHANGE_TRIGGER_TIME] = meta.timestamp(trigger)
        else:
            annotations.pop(eputil.LAST_CHANGE_TRIGGER_TIME, None)
        if truncate(new):
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        if not annotations:
            del md["annotations"]
        if not eputil.is_service_ip_set(service):
            md["labels"][eputil.HEADLESS_LABEL] = ""
        if not new["subsets"]:
            del new["subsets"]
        try:
            if create:
                await self.client.create("endpoints", new, namespace)
            else:
                await self.client.update("endpoints", new)
        except APIError as err:
            causes = (err.status.get("details") or {}).get("causes") or []
            if create and err.code == 403 and any(c.get("reason") == "NamespaceTerminating" for c in causes):
                return
            verb = "create" if create else "update"
            self.recorder.event(new, "Warning", f"FailedTo{verb.capitalize()}Endpoint",
                                f"Failed to {verb} endpoint for service {namespace}/{name}: {err.message}")
            raise
