"""NodeResourcesFit (filter + LeastAllocated / MostAllocated / RequestedToCapacityRatio
scoring) and NodeResourcesBalancedAllocation.

Fit scoring counts cpu/memory with the non-zero defaults (100m, 200Mi) for containers
without requests; BalancedAllocation uses the real requests (``useRequested``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
from kubesim.components.scheduler.plugins.helpers import go_div, go_round
from kubesim.components.scheduler.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    NON_ZERO_DEFAULTS,
    is_extended_resource_name,
    is_scalar,
    node_allocatable,
    pod_requests,
)
from kubesim.components.scheduler.status import SUCCESS, Status

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
MAX_UTILIZATION = 100
MAX_CUSTOM_PRIORITY_SCORE = 10
DEFAULT_RESOURCES = ({"name": CPU, "weight": 1}, {"name": MEMORY, "weight": 1})

Scorer = Callable[[list[int], list[int]], int]


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


def _weighted(per_resource: Callable[[int, int], int], weights: list[int]) -> Scorer:
    def scorer(requested: list[int], allocatable: list[int]) -> int:
        total = weight_sum = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            total += per_resource(requested[i], alloc) * weights[i]
            weight_sum += weights[i]
        return total // weight_sum if weight_sum else 0
    return scorer


def broken_linear(shape: list[tuple[int, int]]) -> Callable[[int], int]:
    """``helper.BuildBrokenLinearFunction`` over (utilization, score) points."""
    def f(p: int) -> int:
        for i, (u, s) in enumerate(shape):
            if p <= u:
                if i == 0:
                    return shape[0][1]
                u0, s0 = shape[i - 1]
                return s0 + go_div((s - s0) * (p - u0), u - u0)
        return shape[-1][1]
    return f


def requested_to_capacity_ratio_scorer(shape_args: list[dict[str, int]], weights: list[int]) -> Scorer:
    factor = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    shape = [(p["utilization"], p["score"] * factor) for p in shape_args]
    raw = broken_linear(shape)

    def resource_score(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(requested * MAX_UTILIZATION // capacity)

    def scorer(requested: list[int], allocatable: list[int]) -> int:
        total = weight_sum = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            s = resource_score(requested[i], alloc)
            if s > 0:
                total += s * weights[i]
                weight_sum += weights[i]
        return go_round(total / weight_sum) if weight_sum else 0
    return scorer


def balanced_resource_scorer(requested: list[int], allocatable: list[int]) -> int:
    fractions = [min(requested[i] / a, 1.0) for i, a in enumerate(allocatable) if a != 0]
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class _ResourceAllocationScorer:
    """``resourceAllocationScorer``: per-resource (requested + pod, allocatable) fed to a scorer."""

    def __init__(self, resources: Sequence[dict[str, Any]], scorer: Scorer, use_requested: bool) -> None:
        self.resources = [r["name"] for r in resources]
        self.scorer = scorer
        self.use_requested = use_requested
        self._scalar = [is_scalar(r) for r in self.resources]

    def pod_request_list(self, pod: dict[str, Any]) -> list[int]:
        reqs = pod_requests(pod, None if self.use_requested else NON_ZERO_DEFAULTS)
        return [reqs.get(r, 0) for r in self.resources]

    def score(self, ni: NodeInfo, pod_reqs: list[int]) -> int:
        n = len(self.resources)
        requested = [0] * n
        allocatable = [0] * n
        used_cpu_mem = ni.requested if self.use_requested else ni.non_zero_requested
        alloc_all = ni.allocatable
        for i in range(n):
            r = self.resources[i]
            if r == CPU:
                used, alloc = used_cpu_mem.milli_cpu, alloc_all.milli_cpu
            elif r == MEMORY:
                used, alloc = used_cpu_mem.memory, alloc_all.memory
            elif r == EPHEMERAL_STORAGE:
                used, alloc = ni.requested.ephemeral_storage, alloc_all.ephemeral_storage
            elif pod_reqs[i] == 0 and self._scalar[i]:
                continue
            elif r in alloc_all.scalar:
                used, alloc = ni.requested.scalar.get(r, 0), alloc_all.scalar[r]
            else:
                continue
            if alloc == 0:
                continue
            allocatable[i] = alloc
            requested[i] = used + pod_reqs[i]
        return self.scorer(requested, allocatable)

    def score_nodes(self, nodes: Sequence[NodeInfo], pod_reqs: list[int]) -> list[int]:
        """``score`` of each node; for the default resources (cpu, then memory) without the
        per-node dispatch on resource names."""
        if self.resources != [CPU, MEMORY]:
            return [self.score(ni, pod_reqs) for ni in nodes]
        scorer, use_requested = self.scorer, self.use_requested
        pod_cpu, pod_memory = pod_reqs
        out = []
        for ni in nodes:
            used = ni.requested if use_requested else ni.non_zero_requested
            alloc_cpu, alloc_memory = ni.allocatable.milli_cpu, ni.allocatable.memory
            out.append(scorer([used.milli_cpu + pod_cpu if alloc_cpu else 0,
                               used.memory + pod_memory if alloc_memory else 0],
                              [alloc_cpu, alloc_memory]))
        return out


class _AllocationScoring(PreScorePlugin, ScorePlugin):
    """PreScore works out the pod's requests once; Score feeds them to the plugin's scorer."""

    scorer: _ResourceAllocationScorer

    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(f"PreScore{self.name}", self.scorer.pod_request_list(pi.pod))
        return SUCCESS

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        return self.scorer.score(ni, self._pod_reqs(state, pi))

    def score_nodes(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        return self.scorer.score_nodes(nodes, self._pod_reqs(state, pi))

    def _pod_reqs(self, state: CycleState, pi: PodInfo) -> list[int]:
        reqs: list[int] | None = state.read(f"PreScore{self.name}")
        return self.scorer.pod_request_list(pi.pod) if reqs is None else reqs


def fits_request(pi: PodInfo, ni: NodeInfo, ignored: frozenset[str] = frozenset(),
                 ignored_groups: frozenset[str] = frozenset()) -> list[str]:
    """``fitsRequest``: the reasons the pod does not fit (empty when it fits)."""
    reasons = []
    if len(ni.pods) + 1 > ni.allocatable.allowed_pod_number:
        reasons.append("Too many pods")
    req = pi.request
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return reasons
    a, used = ni.allocatable, ni.requested
    if req.milli_cpu > 0 and req.milli_cpu > a.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory > 0 and req.memory > a.memory - used.memory:
        reasons.append("Insufficient memory")
    if req.ephemeral_storage > 0 and req.ephemeral_storage > a.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name in sorted(req.scalar):
        q = req.scalar[name]
        if q == 0:
            continue
        if is_extended_resource_name(name) and (name in ignored or name.split("/", 1)[0] in ignored_groups):
            continue
        if q > a.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


class NodeResourcesFit(PreFilterPlugin, FilterPlugin, _AllocationScoring):
    """Args: ``scoringStrategy`` {type, resources, requestedToCapacityRatio.shape},
    ``ignoredResources``, ``ignoredResourceGroups``."""

    name = "NodeResourcesFit"

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        strategy = self.args.get("scoringStrategy") or {}
        kind = strategy.get("type", LEAST_ALLOCATED)
        resources = strategy.get("resources") or list(DEFAULT_RESOURCES)
        weights = [r.get("weight", 1) or 1 for r in resources]
        if kind == LEAST_ALLOCATED:
            scorer = _weighted(least_requested_score, weights)
        elif kind == MOST_ALLOCATED:
            scorer = _weighted(most_requested_score, weights)
        elif kind == REQUESTED_TO_CAPACITY_RATIO:
            shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
            if not shape:
                raise ValueError("requestedToCapacityRatio.shape is required")
            scorer = requested_to_capacity_ratio_scorer(shape, weights)
        else:
            raise ValueError(f"scoring strategy {kind} is not supported")
        self.strategy = kind
        self.scorer = _ResourceAllocationScorer(resources, scorer, use_requested=False)
        self.ignored = frozenset(self.args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(self.args.get("ignoredResourceGroups") or ())

    def pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status]:
        return None, SUCCESS

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        reasons = fits_request(pi, ni, self.ignored, self.ignored_groups)
        return Status.unschedulable(*reasons) if reasons else SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        # Pod scale-down events need InPlacePodVerticalScaling, alpha (off) in v1.32.
        return [ClusterEventWithHint(ClusterEvent("Pod", ActionType.DELETE), self._after_pod_event),
                ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
                                     self._after_node_change)]

    @staticmethod
    def _after_pod_event(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Deleting a placed pod may free room; deleting a pending one cannot."""
        if new is None and (old.get("spec") or {}).get("nodeName"):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP

    def _after_node_change(self, pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the pod would fit the (empty) node and, for an update, a resource it
        requests grew."""
        pi = PodInfo(pod)
        if fits_request(pi, NodeInfo.for_node(new), self.ignored, self.ignored_groups):
            return QueueingHint.SKIP
        if old is None:
            return QueueingHint.QUEUE
        before, after = node_allocatable(old), node_allocatable(new)
        names = [CPU, MEMORY, EPHEMERAL_STORAGE, *pi.request.scalar]
        if any(pi.request.get(n) > 0 and after.get(n) > before.get(n) for n in names):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


class NodeResourcesBalancedAllocation(_AllocationScoring):
    """Favours nodes whose cpu and memory utilisation would be closest to each other."""

    name = "NodeResourcesBalancedAllocation"

    def __init__(self, args: dict[str, Any] | None, handle: Any) -> None:
        super().__init__(args, handle)
        resources = self.args.get("resources") or list(DEFAULT_RESOURCES)
        self.scorer = _ResourceAllocationScorer(resources, balanced_resource_scorer, use_requested=True)
