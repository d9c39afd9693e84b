"""PodTopologySpread: hard constraints (DoNotSchedule) filter on skew, soft ones
(ScheduleAnyway, or the system defaults for pods selected by a Service/RC/RS/StatefulSet)
score by how many matching pods each topology domain already has.

The global minimum per constraint is recomputed exactly from the domain counts rather than
tracked through upstream's two "critical paths" (same answer; upstream's can drift after
preemption's AddPod/RemovePod).

PreScore counts a soft constraint's matching pods on every node of the cluster, every cycle.
Where the count cannot depend on the pod (the system default constraints, no node
requirements on the pod, taints ignored) the per-domain totals are kept between cycles
(`_DomainTotals`) and only nodes whose NodeInfo changed are counted again: the same
numbers, without a pass over 5,000 nodes' pods per pod.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubesim.api.selectors import LabelSelector, selector_from_set
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
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.plugins.helpers import go_round
from kubesim.components.scheduler.selectors import (
    find_untolerated_taint,
    label_selector,
    merge_selectors,
    required_node_affinity,
)
from kubesim.components.scheduler.status import SUCCESS, Status

if TYPE_CHECKING:
    from kubesim.components.scheduler.snapshot import Snapshot

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
REASON_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
REASON_LABEL = REASON_CONSTRAINTS + " (missing required label)"
SYSTEM_DEFAULT_CONSTRAINTS = (
    {"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY},
    {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY},
)
_PRE_FILTER_KEY = "PreFilterPodTopologySpread"
_PRE_SCORE_KEY = "PreScorePodTopologySpread"

NodeMatch = Callable[[Mapping[str, Any]], bool]


@dataclass
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False
    #: the selector as a string, for `NodeInfo.count_matching`'s memo (a str caches its hash)
    selector_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.selector_key = ("!" if self.selector.nothing else "") + str(self.selector)

    def count(self, ni: NodeInfo, namespace: str) -> int:
        """``countPodsMatchSelector`` on the node: matching pods of `namespace`, ignoring
        terminating ones (an Everything selector counts 0)."""
        if self.selector.empty():
            return 0
        return ni.count_matching((namespace, self.selector_key), namespace, self.selector)

    def includes(self, pi: PodInfo, ni: NodeInfo, affinity: NodeMatch) -> bool:
        """``matchNodeInclusionPolicies``."""
        if self.honor_affinity and not affinity(ni.node):
            return False
        if self.honor_taints:
            tolerations = (pi.pod.get("spec") or {}).get("tolerations") or []
            if find_untolerated_taint(ni.taints, tolerations) is not None:
                return False
        return True


def _has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


#: how many (namespace, selector, topology key) totals PreScore keeps: the pods of one
#: ReplicaSet come through the queue together, so a few cover a rollout
DOMAIN_TOTALS_KEPT = 16


class _DomainTotals:
    """Matching pods per value of one topology key over all nodes (a node without the label
    counts under ""), with what each node contributed as of its NodeInfo generation. A
    refresh visits the nodes the snapshot's change log names since the last one (all of
    them the first time, or when the log began a new epoch)."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.nodes: dict[str, tuple[int, str, int]] = {}  # name -> (generation, value, count)
        self.seen: tuple[int, int] | None = None  # (changes epoch, log position) read up to

    def refresh(self, snapshot: Snapshot, c: Constraint, namespace: str) -> dict[str, int]:
        totals, nodes, key = self.totals, self.nodes, c.topology_key
        visit: Iterable[NodeInfo] = snapshot.node_info_list
        if self.seen is not None and self.seen[0] == snapshot.changes_epoch:
            by_name = snapshot.node_info_map
            visit = [by_name[name] for name in snapshot.changed[self.seen[1]:] if name in by_name]
        self.seen = (snapshot.changes_epoch, len(snapshot.changed))
        for ni in visit:
            seen = nodes.get(ni.name)
            if seen is not None and seen[0] == ni.generation:
                continue
            value = ni.labels.get(key, "")
            count = c.count(ni, namespace)
            if seen is not None:
                totals[seen[1]] -= seen[2]
            totals[value] = totals.get(value, 0) + count
            nodes[ni.name] = (ni.generation, value, count)
        return totals


def _has_node_requirements(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return bool(spec.get("nodeSelector")) or "requiredDuringSchedulingIgnoredDuringExecution" in na


@dataclass
class _FilterState:
    constraints: list[Constraint]
    counts: list[dict[str, int]]
    mins: list[int | None] = field(default_factory=list)

    def clone(self) -> _FilterState:
        return _FilterState(self.constraints, [dict(c) for c in self.counts], list(self.mins))

    def min_match(self, i: int) -> int:
        if len(self.counts[i]) < self.constraints[i].min_domains:
            return 0
        m = self.mins[i]
        if m is None:
            m = self.mins[i] = min(self.counts[i].values(), default=0)
        return m


@dataclass
class _ScoreState:
    constraints: list[Constraint]
    ignored: set[str]
    counts: list[dict[str, int]]
    weights: list[float]


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    """Args: ``defaultingType`` ("System" or "List") and ``defaultConstraints``."""

    name = "PodTopologySpread"

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        self.system_defaulted = self.args.get("defaultingType", "System") == "System"
        self.default_constraints = (list(SYSTEM_DEFAULT_CONSTRAINTS) if self.system_defaulted
                                    else list(self.args.get("defaultConstraints") or ()))
        self._totals: OrderedDict[tuple[str, str, str], _DomainTotals] = OrderedDict()
        self._totals_of: tuple[Any, int] | None = None  # (snapshot, tree generation) they hold for

    # -- constraints ----------------------------------------------------------------------
    @staticmethod
    def _parse(raw: Sequence[Mapping[str, Any]], pod_labels: Mapping[str, str], action: str,
               selector: LabelSelector | None = None) -> list[Constraint]:
        out = []
        for c in raw:
            if c.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != action:
                continue
            sel = selector if selector is not None else label_selector(c.get("labelSelector"))
            keys = {k: pod_labels[k] for k in c.get("matchLabelKeys") or () if k in pod_labels}
            if keys:
                sel = merge_selectors(selector_from_set(keys), sel)
            out.append(Constraint(
                c.get("maxSkew", 1), c.get("topologyKey", ""), sel, c.get("minDomains") or 1,
                c.get("nodeAffinityPolicy", "Honor") == "Honor",
                c.get("nodeTaintsPolicy", "Ignore") == "Honor"))
        return out

    def constraints(self, pi: PodInfo, action: str) -> list[Constraint]:
        own = (pi.pod.get("spec") or {}).get("topologySpreadConstraints") or []
        if own:
            return self._parse(own, pi.labels, action)
        if not any(c.get("whenUnsatisfiable") == action for c in self.default_constraints):
            return []
        selector = self.default_selector(pi)
        if selector.empty():
            return []
        return self._parse(self.default_constraints, {}, action, selector)

    def default_selector(self, pi: PodInfo) -> LabelSelector:
        """``helper.DefaultSelector``: Services selecting the pod, plus its controller's selector."""
        objects = self.snapshot.objects
        merged: dict[str, str] = {}
        for svc in objects.services:
            meta = svc.get("metadata") or {}
            sel = (svc.get("spec") or {}).get("selector")
            if meta.get("namespace", "default") != pi.namespace or sel is None:
                continue
            if all(pi.labels.get(k) == v for k, v in sel.items()):
                merged.update(sel)
        selector = selector_from_set(merged)
        owner = next((r for r in (pi.pod.get("metadata") or {}).get("ownerReferences") or ()
                      if r.get("controller")), None)
        if owner is None:
            return selector
        kinds = {("v1", "ReplicationController"): objects.replication_controllers,
                 ("apps/v1", "ReplicaSet"): objects.replica_sets,
                 ("apps/v1", "StatefulSet"): objects.stateful_sets}
        candidates = kinds.get((owner.get("apiVersion", ""), owner.get("kind", "")), [])
        for obj in candidates:
            meta = obj.get("metadata") or {}
            if meta.get("name") != owner.get("name") or meta.get("namespace", "default") != pi.namespace:
                continue
            spec_sel = (obj.get("spec") or {}).get("selector")
            if owner.get("kind") == "ReplicationController":
                merged.update(spec_sel or {})
                return selector_from_set(merged)
            return merge_selectors(selector, label_selector(spec_sel)) if spec_sel is not None else selector
        return selector

    # -- filter ---------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status]:
        constraints = self.constraints(pi, DO_NOT_SCHEDULE)
        if not constraints:
            return None, Status.skip()
        affinity = required_node_affinity(pi.pod)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for ni in self.snapshot.node_info_list:
            labels = ni.labels
            if not _has_all_keys(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(pi, ni, affinity):
                    continue
                v = labels[c.topology_key]
                counts[i][v] = counts[i].get(v, 0) + c.count(ni, pi.namespace)
        state.write(_PRE_FILTER_KEY, _FilterState(constraints, counts, [None] * len(constraints)))
        return None, SUCCESS

    def _update(self, state: CycleState, pi: PodInfo, other: PodInfo, ni: NodeInfo, delta: int) -> Status:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is None or other.namespace != pi.namespace or not _has_all_keys(ni.labels, s.constraints):
            return SUCCESS
        affinity = required_node_affinity(pi.pod)
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels) or not c.includes(pi, ni, affinity):
                continue
            v = ni.labels[c.topology_key]
            s.counts[i][v] = s.counts[i].get(v, 0) + delta
            s.mins[i] = None
        return SUCCESS

    def add_pod(self, state: CycleState, pi: PodInfo, added: PodInfo, ni: NodeInfo) -> Status:
        return self._update(state, pi, added, ni, 1)

    def remove_pod(self, state: CycleState, pi: PodInfo, removed: PodInfo, ni: NodeInfo) -> Status:
        return self._update(state, pi, removed, ni, -1)

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        s: _FilterState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return SUCCESS
        labels = ni.labels
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                return Status.unresolvable(REASON_LABEL)
            self_match = 1 if c.selector.matches(pi.labels) else 0
            skew = s.counts[i].get(value, 0) + self_match - s.min_match(i)
            if skew > c.max_skew:
                return Status.unschedulable(REASON_CONSTRAINTS)
        return SUCCESS

    # -- score ----------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        all_nodes = self.snapshot.node_info_list
        if not all_nodes:
            return Status.skip()
        constraints = self.constraints(pi, SCHEDULE_ANYWAY)
        if not constraints:
            return Status.skip()
        require_all = bool((pi.pod.get("spec") or {}).get("topologySpreadConstraints")) or not self.system_defaulted
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for ni in nodes:
            if require_all and not _has_all_keys(ni.labels, constraints):
                ignored.add(ni.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME:
                    counts[i].setdefault(ni.labels.get(c.topology_key, ""), 0)
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME else len(counts[i])
            weights.append(math.log(size + 2))
        affinity = required_node_affinity(pi.pod)
        node_requirements = _has_node_requirements(pi.pod)
        slow = []
        for i, c in enumerate(constraints):
            if c.topology_key == HOSTNAME:
                continue  # counted per node at Score
            if require_all or c.honor_taints or (c.honor_affinity and node_requirements):
                slow.append(i)
            else:
                totals = self._domain_totals(c, pi.namespace).refresh(self.snapshot, c, pi.namespace)
                for value in counts[i]:
                    counts[i][value] = totals.get(value, 0)
        if slow:
            for ni in all_nodes:
                labels = ni.labels
                if require_all and not _has_all_keys(labels, constraints):
                    continue
                for i in slow:
                    c = constraints[i]
                    if not c.includes(pi, ni, affinity):
                        continue
                    value = labels.get(c.topology_key, "")
                    if value not in counts[i]:
                        continue
                    counts[i][value] += c.count(ni, pi.namespace)
        state.write(_PRE_SCORE_KEY, _ScoreState(constraints, ignored, counts, weights))
        return SUCCESS

    def _domain_totals(self, c: Constraint, namespace: str) -> _DomainTotals:
        """The kept totals for (namespace, selector, key), dropped when the snapshot's node
        set changes (a node added or removed)."""
        snapshot = self.snapshot
        if self._totals_of is None or self._totals_of[0] is not snapshot \
                or self._totals_of[1] != snapshot.tree_generation:
            self._totals.clear()
            self._totals_of = (snapshot, snapshot.tree_generation)
        key = (namespace, c.selector_key, c.topology_key)
        totals = self._totals.get(key)
        if totals is None:
            totals = self._totals[key] = _DomainTotals()
            if len(self._totals) > DOMAIN_TOTALS_KEPT:
                self._totals.popitem(last=False)
        else:
            self._totals.move_to_end(key)
        return totals

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        s: _ScoreState = state.read(_PRE_SCORE_KEY)
        if ni.name in s.ignored:
            return 0
        total = 0.0
        labels = ni.labels
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                cnt = c.count(ni, pi.namespace)
            else:
                cnt = s.counts[i][value]
            total += cnt * s.weights[i] + (c.max_skew - 1)
        return go_round(total)

    def normalize_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status:
        s: _ScoreState | None = state.read(_PRE_SCORE_KEY)
        if s is None:
            return SUCCESS
        valid = [sc for ni, sc in zip(nodes, scores, strict=True) if ni.name not in s.ignored]
        min_score = min(valid, default=0)
        max_score = max([0, *valid])
        for i, ni in enumerate(nodes):
            if ni.name in s.ignored:
                scores[i] = 0
            elif max_score == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (max_score + min_score - scores[i]) // max_score
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Pod", ActionType.ALL), self._after_pod_change),
                ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.DELETE
                                                  | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT))]

    def _after_pod_change(self, pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """``isSchedulableAfterPodChange``: a placed pod of the namespace appeared, went or
        changed its labels in a way the pod's constraint selectors see."""
        pi = PodInfo(pod)
        for other in (old, new):
            if other is not None and not _involved(other, pi):
                return QueueingHint.SKIP
        if self.handle.snapshot is None:
            return QueueingHint.QUEUE
        constraints = self.constraints(pi, DO_NOT_SCHEDULE)

        def matched(p: dict[str, Any]) -> list[bool]:
            labels = (p.get("metadata") or {}).get("labels") or {}
            return [c.selector.matches(labels) for c in constraints]

        if old is not None and new is not None:
            return QueueingHint.QUEUE if matched(old) != matched(new) else QueueingHint.SKIP
        return QueueingHint.QUEUE if any(matched(new if new is not None else old)) else QueueingHint.SKIP


def _involved(other: dict[str, Any], pi: PodInfo) -> bool:
    """``involvedInTopologySpreading``: the pod itself, or a placed pod in its namespace."""
    meta = other.get("metadata") or {}
    if meta.get("uid") and meta.get("uid") == (pi.pod.get("metadata") or {}).get("uid"):
        return True
    return bool((other.get("spec") or {}).get("nodeName")) and meta.get("namespace", "default") == pi.namespace
