"""The scheduling algorithm (pkg/scheduler/schedule_one.go ``schedulePod``): PreFilter, the
nominated node first, Filter over a share of the nodes from a round-robin start index
(``percentageOfNodesToScore``), PreScore and Score, and the best node picked with ties
broken by reservoir sampling on the caller's seeded random source; and the FitError
whose message is the FailedScheduling event text.

Pure: the snapshot, the cycle state and the random source come from the caller.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.scheduler.framework import Framework, go_list
from kubesim.components.scheduler.interfaces import CycleState, NodeToStatus
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.snapshot import Snapshot
from kubesim.components.scheduler.status import SUCCESS, Code, Status

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
#: ``basePercentageOfNodesToScore`` and the node divisor of the adaptive default.
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50
NODES_PER_PERCENT = 125
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """``numFeasibleNodesToFind``: every node below 100 nodes; else the percentage (0 or
    unset: the adaptive ``50 - nodes/125``, at least 5%) of the nodes, but at least 100."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage or 0
    if pct == 0:
        pct = max(BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // NODES_PER_PERCENT,
                  MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class Diagnosis:
    """Why nodes were rejected in one cycle (``framework.Diagnosis``)."""

    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


@dataclass
class FitError:
    """No node fits the pod (``framework.FitError``)."""

    pod: dict[str, Any]
    num_all_nodes: int
    diagnosis: Diagnosis

    def message(self) -> str:
        """``FitError.Error()``: counted reasons sorted as strings, then the PostFilter message
        (hence the ".." real clusters show after "preemption: 0/3 nodes are available: ...")."""
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        d = self.diagnosis
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            counts: dict[str, int] = {}
            for st in d.node_to_status.statuses.values():
                for r in st.reasons:
                    counts[r] = counts.get(r, 0) + 1
            absent = self.num_all_nodes - len(d.node_to_status)
            if absent > 0:
                for r in d.node_to_status.absent.reasons:
                    counts[r] = counts.get(r, 0) + absent
            reasons = sorted(f"{n} {r}" for r, n in counts.items())
            if reasons:
                msg += f" {', '.join(reasons)}."
        if d.post_filter_msg:
            msg += f" {d.post_filter_msg}."
        return msg

    __str__ = message


class NoNodesAvailable(Exception):
    """``ErrNoNodesAvailable``: the snapshot holds no node at all."""

    def __init__(self) -> None:
        super().__init__(NO_NODES_AVAILABLE)


@dataclass
class ScheduleResult:
    """The chosen node and how many nodes were evaluated / found feasible."""

    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


@dataclass
class NodeScore:
    """``NodePluginScores``: a node's weighted score per plugin and their total."""

    name: str
    scores: dict[str, int]
    total: int


class SchedulingAlgorithm:
    """``schedulePod`` with the state it keeps between cycles: the round-robin start index
    (shared by every profile, as upstream's ``Scheduler.nextStartNodeIndex``) and the
    global ``percentageOfNodesToScore`` a profile may override."""

    def __init__(self, percentage_of_nodes_to_score: int | None = None) -> None:
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0

    def schedule_pod(self, fwk: Framework, state: CycleState, pi: PodInfo, snapshot: Snapshot,
                     rng: random.Random) -> ScheduleResult | FitError:
        """The suggested host, or a FitError with per-node reasons. Raises
        :class:`NoNodesAvailable`, and ``RuntimeError`` on plugin errors."""
        fwk.handle.snapshot = snapshot
        fwk.handle.rng = rng
        if snapshot.num_nodes() == 0:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pi, snapshot)
        if not feasible:
            return FitError(pi.pod, snapshot.num_nodes(), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = prioritize_nodes(fwk, state, pi, feasible)
        return ScheduleResult(select_host(scores, rng), evaluated, len(feasible))

    def find_nodes_that_fit(self, fwk: Framework, state: CycleState, pi: PodInfo,
                            snapshot: Snapshot) -> tuple[list[NodeInfo], Diagnosis]:
        """``findNodesThatFitPod``."""
        diagnosis = Diagnosis()
        all_nodes = snapshot.node_info_list
        pre_res, s, plugins = fwk.run_pre_filter(state, pi, all_nodes)
        diagnosis.unschedulable_plugins |= plugins
        if not s.is_success():
            if not s.is_rejected():
                raise RuntimeError(s.message())
            # Every node gets the PreFilter's status so that preemption sees it.
            diagnosis.node_to_status.absent = s
            diagnosis.pre_filter_msg = s.message()
            return [], diagnosis
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            ni = snapshot.get(nominated)
            if ni is not None and fwk.run_filter_plugins_with_nominated_pods(state, pi, ni).is_success():
                return [ni], diagnosis
        nodes: Sequence[NodeInfo] = all_nodes
        if pre_res is not None and pre_res.node_names is not None:
            nodes = [snapshot.node_info_map[n] for n in sorted(pre_res.node_names)
                     if n in snapshot.node_info_map]
            diagnosis.node_to_status.absent = Status.unresolvable(
                f"node(s) didn't satisfy plugin(s) {go_list(sorted(plugins))}")
        feasible = self._find_nodes_that_pass_filters(fwk, state, pi, diagnosis, nodes)
        # Advance the start index even on failure, so that every node gets its turn.
        processed = len(feasible) + len(diagnosis.node_to_status)
        self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        return feasible, diagnosis

    def _find_nodes_that_pass_filters(self, fwk: Framework, state: CycleState, pi: PodInfo,
                                      diagnosis: Diagnosis, nodes: Sequence[NodeInfo]) -> list[NodeInfo]:
        """``findNodesThatPassFilters``: stop once enough feasible nodes were found."""
        n = len(nodes)
        if n == 0:
            return []
        percentage = fwk.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.percentage_of_nodes_to_score
        want = num_feasible_nodes_to_find(percentage, n)
        start_index = self.next_start_node_index
        if not fwk.has_filter_plugins():
            return [nodes[(start_index + i) % n] for i in range(want)]
        start = fwk.clock()
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        status = SUCCESS
        for i in range(n):
            ni = nodes[(start_index + i) % n]
            s = fwk.run_filter_plugins_with_nominated_pods(state, pi, ni)
            if s.is_success():
                feasible.append(ni)
                if len(feasible) >= want:
                    break
            elif s.is_rejected():
                statuses.set(ni.name, s)
                diagnosis.unschedulable_plugins.add(s.plugin)
            else:
                fwk.metrics.extension_point("Filter", str(Code.ERROR), fwk.profile_name,
                                            fwk.clock() - start)
                raise RuntimeError(s.message())
        fwk.metrics.extension_point("Filter", str(status.code), fwk.profile_name, fwk.clock() - start)
        return feasible


def prioritize_nodes(fwk: Framework, state: CycleState, pi: PodInfo,
                     nodes: Sequence[NodeInfo]) -> list[NodeScore]:
    """``prioritizeNodes``: every node scores 1 without Score plugins."""
    if not fwk.has_score_plugins():
        return [NodeScore(ni.name, {}, 1) for ni in nodes]
    s = fwk.run_pre_score(state, pi, nodes)
    if not s.is_success():
        raise RuntimeError(s.message())
    per_node = fwk.run_score_plugins(state, pi, nodes)
    return [NodeScore(ni.name, sc, sum(sc.values())) for ni, sc in zip(nodes, per_node, strict=True)]


def select_host(scores: Sequence[NodeScore], rng: random.Random) -> str:
    """``selectHost``: the highest total; ties broken by reservoir sampling with ``rng``."""
    best = scores[0]
    count = 1
    chosen = best.name
    for ns in scores[1:]:
        if ns.total > best.total:
            best, chosen, count = ns, ns.name, 1
        elif ns.total == best.total:
            count += 1
            if rng.randrange(count) == 0:
                chosen = ns.name
    return chosen
