"""kube-proxy's view of the cluster: Services and EndpointSlices -> service ports and
their endpoints, as one immutable snapshot that many kube-proxies on a host share.

Input objects are Kubernetes JSON dicts (core/v1 Service, discovery.k8s.io/v1
EndpointSlice). The semantics follow kube-proxy 1.32 (pkg/proxy: serviceport.go,
servicechangetracker.go, endpointslicecache.go, topology.go), IPv4 single-stack:

- A Service is skipped when headless (clusterIP "None" or empty) or ExternalName. Each
  of its ports becomes a `ServicePort` keyed by `ServicePortName` (namespace, name,
  port name, protocol); `targetPort` is ignored because the EndpointSlice already
  carries the resolved port.
- An EndpointSlice belongs to the Service named by its ``kubernetes.io/service-name``
  label; non-IPv4 slices, ports with no name or no number, and endpoints with no address
  are ignored. Conditions default as the API says (ready/serving true when unset,
  terminating false). An address present in several slices is kept once, preferring a
  non-terminating copy. Endpoints are sorted by "ip:port", as kube-proxy sorts them.
- Which endpoints a node uses is `categorize` (pkg/proxy/topology.go): ready ones,
  falling back to serving-and-terminating ones when none is ready; Local traffic
  policies restrict to the node's own endpoints; zone hints apply when every ready
  endpoint has one and one of them names the node's zone.

`ProxyView.apply` turns one watch event into a new view plus a `ChangeSummary` (the
ServiceChangeTracker / EndpointsChangeTracker result: which Services' ports or endpoints
changed); unchanged parts are shared between the old and the new view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.kube_proxy.pmap import PMap

__all__ = [
    "SERVICE_NAME_LABEL",
    "TRIGGER_TIME_ANNOTATION",
    "NamespacedName",
    "ServicePortName",
    "ServicePort",
    "Endpoint",
    "Categorized",
    "ChangeSummary",
    "ProxyView",
    "changes_between",
    "parse_service",
    "parse_slice",
    "categorize",
]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
DEFAULT_STICKY_SECONDS = 10800  # core/v1 ClientIPConfig.timeoutSeconds default (3 h)

NamespacedName = tuple[str, str]
VipKey = tuple[str, int, str]  # (ip, port, protocol)


@dataclass(frozen=True, slots=True, order=True)
class ServicePortName:
    """One port of one Service; ``str()`` is kube-proxy's "ns/name:port" form."""

    namespace: str
    name: str
    port: str
    protocol: str

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base

    @property
    def service(self) -> NamespacedName:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ServicePort:
    """What kube-proxy keeps of one Service port (BaseServicePortInfo)."""

    name: ServicePortName
    type: str
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    affinity_seconds: int = 0  # ClientIP session affinity timeout; 0 = no affinity
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0

    @property
    def protocol(self) -> str:
        return self.name.protocol

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.load_balancer_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster endpoints serve internal Cluster traffic and external short-circuits."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (
            self.external_policy_local and self.externally_accessible
        )


_NO_HINTS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of one service port; ``str()`` is "ip:port"."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    zone: str = ""
    zone_hints: frozenset[str] = _NO_HINTS

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def is_local(self, node_name: str) -> bool:
        return bool(node_name) and self.node_name == node_name


@dataclass(frozen=True, slots=True)
class SliceInfo:
    """The parts of one EndpointSlice kube-proxy uses."""

    service: NamespacedName
    name: str
    ports: tuple[tuple[str, int, str], ...]  # (name, port, protocol)
    endpoints: tuple[Endpoint, ...]  # with port 0: the port comes from `ports`
    trigger_time: str = ""


def _nn(obj: Mapping[str, Any]) -> NamespacedName:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def parse_service(obj: Mapping[str, Any]) -> tuple[ServicePort, ...]:
    """The ServicePorts kube-proxy derives from a core/v1 Service dict (may be empty)."""
    spec = obj.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP") or ""]) if ip]
    ipv4 = [ip for ip in ips if ":" not in ip and ip != "None"]
    if svc_type == "ExternalName" or not ipv4:
        return ()
    ns, name = _nn(obj)
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_STICKY_SECONDS)
    exposed = svc_type in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = tuple(
        i["ip"]
        for i in ingress
        if i.get("ip") and ":" not in i["ip"] and i.get("ipMode", "VIP") == "VIP"
    )
    common = dict(
        type=svc_type,
        cluster_ip=ipv4[0],
        external_ips=tuple(ip for ip in spec.get("externalIPs") or () if ":" not in ip),
        load_balancer_ips=lb_ips,
        load_balancer_source_ranges=tuple(
            r.strip() for r in spec.get("loadBalancerSourceRanges") or () if r.strip()
        ),
        affinity_seconds=affinity,
        external_policy_local=exposed and spec.get("externalTrafficPolicy") == "Local",
        internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
        health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
        if svc_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
        else 0,
    )
    return tuple(
        ServicePort(
            name=ServicePortName(ns, name, p.get("name") or "", p.get("protocol") or "TCP"),
            port=int(p["port"]),
            node_port=int(p.get("nodePort") or 0),
            **common,  # type: ignore[arg-type]
        )
        for p in spec.get("ports") or ()
    )


def _parse_endpoint(e: Mapping[str, Any]) -> Endpoint | None:
    addresses = e.get("addresses") or ()
    if not addresses:
        return None
    cond = e.get("conditions") or {}
    hints = ((e.get("hints") or {}).get("forZones")) or ()
    return Endpoint(
        ip=addresses[0],
        port=0,
        ready=cond.get("ready") is not False,
        serving=cond.get("serving") is not False,
        terminating=cond.get("terminating") is True,
        node_name=e.get("nodeName") or "",
        zone=e.get("zone") or "",
        zone_hints=frozenset(h["name"] for h in hints) if hints else _NO_HINTS,
    )


def parse_slice(obj: Mapping[str, Any]) -> SliceInfo | None:
    """The parts of a discovery.k8s.io/v1 EndpointSlice kube-proxy uses, or None when
    kube-proxy (IPv4) ignores the slice (no service-name label, not IPv4)."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType", "IPv4") != "IPv4":
        return None
    ports = tuple(
        (p["name"], int(p["port"]), p.get("protocol") or "TCP")
        for p in obj.get("ports") or ()
        if p.get("name") is not None and p.get("port")
    )
    eps = tuple(ep for e in obj.get("endpoints") or () if (ep := _parse_endpoint(e)))
    return SliceInfo(
        service=(meta.get("namespace") or "default", service),
        name=meta.get("name") or "",
        ports=ports,
        endpoints=eps,
        trigger_time=(meta.get("annotations") or {}).get(TRIGGER_TIME_ANNOTATION, ""),
    )


def _merge_slices(
    service: NamespacedName, slices: Iterable[SliceInfo]
) -> dict[ServicePortName, tuple[Endpoint, ...]]:
    """Endpoints per service port from all slices of one Service, deduplicated and sorted."""
    by_port: dict[ServicePortName, dict[str, Endpoint]] = {}
    for s in slices:
        for pname, pnum, proto in s.ports:
            spn = ServicePortName(service[0], service[1], pname, proto)
            seen = by_port.setdefault(spn, {})
            for raw in s.endpoints:
                ep = Endpoint(
                    raw.ip, pnum, raw.ready, raw.serving, raw.terminating,
                    raw.node_name, raw.zone, raw.zone_hints,
                )  # fmt: skip
                key = str(ep)
                if key not in seen or not ep.terminating:
                    seen[key] = ep
    return {spn: tuple(eps[k] for k in sorted(eps)) for spn, eps in by_port.items() if eps}


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """What a batch of events changed: the Services (namespace, name) whose ports or
    whose endpoints differ, and how many events changed something (the
    kubeproxy_sync_proxy_rules_{service,endpoint}_changes_total increments)."""

    services: frozenset[NamespacedName] = frozenset()
    endpoints: frozenset[NamespacedName] = frozenset()
    service_events: int = 0
    endpoint_events: int = 0
    trigger_times: tuple[tuple[NamespacedName, str], ...] = ()

    def __or__(self, other: ChangeSummary) -> ChangeSummary:
        return ChangeSummary(
            self.services | other.services,
            self.endpoints | other.endpoints,
            self.service_events + other.service_events,
            self.endpoint_events + other.endpoint_events,
            self.trigger_times + other.trigger_times,
        )

    @property
    def changed(self) -> frozenset[NamespacedName]:
        """Every Service whose proxy rules must be rewritten."""
        return self.services | self.endpoints

    def __bool__(self) -> bool:
        return bool(self.services or self.endpoints)


_EMPTY_PORTS: Mapping[ServicePortName, tuple[Endpoint, ...]] = {}


@dataclass(frozen=True)
class ProxyView:
    """An immutable snapshot of every Service port and its endpoints.

    ``services`` maps (namespace, name) to the Service's ports; ``endpoints`` maps it to
    {ServicePortName: endpoints}; ``slices`` keeps the parsed slices per Service;
    ``vips`` indexes (ip, port, protocol) of cluster, external and load-balancer IPs
    and ``node_ports`` (nodePort, protocol), each to the sorted service ports using it.
    """

    services: PMap[NamespacedName, tuple[ServicePort, ...]] = field(default_factory=PMap)
    endpoints: PMap[NamespacedName, Mapping[ServicePortName, tuple[Endpoint, ...]]] = field(
        default_factory=PMap
    )
    slices: PMap[NamespacedName, Mapping[str, SliceInfo]] = field(default_factory=PMap)
    vips: PMap[VipKey, tuple[ServicePortName, ...]] = field(default_factory=PMap)
    node_ports: PMap[tuple[int, str], tuple[ServicePortName, ...]] = field(default_factory=PMap)

    # -- queries ------------------------------------------------------------------------

    def service_ports(self) -> Iterator[ServicePort]:
        """Every service port, in no particular order."""
        for ports in self.services.values():
            yield from ports

    def port(self, spn: ServicePortName) -> ServicePort | None:
        for sp in self.services.get(spn.service, ()):
            if sp.name == spn:
                return sp
        return None

    def endpoints_of(self, spn: ServicePortName) -> tuple[Endpoint, ...]:
        return self.endpoints.get(spn.service, _EMPTY_PORTS).get(spn, ())

    def lookup(self, ip: str, port: int, protocol: str = "TCP") -> ServicePortName | None:
        """The service port a packet to ip:port/protocol is for (a VIP), if any."""
        hits = self.vips.get((ip, port, protocol))
        return hits[0] if hits else None

    def __len__(self) -> int:
        return sum(len(p) for p in self.services.values())

    # -- construction -------------------------------------------------------------------

    @classmethod
    def build(
        cls, services: Iterable[Mapping[str, Any]], slices: Iterable[Mapping[str, Any]]
    ) -> ProxyView:
        """A view from full lists of objects (what a fresh informer sync would give)."""
        svc_map = {_nn(s): ports for s in services if (ports := parse_service(s))}
        slice_map: dict[NamespacedName, dict[str, SliceInfo]] = {}
        for obj in slices:
            if (info := parse_slice(obj)) is not None:
                slice_map.setdefault(info.service, {})[info.name] = info
        eps = {nn: m for nn, ss in slice_map.items() if (m := _merge_slices(nn, ss.values()))}
        vips: dict[VipKey, list[ServicePortName]] = {}
        nps: dict[tuple[int, str], list[ServicePortName]] = {}
        for ports in svc_map.values():
            for sp in ports:
                for key in _vip_keys(sp):
                    vips.setdefault(key, []).append(sp.name)
                if sp.node_port:
                    nps.setdefault((sp.node_port, sp.protocol), []).append(sp.name)
        return cls(
            PMap(svc_map),
            PMap(eps),
            PMap(slice_map),
            PMap({k: tuple(sorted(v)) for k, v in vips.items()}),
            PMap({k: tuple(sorted(v)) for k, v in nps.items()}),
        )

    def apply(
        self, kind: str, event: str, obj: Mapping[str, Any]
    ) -> tuple[ProxyView, ChangeSummary]:
        """Apply one watch event: kind "Service" or "EndpointSlice", event "ADDED",
        "MODIFIED" or "DELETED". Returns the new view and what changed."""
        deleted = event == "DELETED"
        if kind == "Service":
            return self._apply_service(_nn(obj), () if deleted else parse_service(obj))
        if kind == "EndpointSlice":
            return self._apply_slice(obj, deleted)
        raise ValueError(f"unknown kind {kind!r}")

    def apply_all(
        self, events: Iterable[tuple[str, str, Mapping[str, Any]]]
    ) -> tuple[ProxyView, ChangeSummary]:
        """Apply (kind, event, object) triples in order; the summaries are merged."""
        view, total = self, ChangeSummary()
        for kind, event, obj in events:
            view, summary = view.apply(kind, event, obj)
            total = total | summary
        return view, total

    def _apply_service(
        self, nn: NamespacedName, ports: tuple[ServicePort, ...]
    ) -> tuple[ProxyView, ChangeSummary]:
        old = self.services.get(nn, ())
        if old == ports:
            return self, ChangeSummary()
        vips, nps = self.vips, self.node_ports
        for sp in old:
            for key in _vip_keys(sp):
                vips = _index_remove(vips, key, sp.name)
            if sp.node_port:
                nps = _index_remove(nps, (sp.node_port, sp.protocol), sp.name)
        for sp in ports:
            for key in _vip_keys(sp):
                vips = _index_add(vips, key, sp.name)
            if sp.node_port:
                nps = _index_add(nps, (sp.node_port, sp.protocol), sp.name)
        services = self.services.set(nn, ports) if ports else self.services.delete(nn)
        view = ProxyView(services, self.endpoints, self.slices, vips, nps)
        return view, ChangeSummary(services=frozenset([nn]), service_events=1)

    def _apply_slice(
        self, obj: Mapping[str, Any], deleted: bool
    ) -> tuple[ProxyView, ChangeSummary]:
        info = parse_slice(obj)
        if info is None:
            return self, ChangeSummary()
        nn = info.service
        old_slices = self.slices.get(nn, {})
        if deleted:
            if info.name not in old_slices:
                return self, ChangeSummary()
            new_slices = {k: v for k, v in old_slices.items() if k != info.name}
        else:
            if old_slices.get(info.name) == info:
                return self, ChangeSummary()
            new_slices = {**old_slices, info.name: info}
        slices = self.slices.set(nn, new_slices) if new_slices else self.slices.delete(nn)
        merged = _merge_slices(nn, new_slices.values())
        if merged == self.endpoints.get(nn, _EMPTY_PORTS):
            view = ProxyView(self.services, self.endpoints, slices, self.vips, self.node_ports)
            return view, ChangeSummary()
        endpoints = self.endpoints.set(nn, merged) if merged else self.endpoints.delete(nn)
        trigger = ((nn, info.trigger_time),) if info.trigger_time else ()
        view = ProxyView(self.services, endpoints, slices, self.vips, self.node_ports)
        return view, ChangeSummary(
            endpoints=frozenset([nn]), endpoint_events=1, trigger_times=trigger
        )


def changes_between(old: ProxyView, new: ProxyView) -> ChangeSummary:
    """What differs between two views built independently (after a relist from scratch):
    the Services whose ports or whose endpoints are not equal."""
    services = frozenset(
        nn for nn in {*old.services, *new.services}
        if old.services.get(nn, ()) != new.services.get(nn, ())
    )
    endpoints = frozenset(
        nn for nn in {*old.endpoints, *new.endpoints}
        if old.endpoints.get(nn, _EMPTY_PORTS) != new.endpoints.get(nn, _EMPTY_PORTS)
    )
    return ChangeSummary(services, endpoints, len(services), len(endpoints))


def _vip_keys(sp: ServicePort) -> Iterator[VipKey]:
    yield (sp.cluster_ip, sp.port, sp.protocol)
    for ip in sp.external_ips + sp.load_balancer_ips:
        yield (ip, sp.port, sp.protocol)


def _index_add(index: PMap, key: Any, spn: ServicePortName) -> PMap:
    cur = index.get(key, ())
    return index if spn in cur else index.set(key, tuple(sorted(cur + (spn,))))


def _index_remove(index: PMap, key: Any, spn: ServicePortName) -> PMap:
    cur = index.get(key, ())
    if spn not in cur:
        return index
    rest = tuple(s for s in cur if s != spn)
    return index.set(key, rest) if rest else index.delete(key)


# -- per-node endpoint selection (pkg/proxy/topology.go) --------------------------------


@dataclass(frozen=True, slots=True)
class Categorized:
    """CategorizeEndpoints' result for one service port on one node."""

    cluster: tuple[Endpoint, ...]  # used by Cluster traffic policy
    local: tuple[Endpoint, ...]  # used by Local traffic policy
    reachable: tuple[Endpoint, ...]  # union of the two, in endpoint order
    has_any: bool  # any usable endpoint anywhere in the cluster


def _use_zone_hints(endpoints: tuple[Endpoint, ...], zone: str) -> bool:
    """Hints apply when every ready endpoint has one and one names this zone."""
    any_ready = hit = False
    for ep in endpoints:
        if not ep.ready:
            continue
        any_ready = True
        if not ep.zone_hints:
            return False
        hit = hit or zone in ep.zone_hints
    return any_ready and hit and bool(zone)


def categorize(
    endpoints: tuple[Endpoint, ...], sp: ServicePort, node_name: str, zone: str = ""
) -> Categorized:
    """Which endpoints this node's rules use for ``sp`` (kube-proxy 1.32 semantics)."""
    if not endpoints:
        return Categorized((), (), (), False)
    cluster: tuple[Endpoint, ...] = ()
    has_any = False
    topology = False
    if sp.uses_cluster_endpoints:
        topology = _use_zone_hints(endpoints, zone)
        cluster = tuple(
            ep for ep in endpoints if ep.ready and (not topology or zone in ep.zone_hints)
        )
        if not cluster:
            cluster = tuple(ep for ep in endpoints if ep.serving and ep.terminating)
        has_any = bool(cluster)
    if not sp.uses_local_endpoints:
        return Categorized(cluster, (), cluster, has_any)
    local_ready = local_st = False
    for ep in endpoints:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local(node_name)
        elif ep.serving and ep.terminating:
            has_any = True
            local_st = local_st or ep.is_local(node_name)
    local: tuple[Endpoint, ...] = ()
    use_terminating = local_st and not local_ready
    if local_ready:
        local = tuple(ep for ep in endpoints if ep.is_local(node_name) and ep.ready)
    elif use_terminating:
        local = tuple(
            ep for ep in endpoints if ep.is_local(node_name) and ep.serving and ep.terminating
        )
    if not sp.uses_cluster_endpoints:
        return Categorized((), local, local, has_any)
    if not topology and not use_terminating:
        return Categorized(cluster, local, cluster, has_any)
    both = set(cluster) | set(local)
    return Categorized(cluster, local, tuple(ep for ep in endpoints if ep in both), has_any)
