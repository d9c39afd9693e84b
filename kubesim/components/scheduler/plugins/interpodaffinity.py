"""InterPodAffinity: required pod affinity / anti-affinity of the incoming pod and the
required anti-affinity of existing pods as filters; preferred terms (both ways) and
existing pods' required affinity (``hardPodAffinityWeight``) as a score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubesim.components.scheduler.interfaces import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueingHint,
    ScorePlugin,
)
from kubesim.components.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo
from kubesim.components.scheduler.status import SUCCESS, Status

REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilterInterPodAffinity"
_PRE_SCORE_KEY = "PreScoreInterPodAffinity"

Pair = tuple[str, str]


def _bump(counts: dict[Pair, int], pair: Pair, delta: int) -> None:
    v = counts.get(pair, 0) + delta
    if v == 0:
        counts.pop(pair, None)
    else:
        counts[pair] = v


@dataclass
class _FilterState:
    pi: PodInfo
    existing_anti: dict[Pair, int]
    affinity: dict[Pair, int]
    anti: dict[Pair, int]
    ns_labels: dict[str, str]

    def clone(self) -> _FilterState:
        return _FilterState(self.pi, dict(self.existing_anti), dict(self.affinity),
                            dict(self.anti), self.ns_labels)

    def update(self, other: PodInfo, ni: NodeInfo, other_ns_labels: dict[str, str], delta: int) -> None:
        """``updateWithPod``: account ``other`` added to / removed from ``ni``."""
        labels = ni.labels
        for t in other.required_anti_affinity:
            if t.matches(self.pi.pod, self.ns_labels) and t.topology_key in labels:
                _bump(self.existing_anti, (t.topology_key, labels[t.topology_key]), delta)
        terms = self.pi.required_affinity
        if terms and all(t.matches(other.pod, other_ns_labels) for t in terms):
            for t in terms:
                if t.topology_key in labels:
                    _bump(self.affinity, (t.topology_key, labels[t.topology_key]), delta)
        for t in self.pi.required_anti_affinity:
            if t.matches(other.pod, other_ns_labels) and t.topology_key in labels:
                _bump(self.anti, (t.topology_key, labels[t.topology_key]), delta)


@dataclass
class _ScoreState:
    topology_score: dict[str, dict[str, int]]


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    """Args: ``hardPodAffinityWeight`` (default 1), ``ignorePreferredTermsOfExistingPods``."""

    name = "InterPodAffinity"

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        self.hard_weight: int = self.args.get("hardPodAffinityWeight", 1)
        self.ignore_existing_preferred: bool = self.args.get("ignorePreferredTermsOfExistingPods", False)

    def _ns_labels(self, namespace: str) -> dict[str, str]:
        snap = self.handle.snapshot
        return snap.namespace_labels(namespace) if snap is not None else {}

    # -- filter ---------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status]:
        snap = self.snapshot
        ns_labels = self._ns_labels(pi.namespace)
        s = _FilterState(pi, {}, {}, {}, ns_labels)
        for ni in snap.have_pods_with_required_anti_affinity:
            labels = ni.labels
            for existing in ni.pods_with_required_anti_affinity:
                for t in existing.required_anti_affinity:
                    if t.topology_key in labels and t.matches(pi.pod, ns_labels):
                        _bump(s.existing_anti, (t.topology_key, labels[t.topology_key]), 1)
        if not s.existing_anti and not pi.required_affinity and not pi.required_anti_affinity:
            return None, Status.skip()
        if pi.required_affinity or pi.required_anti_affinity:
            for ni in snap.node_info_list:
                for existing in ni.pods:
                    other_ns = self._ns_labels(existing.namespace)
                    s_labels = ni.labels
                    terms = pi.required_affinity
                    if terms and all(t.matches(existing.pod, other_ns) for t in terms):
                        for t in terms:
                            if t.topology_key in s_labels:
                                _bump(s.affinity, (t.topology_key, s_labels[t.topology_key]), 1)
                    for t in pi.required_anti_affinity:
                        if t.topology_key in s_labels and t.matches(existing.pod, other_ns):
                            _bump(s.anti, (t.topology_key, s_labels[t.topology_key]), 1)
        state.write(_PRE_FILTER_KEY, s)
        return None, SUCCESS

    def add_pod(self, state: CycleState, pi: PodInfo, added: PodInfo, ni: NodeInfo) -> Status:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update(added, ni, self._ns_labels(added.namespace), 1)
        return SUCCESS

    def remove_pod(self, state: CycleState, pi: PodInfo, removed: PodInfo, ni: NodeInfo) -> Status:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is not None:
            s.update(removed, ni, self._ns_labels(removed.namespace), -1)
        return SUCCESS

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return SUCCESS
        labels = ni.labels
        if not _satisfy_affinity(s, labels):
            return Status.unresolvable(REASON_AFFINITY)
        if s.anti:
            for t in pi.required_anti_affinity:
                v = labels.get(t.topology_key)
                if v is not None and s.anti.get((t.topology_key, v), 0) > 0:
                    return Status.unschedulable(REASON_ANTI_AFFINITY)
        if s.existing_anti:
            for item in labels.items():
                if s.existing_anti.get(item, 0) > 0:
                    return Status.unschedulable(REASON_EXISTING_ANTI_AFFINITY)
        return SUCCESS

    # -- score ----------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        has_constraints = bool(pi.preferred_affinity or pi.preferred_anti_affinity)
        if self.ignore_existing_preferred and not has_constraints:
            return Status.skip()
        snap = self.snapshot
        node_list = snap.node_info_list if has_constraints else snap.have_pods_with_affinity
        ns_labels = self._ns_labels(pi.namespace)
        scores: dict[str, dict[str, int]] = {}

        def process(term: AffinityTerm, weight: int, pod: dict[str, Any], nsl: dict[str, str],
                    labels: dict[str, str], sign: int) -> None:
            v = labels.get(term.topology_key)
            if v is not None and term.matches(pod, nsl):
                per_key = scores.setdefault(term.topology_key, {})
                per_key[v] = per_key.get(v, 0) + weight * sign

        for ni in node_list:
            labels = dict(ni.labels)
            if not labels:
                continue
            for existing in (ni.pods if has_constraints else ni.pods_with_affinity):
                ex_ns = self._ns_labels(existing.namespace)
                for t in pi.preferred_affinity:
                    process(t, t.weight, existing.pod, ex_ns, labels, 1)
                for t in pi.preferred_anti_affinity:
                    process(t, t.weight, existing.pod, ex_ns, labels, -1)
                if self.hard_weight > 0:
                    for t in existing.required_affinity:
                        process(t, self.hard_weight, pi.pod, ns_labels, labels, 1)
                for t in existing.preferred_affinity:
                    process(t, t.weight, pi.pod, ns_labels, labels, 1)
                for t in existing.preferred_anti_affinity:
                    process(t, t.weight, pi.pod, ns_labels, labels, -1)
        if not scores:
            return Status.skip()
        state.write(_PRE_SCORE_KEY, _ScoreState(scores))
        return SUCCESS

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        s: _ScoreState = state.read(_PRE_SCORE_KEY)
        labels = ni.labels
        return sum(values.get(labels[key], 0) for key, values in s.topology_score.items()
                   if key in labels)

    def normalize_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status:
        s: _ScoreState | None = state.read(_PRE_SCORE_KEY)
        if s is None or not s.topology_score or not scores:
            return SUCCESS
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        for i, sc in enumerate(scores):
            scores[i] = math.trunc(MAX_NODE_SCORE * ((sc - lo) / diff)) if diff > 0 else 0
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Pod", ActionType.ALL), self._after_pod_change),
                ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL))]

    def _after_pod_change(self, pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """``isSchedulableAfterPodChange``: only placed pods count; an added or relabelled pod
        that now satisfies the affinity, or a deleted or relabelled one that no longer blocks
        by anti-affinity (its own or the pod's)."""
        for other in (old, new):
            if other is not None and not (other.get("spec") or {}).get("nodeName"):
                return QueueingHint.SKIP
        pi = PodInfo(pod)
        ns_labels = self._ns_labels

        def affine(p: dict[str, Any]) -> bool:
            nsl = ns_labels((p.get("metadata") or {}).get("namespace", "default"))
            return bool(pi.required_affinity) and all(t.matches(p, nsl) for t in pi.required_affinity)

        def blocks(p: dict[str, Any]) -> bool:
            nsl = ns_labels((p.get("metadata") or {}).get("namespace", "default"))
            own = bool(pi.required_anti_affinity) and all(t.matches(p, nsl) for t in pi.required_anti_affinity)
            theirs = any(t.matches(pod, ns_labels(pi.namespace)) for t in PodInfo(p).required_anti_affinity)
            return own or theirs

        if old is not None and new is not None:
            queue = (not affine(old) and affine(new)) or (blocks(old) and not blocks(new))
        elif new is not None:
            queue = affine(new)
        else:
            queue = blocks(old)
        return QueueingHint.QUEUE if queue else QueueingHint.SKIP


def _satisfy_affinity(s: _FilterState, labels: dict[str, str]) -> bool:
    """``satisfyPodAffinity``, including the first-pod-of-a-series exception."""
    pods_exist = True
    for t in s.pi.required_affinity:
        v = labels.get(t.topology_key)
        if v is None:
            return False
        if s.affinity.get((t.topology_key, v), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    return not s.affinity and all(t.matches(s.pi.pod, s.ns_labels) for t in s.pi.required_affinity)
