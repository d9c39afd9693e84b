"""TaintToleration: filter on NoSchedule/NoExecute taints, score by intolerable PreferNoSchedule taints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubesim.components.scheduler.interfaces import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    FilterPlugin,
    PreScorePlugin,
    QueueingHint,
    ScorePlugin,
)
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.plugins.helpers import default_normalize_score
from kubesim.components.scheduler.selectors import find_untolerated_taint, tolerations_tolerate
from kubesim.components.scheduler.status import SUCCESS, Status

_KEY = "PreScoreTaintToleration"


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "TaintToleration"

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        taints = ni.taints
        if not taints:
            return SUCCESS
        tolerations = (pi.pod.get("spec") or {}).get("tolerations") or []
        taint = find_untolerated_taint(taints, tolerations)
        if taint is None:
            return SUCCESS
        return Status.unresolvable(
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}")

    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        tolerations = [t for t in (pi.pod.get("spec") or {}).get("tolerations") or ()
                       if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
        state.write(_KEY, tolerations)
        return SUCCESS

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        tolerations = state.read(_KEY) or []
        return sum(1 for t in ni.taints if t.get("effect") == "PreferNoSchedule"
                   and not tolerations_tolerate(tolerations, t))

    def normalize_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                     self._after_node_change),
                ClusterEventWithHint(ClusterEvent("Pod", ActionType.UPDATE_POD_TOLERATIONS),
                                     self._after_toleration_change)]

    @staticmethod
    def _after_node_change(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the node's taints went from untolerated to tolerated."""
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        was_untolerated = old is None or find_untolerated_taint(
            (old.get("spec") or {}).get("taints") or [], tolerations) is not None
        is_untolerated = find_untolerated_taint((new.get("spec") or {}).get("taints") or [],
                                                tolerations) is not None
        return QueueingHint.QUEUE if was_untolerated and not is_untolerated else QueueingHint.SKIP

    @staticmethod
    def _after_toleration_change(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the pod itself got new tolerations."""
        same = (new.get("metadata") or {}).get("uid") == (pod.get("metadata") or {}).get("uid")
        return QueueingHint.QUEUE if same else QueueingHint.SKIP
