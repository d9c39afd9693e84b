"""Small in-tree plugins: PrioritySort, SchedulingGates, NodeName, NodeUnschedulable,
NodePorts and DefaultBinder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubesim.components.scheduler.interfaces import (
    ActionType,
    BindPlugin,
    ClusterEvent,
    ClusterEventWithHint,
    CycleState,
    FilterPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreFilterResult,
    QueueingHint,
    QueueSortPlugin,
)
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.selectors import tolerations_tolerate
from kubesim.components.scheduler.status import SUCCESS, Status

if TYPE_CHECKING:
    from kubesim.components.scheduler.queue import QueuedPodInfo

BINDING_KEY = "DefaultBinder/binding"
_NODE_ADD_OR_UPDATE = ActionType.ADD | ActionType.UPDATE


class PrioritySort(QueueSortPlugin):
    """Higher ``spec.priority`` first, then the earlier queue timestamp."""

    name = "PrioritySort"

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pi.priority, b.pi.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


class SchedulingGates(PreEnqueuePlugin):
    """Keeps pods with ``spec.schedulingGates`` out of the activeQ."""

    name = "SchedulingGates"

    def pre_enqueue(self, pod: dict[str, Any]) -> Status:
        gates = (pod.get("spec") or {}).get("schedulingGates") or []
        if not gates:
            return SUCCESS
        names = [g.get("name", "") for g in gates]
        return Status.unresolvable(f"waiting for scheduling gates: [{' '.join(names)}]")

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Pod", ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED))]


class NodeName(FilterPlugin):
    name = "NodeName"
    REASON = "node(s) didn't match the requested node name"

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        want = (pi.pod.get("spec") or {}).get("nodeName")
        if want and want != ni.name:
            return Status.unresolvable(self.REASON)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", _NODE_ADD_OR_UPDATE), self._after_node_change)]

    @staticmethod
    def _after_node_change(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the node the pod names appears."""
        want = (pod.get("spec") or {}).get("nodeName")
        return QueueingHint.QUEUE if want and new["metadata"]["name"] == want else QueueingHint.SKIP


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"
    REASON = "node(s) were unschedulable"
    _TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        if not (ni.node.get("spec") or {}).get("unschedulable"):
            return SUCCESS
        tolerations = (pi.pod.get("spec") or {}).get("tolerations") or []
        if tolerations_tolerate(tolerations, self._TAINT):
            return SUCCESS
        return Status.unresolvable(self.REASON)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                     self._after_node_change)]

    @staticmethod
    def _after_node_change(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when a node became schedulable (or appeared schedulable)."""
        was = old is not None and not (old.get("spec") or {}).get("unschedulable")
        now = not (new.get("spec") or {}).get("unschedulable")
        return QueueingHint.QUEUE if now and not was else QueueingHint.SKIP


class NodePorts(PreFilterPlugin, FilterPlugin):
    """Rejects nodes where a requested hostPort is taken (0.0.0.0 clashes with every IP)."""

    name = "NodePorts"
    REASON = "node(s) didn't have free ports for the requested pod ports"

    def pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                   ) -> tuple[PreFilterResult | None, Status]:
        if not pi.host_ports:
            return None, Status.skip()
        return None, SUCCESS

    def filter(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        for ip, proto, port in pi.host_ports:
            if ni.port_conflict(ip, proto, port):
                return Status.unschedulable(self.REASON)
        return SUCCESS

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Pod", ActionType.DELETE), self._after_pod_deleted),
                ClusterEventWithHint(ClusterEvent("Node", _NODE_ADD_OR_UPDATE))]

    @staticmethod
    def _after_pod_deleted(pod: dict[str, Any], old: Any, new: Any) -> QueueingHint:
        """Queue when the deleted pod was placed (or nominated) and held a port the pod wants."""
        if not (old.get("spec") or {}).get("nodeName") and not (old.get("status") or {}).get("nominatedNodeName"):
            return QueueingHint.SKIP
        freed = NodeInfo({"metadata": {}})
        freed.add_pod(PodInfo(old))
        wanted = PodInfo(pod).host_ports
        if any(freed.port_conflict(ip, proto, port) for ip, proto, port in wanted):
            return QueueingHint.QUEUE
        return QueueingHint.SKIP


class DefaultBinder(BindPlugin):
    """Binds by creating a v1 Binding: the object is left in the CycleState (``BINDING_KEY``)
    for the actor to POST to ``pods/<name>/binding``."""

    name = "DefaultBinder"

    def bind(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        meta = pi.pod.get("metadata") or {}
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"namespace": pi.namespace, "name": pi.name, "uid": meta.get("uid", "")},
            "target": {"kind": "Node", "name": node_name},
        }
        state.write(BINDING_KEY, binding)
        return SUCCESS
