"""PodInfo and NodeInfo: the per-pod and per-node facts the plugins read (framework/types.go).

A PodInfo pre-parses what plugins ask for on every cycle (requests, affinity terms, host
ports); a NodeInfo aggregates the pods on a node (requested and non-zero requested
resources, used host ports, pods with affinity) next to its allocatable and image states.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.api.selectors import LabelSelector
from kubesim.components.scheduler.resources import (
    Resource,
    node_allocatable,
    non_zero_requests,
    pod_requests,
)
from kubesim.components.scheduler.selectors import Labels, label_selector

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def pod_key(pod: Mapping[str, Any]) -> str:
    """The pod's UID, falling back to namespace/name (objects built by hand in tests)."""
    meta = pod.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def pod_priority(pod: Mapping[str, Any]) -> int:
    """``corev1helpers.PodPriority``: spec.priority, 0 when unset."""
    return (pod.get("spec") or {}).get("priority") or 0


@dataclass(frozen=True)
class AffinityTerm:
    """A processed PodAffinityTerm (``framework.AffinityTerm``) with its weight."""

    namespaces: frozenset[str]
    selector: LabelSelector
    topology_key: str
    namespace_selector: LabelSelector
    weight: int = 0

    def matches(self, pod: Mapping[str, Any], ns_labels: Labels) -> bool:
        """The pod is in one of the term's namespaces and its labels match the selector."""
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        if ns in self.namespaces or self.namespace_selector.matches(ns_labels):
            return self.selector.matches((pod.get("metadata") or {}).get("labels") or {})
        return False


def _term(pod_ns: str, term: Mapping[str, Any], weight: int = 0) -> AffinityTerm:
    namespaces = frozenset(term.get("namespaces") or ())
    ns_sel_raw = term.get("namespaceSelector")
    if not namespaces and ns_sel_raw is None:
        namespaces = frozenset([pod_ns])
    return AffinityTerm(namespaces, label_selector(term.get("labelSelector")),
                        term.get("topologyKey", ""), label_selector(ns_sel_raw), weight)


def _terms(pod_ns: str, spec: Mapping[str, Any] | None, weighted: bool) -> list[AffinityTerm]:
    if not spec:
        return []
    if weighted:
        return [_term(pod_ns, w.get("podAffinityTerm") or {}, w.get("weight", 0))
                for w in spec.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]
    return [_term(pod_ns, t) for t in spec.get("requiredDuringSchedulingIgnoredDuringExecution") or ()]


class PodInfo:
    """A pod plus the parsed facts plugins read on every cycle."""

    __slots__ = ("pod", "key", "namespace", "name", "labels", "priority", "request", "non0_cpu",
                 "non0_mem", "required_affinity", "required_anti_affinity", "preferred_affinity",
                 "preferred_anti_affinity", "has_affinity", "host_ports")

    def __init__(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.key = pod_key(pod)
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta.get("name", "")
        self.labels: Labels = meta.get("labels") or {}
        self.priority = pod_priority(pod)
        self.request = Resource.from_list(pod_requests(pod))
        self.non0_cpu, self.non0_mem = non_zero_requests(pod)
        affinity = spec.get("affinity") or {}
        pa, paa = affinity.get("podAffinity"), affinity.get("podAntiAffinity")
        self.required_affinity = _terms(self.namespace, pa, False)
        self.required_anti_affinity = _terms(self.namespace, paa, False)
        self.preferred_affinity = _terms(self.namespace, pa, True)
        self.preferred_anti_affinity = _terms(self.namespace, paa, True)
        self.has_affinity = pa is not None or paa is not None
        self.host_ports: list[tuple[str, str, int]] = [
            (p.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP, p.get("protocol") or "TCP", p["hostPort"])
            for c in spec.get("containers") or ()
            for p in c.get("ports") or ()
            if p.get("hostPort", 0) > 0
        ]


@dataclass
class ImageStateSummary:
    """An image's size and the nodes that have it, shared by those nodes' NodeInfos so the
    count stays current as nodes come and go (``framework.ImageStateSummary``)."""

    size: int
    nodes: set[str] = field(default_factory=set)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)


@dataclass
class NodeInfo:
    """A node with the aggregate of the pods placed (or assumed) on it."""

    node: dict[str, Any]
    pods: list[PodInfo] = field(default_factory=list)
    pods_with_affinity: list[PodInfo] = field(default_factory=list)
    pods_with_required_anti_affinity: list[PodInfo] = field(default_factory=list)
    requested: Resource = field(default_factory=Resource)
    non_zero_requested: Resource = field(default_factory=Resource)
    allocatable: Resource = field(default_factory=Resource)
    used_ports: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    image_states: dict[str, ImageStateSummary] = field(default_factory=dict)
    generation: int = 0
    #: the node's name, labels and taints, read on every Filter and Score call.
    name: str = field(init=False)
    labels: Labels = field(init=False)
    taints: list[dict[str, Any]] = field(init=False)
    #: matching-pod counts by the caller's key for (namespace, selector), valid until the
    #: pods change (add_pod / remove_pod clear it); see `count_matching`.
    _match_counts: dict[Hashable, int] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._read_node()

    def _read_node(self) -> None:
        meta = self.node.get("metadata") or {}
        self.name = meta.get("name", "")
        self.labels = meta.get("labels") or {}
        self.taints = (self.node.get("spec") or {}).get("taints") or []

    @classmethod
    def for_node(cls, node: dict[str, Any]) -> NodeInfo:
        ni = cls(node)
        ni.set_node(node)
        return ni

    def set_node(self, node: dict[str, Any]) -> None:
        self.node = node
        self.allocatable = node_allocatable(node)
        self._read_node()

    def count_matching(self, key: Hashable, namespace: str, selector: LabelSelector) -> int:
        """Pods of `namespace` that `selector` matches, terminating ones left out
        (``countPodsMatchSelector``); `key` names (namespace, selector) and must be cheap to
        hash. Remembered until the node's pods change: PodTopologySpread asks it for every
        node in every cycle, and between two cycles few nodes change."""
        count = self._match_counts.get(key)
        if count is None:
            count = self._match_counts[key] = sum(
                1 for p in self.pods
                if p.namespace == namespace and not (p.pod.get("metadata") or {}).get("deletionTimestamp")
                and selector.matches(p.labels))
        return count

    def add_pod(self, pi: PodInfo) -> None:
        self._match_counts.clear()
        self.pods.append(pi)
        if pi.has_affinity:
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity.append(pi)
        self._account(pi, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        for i, pi in enumerate(self.pods):
            if pi.key == key:
                self._match_counts.clear()
                del self.pods[i]
                self.pods_with_affinity = [p for p in self.pods_with_affinity if p.key != key]
                self.pods_with_required_anti_affinity = [
                    p for p in self.pods_with_required_anti_affinity if p.key != key]
                self._account(pi, -1)
                return pi
        return None

    def _account(self, pi: PodInfo, sign: int) -> None:
        r = pi.request
        self.requested.milli_cpu += sign * r.milli_cpu
        self.requested.memory += sign * r.memory
        self.requested.ephemeral_storage += sign * r.ephemeral_storage
        for k, v in r.scalar.items():
            self.requested.scalar[k] = self.requested.scalar.get(k, 0) + sign * v
        self.non_zero_requested.milli_cpu += sign * pi.non0_cpu
        self.non_zero_requested.memory += sign * pi.non0_mem
        for port in pi.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """``HostPortInfo.CheckConflict``: 0.0.0.0 conflicts with every IP on that port."""
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(p == port and pr == protocol for _, pr, p in self.used_ports)
        return ((DEFAULT_BIND_ALL_HOST_IP, protocol, port) in self.used_ports
                or (ip, protocol, port) in self.used_ports)

    def clone(self) -> NodeInfo:
        copy = NodeInfo(self.node, list(self.pods), list(self.pods_with_affinity),
                        list(self.pods_with_required_anti_affinity), self.requested.clone(),
                        self.non_zero_requested.clone(), self.allocatable,
                        Counter(self.used_ports), self.image_states, self.generation)
        copy._match_counts = dict(self._match_counts)
        return copy
