"""NodeAffinity: required nodeSelector / node affinity as a filter (with a PreFilter node
subset for ``metadata.name`` match fields), preferred terms as a score."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.plugins.helpers import default_normalize_score
from kubesim.components.scheduler.selectors import (
    node_selector_term_matches,
    required_node_affinity,
)
from kubesim.components.scheduler.status import SUCCESS, Status

_PRE_FILTER_KEY = "PreFilterNodeAffinity"
_PRE_SCORE_KEY = "PreScoreNodeAffinity"
REASON_POD = "node(s) didn't match Pod's node affinity/selector"
REASON_CONFLICT = "pod affinity terms conflict"


def _required(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    return affinity.get("requiredDuringSchedulingIgnoredDuringExecution")


def _node_names(terms: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """Nodes named by ``metadata.name In`` fields in every term, or None if any term allows all."""
    result: set[str] | None = None
    for term in terms:
        term_names: set[str] | None = None
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In":
                values = set(f.get("values") or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        result = term_names if result is None else result | term_names
    return result


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status]:
        required = _required(pi.pod)
        if required is None and (pi.pod.get("spec") or {}).get("nodeSelector") is None:
            return None, Status.skip()
        state.write(_PRE_FILTER_KEY, required_node_affinity(pi.pod))
        terms = (required or {}).get("nodeSelectorTerms") or []
        if not terms:
            return None, SUCCESS
        names = _node_names(terms)
        if names is None:
            return None, SUCCESS
        if not names:
            return None, Status.unresolvable(REASON_CONFLICT)
        return PreFilterResult(names), SUCCESS

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        match: Callable[[Mapping[str, Any]], bool] | None = state.read(_PRE_FILTER_KEY)
        if match is None:
            match = required_node_affinity(pi.pod)
        return SUCCESS if match(ni.node) else Status.unresolvable(REASON_POD)

    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        affinity = ((pi.pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
        terms = [(t.get("weight", 0), t.get("preference") or {})
                 for t in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]
        terms = [(w, p) for w, p in terms
                 if w != 0 and (p.get("matchExpressions") or p.get("matchFields"))]
        if not terms:
            return Status.skip()
        state.write(_PRE_SCORE_KEY, terms)
        return SUCCESS

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        terms = state.read(_PRE_SCORE_KEY) or []
        return sum(w for w, p in terms if node_selector_term_matches(p, ni.node))

    def normalize_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                                     self._after_node_change)]

    @staticmethod
    def _after_node_change(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the node matches the pod's required affinity and did not before."""
        match = required_node_affinity(pod)
        if not match(new) or (old is not None and match(old)):
            return QueueingHint.SKIP
        return QueueingHint.QUEUE
