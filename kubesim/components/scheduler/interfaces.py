"""The extension points of the scheduling framework (framework/interface.go), as Python
base classes a plugin subclasses for each point it implements, plus CycleState and the
results some points return.

Plugins receive a :class:`PodInfo` (``pi.pod`` is the Pod dict) and :class:`NodeInfo`s
from the cycle's Snapshot; they reach the rest of the scheduler through a :class:`Handle`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any, ClassVar

from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.status import SUCCESS, Status

if TYPE_CHECKING:
    from kubesim.components.scheduler.framework import Framework
    from kubesim.components.scheduler.queue import QueuedPodInfo
    from kubesim.components.scheduler.snapshot import Snapshot

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class CycleState:
    """Per-cycle plugin data keyed by string; plugins store their PreFilter/PreScore results here."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def read(self, key: str) -> Any:
        return self._data.get(key)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def clone(self) -> CycleState:
        """A copy whose values are cloned (``value.clone()`` if present, else deep-copied)."""
        c = CycleState()
        for k, v in self._data.items():
            c._data[k] = v.clone() if hasattr(v, "clone") else copy.deepcopy(v)
        c.skip_filter_plugins = set(self.skip_filter_plugins)
        c.skip_score_plugins = set(self.skip_score_plugins)
        return c


class ActionType(IntFlag):
    """What happened to an object (``framework.ActionType``)."""

    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_POD_LABEL = 64
    UPDATE_POD_SCALE_DOWN = 128
    UPDATE_POD_TOLERATIONS = 256
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 512
    UPDATE = 1020
    ALL = 1023


@dataclass(frozen=True)
class ClusterEvent:
    """A kind of change in the cluster: resource ("Node", "Pod", ...) and action(s)."""

    resource: str
    action: ActionType
    label: str = ""

    def matches(self, other: ClusterEvent) -> bool:
        """True if ``other`` (an event that happened) is covered by this registration."""
        return self.is_wildcard() or (
            self.resource == other.resource and bool(self.action & other.action))

    def is_wildcard(self) -> bool:
        return self.resource == "*" and self.action == ActionType.ALL


# Well-known events (framework/events.go).
NODE_ADD = ClusterEvent("Node", ActionType.ADD, "NodeAdd")
NODE_DELETE = ClusterEvent("Node", ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD = ClusterEvent("Pod", ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent("Pod", ActionType.DELETE, "AssignedPodDelete")


def pod_update_event(old: dict[str, Any], new: dict[str, Any], label: str) -> ClusterEvent:
    """``PodSchedulingPropertiesChange``, folded into one event: which scheduling-relevant
    parts of the pod changed (any other change is a plain Pod update)."""
    action = ActionType(0)
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= ActionType.UPDATE_POD_LABEL
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_spec.get("tolerations") != new_spec.get("tolerations"):
        action |= ActionType.UPDATE_POD_TOLERATIONS
    if old_spec.get("containers") != new_spec.get("containers"):
        action |= ActionType.UPDATE_POD_SCALE_DOWN
    if old_spec.get("schedulingGates") and not new_spec.get("schedulingGates"):
        action |= ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    return ClusterEvent("Pod", action or ActionType.UPDATE, label)


class QueueingHint(IntEnum):
    """A plugin's answer to "may this event make the rejected pod schedulable?"."""

    SKIP = 0
    QUEUE = 1


#: ``QueueingHintFn(pod, oldObj, newObj)``: old is None for an add, new is None for a delete.
QueueingHintFn = Callable[[dict[str, Any], Any, Any], QueueingHint]


@dataclass(frozen=True)
class ClusterEventWithHint:
    """An event a plugin registers for, with the hint function that filters it (None: always queue)."""

    event: ClusterEvent
    hint: QueueingHintFn | None = None


@dataclass
class PreFilterResult:
    """A PreFilter's node subset; None means all nodes."""

    node_names: set[str] | None = None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return PreFilterResult(set(other.node_names))
        return PreFilterResult(self.node_names & other.node_names)


@dataclass
class PostFilterResult:
    """What a PostFilter achieved (``PostFilterResult`` with its ``NominatingInfo``): the node
    to nominate ("" clears the nomination, None leaves it alone), the victims the actor must
    delete and the lower-priority pods nominated to that node whose nomination it must clear."""

    nominated_node_name: str | None = None
    victims: list[dict[str, Any]] = field(default_factory=list)
    clear_nominations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Handle:
    """What plugins may reach: the framework running them, the cycle's snapshot and random source."""

    framework: Framework
    snapshot: Snapshot | None = None
    rng: random.Random | None = None


class Plugin:
    """Base of every plugin; ``name`` is the registry name. Built as ``cls(args, handle)``."""

    name: ClassVar[str] = ""

    def __init__(self, args: dict[str, Any] | None, handle: Handle) -> None:
        self.args = args or {}
        self.handle = handle

    @property
    def snapshot(self) -> Snapshot:
        snap = self.handle.snapshot
        assert snap is not None, "plugin used outside a scheduling cycle"
        return snap

    def events_to_register(self) -> list[ClusterEventWithHint]:
        """Cluster events that may make a pod this plugin rejected schedulable
        (``EnqueueExtensions.EventsToRegister``), each with its QueueingHint function."""
        return []


class PreEnqueuePlugin(Plugin):
    def pre_enqueue(self, pod: dict[str, Any]) -> Status:
        raise NotImplementedError


class QueueSortPlugin(Plugin):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        raise NotImplementedError


class PreFilterPlugin(Plugin):
    def pre_filter(self, state: CycleState, pi: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status]:
        raise NotImplementedError

    def add_pod(self, state: CycleState, pi: PodInfo, added: PodInfo, ni: NodeInfo) -> Status:
        """PreFilterExtensions.AddPod: update PreFilter state as if ``added`` ran on ``ni``."""
        return SUCCESS

    def remove_pod(self, state: CycleState, pi: PodInfo, removed: PodInfo, ni: NodeInfo) -> Status:
        """PreFilterExtensions.RemovePod."""
        return SUCCESS


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        raise NotImplementedError


class PostFilterPlugin(Plugin):
    def post_filter(self, state: CycleState, pi: PodInfo,
                    statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        raise NotImplementedError


class ScorePlugin(Plugin):
    """Score in [0, 100] after NormalizeScore; ``normalize_score`` edits ``scores`` in place."""

    def score(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> int:
        raise NotImplementedError

    def score_nodes(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """``score`` of each node, in order: what the framework calls (upstream scores nodes
        in parallel goroutines). A plugin may override it to do its per-pod work once per
        cycle instead of once per node; the scores must be those of ``score``."""
        return [self.score(state, pi, ni) for ni in nodes]

    def normalize_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status:
        return SUCCESS


class ReservePlugin(Plugin):
    def reserve(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        raise NotImplementedError

    def unreserve(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        raise NotImplementedError


class PermitPlugin(Plugin):
    def permit(self, state: CycleState, pi: PodInfo, node_name: str) -> tuple[Status, float]:
        """(status, timeout seconds); status Wait parks the pod until allowed or timed out."""
        raise NotImplementedError


class PreBindPlugin(Plugin):
    def pre_bind(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        raise NotImplementedError


class BindPlugin(Plugin):
    """Returns Skip to let the next bind plugin handle the pod."""

    def bind(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        raise NotImplementedError


class PostBindPlugin(Plugin):
    def post_bind(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        raise NotImplementedError


EXTENSION_POINTS: dict[str, type[Plugin]] = {
    "preEnqueue": PreEnqueuePlugin,
    "queueSort": QueueSortPlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "permit": PermitPlugin,
    "preBind": PreBindPlugin,
    "bind": BindPlugin,
    "postBind": PostBindPlugin,
}


class NodeToStatus:
    """Filter statuses by node name, with one status for nodes not in the map (``framework.NodeToStatus``)."""

    def __init__(self, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = {}
        self.absent = absent or Status.unresolvable()

    def get(self, name: str) -> Status:
        return self.statuses.get(name, self.absent)

    def set(self, name: str, status: Status) -> None:
        self.statuses[name] = status

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_for_code(self, nodes: Sequence[NodeInfo], code: int) -> list[NodeInfo]:
        """Nodes (in snapshot order) whose status has ``code``."""
        return [n for n in nodes if self.get(n.name).code == code]
