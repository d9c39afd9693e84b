"""DefaultPreemption (PostFilter): find nodes where evicting lower-priority pods lets the
pod fit, keep as few victims as possible (reprieving PDB-violating ones first, highest
priority first), and pick one node by upstream's criteria, in order:

1. fewest PodDisruptionBudget violations; 2. lowest highest-victim priority;
3. lowest sum of victim priorities; 4. fewest victims; 5. latest start time of the
highest-priority victims; 6. the first remaining candidate (in dry-run order; upstream
iterates a Go map here, so its final tie-break is random).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubesim.api.meta import parse_timestamp
from kubesim.components.scheduler.interfaces import (
    CycleState,
    NodeToStatus,
    PostFilterPlugin,
    PostFilterResult,
)
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.podstatus import DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER
from kubesim.components.scheduler.schedule_one import Diagnosis, FitError
from kubesim.components.scheduler.selectors import label_selector
from kubesim.components.scheduler.status import SUCCESS, Code, Status

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
_MAX_INT32 = 2**31 - 1


def start_time(pod: dict[str, Any]) -> float:
    """``status.startTime`` in seconds; pods not started yet count as starting last."""
    ts = (pod.get("status") or {}).get("startTime")
    return parse_timestamp(ts) if ts else math.inf


def terminating_by_preemption(pod: dict[str, Any]) -> bool:
    """``podTerminatingByPreemption``: being deleted, with a DisruptionTarget condition the
    scheduler set."""
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == DISRUPTION_TARGET and c.get("reason") == PREEMPTION_BY_SCHEDULER
               for c in (pod.get("status") or {}).get("conditions") or ())


def more_important(a: PodInfo, b: PodInfo) -> bool:
    """``util.MoreImportantPod``: higher priority, then earlier start."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return start_time(a.pod) < start_time(b.pod)


def _importance_cmp(a: PodInfo, b: PodInfo) -> int:
    return -1 if more_important(a, b) else (1 if more_important(b, a) else 0)


def split_by_pdb_violation(pods: Sequence[PodInfo], pdbs: Sequence[dict[str, Any]]
                           ) -> tuple[list[PodInfo], list[PodInfo]]:
    """``filterPodsWithPDBViolation``: (violating, non-violating), keeping order."""
    allowed = [(p.get("status") or {}).get("disruptionsAllowed", 0) for p in pdbs]
    selectors = [label_selector((p.get("spec") or {}).get("selector")) for p in pdbs]
    violating, ok = [], []
    for pi in pods:
        violated = False
        if pi.labels:
            for i, pdb in enumerate(pdbs):
                meta = pdb.get("metadata") or {}
                if meta.get("namespace", "default") != pi.namespace:
                    continue
                sel = selectors[i]
                if sel.empty() or not sel.matches(pi.labels):
                    continue
                if pi.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else ok).append(pi)
    return violating, ok


@dataclass
class Candidate:
    """A node and the victims that make room on it."""

    name: str
    victims: list[PodInfo]
    num_pdb_violations: int


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption`` over candidates in order."""
    def highest_priority(c: Candidate) -> int:
        return -c.victims[0].priority

    def sum_priorities(c: Candidate) -> int:
        return -sum(v.priority + _MAX_INT32 + 1 for v in c.victims)

    def earliest_start_of_highest(c: Candidate) -> float:
        top = max(v.priority for v in c.victims)
        return min(start_time(v.pod) for v in c.victims if v.priority == top)

    score_funcs = (lambda c: -c.num_pdb_violations, highest_priority, sum_priorities,
                   lambda c: -len(c.victims), earliest_start_of_highest)
    remaining = list(candidates)
    for f in score_funcs:
        scores = [f(c) for c in remaining]
        best = max(scores)
        remaining = [c for c, s in zip(remaining, scores, strict=True) if s == best]
        if len(remaining) == 1:
            break
    return remaining[0]


class DefaultPreemption(PostFilterPlugin):
    """Args: ``minCandidateNodesPercentage`` (10) and ``minCandidateNodesAbsolute`` (100)."""

    name = "DefaultPreemption"

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        self.min_pct: int = self.args.get("minCandidateNodesPercentage", 10)
        self.min_abs: int = self.args.get("minCandidateNodesAbsolute", 100)

    def num_candidates(self, num_nodes: int) -> int:
        return min(max(num_nodes * self.min_pct // 100, self.min_abs), num_nodes)

    def post_filter(self, state: CycleState, pi: PodInfo, statuses: NodeToStatus
                    ) -> tuple[PostFilterResult | None, Status]:
        fwk = self.handle.framework
        fwk.metrics.preemption_attempt()
        result, status = self.preempt(state, pi, statuses)
        if status.reasons:
            return result, Status(status.code, ("preemption: " + status.message(),))
        return result, status

    def eligible(self, pi: PodInfo, statuses: NodeToStatus) -> tuple[bool, str]:
        """``PodEligibleToPreemptOthers``."""
        if (pi.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            if statuses.get(nominated).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            ni = self.snapshot.get(nominated)
            if ni is not None:
                for p in ni.pods:
                    if p.priority < pi.priority and terminating_by_preemption(p.pod):
                        return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    def preempt(self, state: CycleState, pi: PodInfo, statuses: NodeToStatus
                ) -> tuple[PostFilterResult | None, Status]:
        ok, msg = self.eligible(pi, statuses)
        if not ok:
            return None, Status.unschedulable(msg)
        all_nodes = self.snapshot.node_info_list
        candidates, node_statuses = self.find_candidates(state, pi, all_nodes, statuses)
        if not candidates:
            node_statuses.absent = Status.unresolvable(NOT_HELPFUL)
            err = FitError(pi.pod, len(all_nodes), Diagnosis(node_to_status=node_statuses))
            return PostFilterResult(""), Status.unschedulable(err.message())
        best = candidates[0] if len(candidates) == 1 else pick_one_node(candidates)
        self.handle.framework.metrics.victims(len(best.victims))
        lower = [p.pod for p in self._nominated_to(best.name) if p.priority < pi.priority]
        return PostFilterResult(best.name, [v.pod for v in best.victims], lower), SUCCESS

    def _nominated_to(self, node_name: str) -> list[PodInfo]:
        nominator = self.handle.framework.nominator
        return [] if nominator is None else nominator.nominated_pods_for_node(node_name)

    def find_candidates(self, state: CycleState, pi: PodInfo, all_nodes: Sequence[NodeInfo],
                        statuses: NodeToStatus) -> tuple[list[Candidate], NodeToStatus]:
        """``findCandidates`` + ``DryRunPreemption``: non-violating candidates first."""
        potential = statuses.nodes_for_code(all_nodes, Code.UNSCHEDULABLE)
        node_statuses = NodeToStatus()
        if not potential:
            return [], node_statuses
        rng = self.handle.rng
        n = len(potential)
        offset = rng.randrange(n) if rng is not None else 0
        want = self.num_candidates(n)
        pdbs = self.snapshot.objects.pdbs
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        for i in range(n):
            ni = potential[(offset + i) % n].clone()
            victims, num_violations, status = self.select_victims_on_node(state.clone(), pi, ni, pdbs)
            if status.is_success() and victims:
                c = Candidate(ni.name, victims, num_violations)
                (violating if num_violations else non_violating).append(c)
                if non_violating and len(non_violating) + len(violating) >= want:
                    break
                continue
            if status.is_success():
                status = Status.error(f"expected at least one victim pod on node {ni.name!r}")
            node_statuses.set(ni.name, status)
        return non_violating + violating, node_statuses

    def select_victims_on_node(self, state: CycleState, pi: PodInfo, ni: NodeInfo,
                               pdbs: Sequence[dict[str, Any]]) -> tuple[list[PodInfo], int, Status]:
        """Remove every lower-priority pod; if the pod then fits, add back as many as possible."""
        fwk = self.handle.framework
        potential = [p for p in ni.pods if p.priority < pi.priority]
        if not potential:
            return [], 0, Status.unresolvable(NO_VICTIMS)
        for p in potential:
            ni.remove_pod(p.key)
            fwk.run_pre_filter_remove_pod(state, pi, p, ni)
        status = fwk.run_filter_plugins_with_nominated_pods(state, pi, ni)
        if not status.is_success():
            return [], 0, status
        potential.sort(key=functools.cmp_to_key(_importance_cmp))
        violating, non_violating = split_by_pdb_violation(potential, pdbs)
        victims: list[PodInfo] = []
        num_violations = 0

        def reprieve(p: PodInfo) -> bool:
            ni.add_pod(p)
            fwk.run_pre_filter_add_pod(state, pi, p, ni)
            if fwk.run_filter_plugins_with_nominated_pods(state, pi, ni).is_success():
                return True
            ni.remove_pod(p.key)
            fwk.run_pre_filter_remove_pod(state, pi, p, ni)
            victims.append(p)
            return False

        for p in violating:
            if not reprieve(p):
                num_violations += 1
        for p in non_violating:
            reprieve(p)
        if violating and non_violating:
            victims.sort(key=functools.cmp_to_key(_importance_cmp))
        return victims, num_violations, SUCCESS
