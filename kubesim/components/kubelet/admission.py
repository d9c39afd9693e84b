"""Pod admission on the node: the kubelet's predicate admit handler, after
kubernetes/pkg/kubelet/lifecycle/predicate.go and scheduler.AdmissionCheck (v1.32).

A pod the node cannot run is rejected before any pod worker starts: phase Failed, reason
(OutOfcpu, OutOfmemory, OutOfpods, NodeAffinity, NodePorts, TaintToleration, ...) and the
message "Pod was rejected: ...". As upstream, the checks reuse the scheduler's own pieces
(a NodeInfo over the pods already admitted, required node affinity, taint matching); the
caller keeps that NodeInfo up to date instead of rebuilding it per pod. Only
NoExecute taints are checked, and not for static pods. The critical-pod preemption the
kubelet can do on failure is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.resources import CPU, EPHEMERAL_STORAGE, MEMORY
from kubesim.components.scheduler.selectors import find_untolerated_taint, required_node_affinity

Obj = dict[str, Any]

OS_LABEL = "kubernetes.io/os"
NODE_OS = "linux"
REJECTED_PREFIX = "Pod was rejected: "
_OUT_OF = {CPU: "OutOfcpu", MEMORY: "OutOfmemory", EPHEMERAL_STORAGE: "OutOfephemeral-storage",
           "pods": "OutOfpods"}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a pod was not admitted (the pod's status reason and message)."""

    reason: str
    message: str


def _insufficient(name: str, requested: int, used: int, capacity: int) -> Rejection:
    return Rejection(_OUT_OF.get(name, "OutOf" + name),
                     f"Node didn't have enough resource: {name}, requested: {requested}, "
                     f"used: {used}, capacity: {capacity}")


def _predicate(name: str, reason: str) -> Rejection:
    return Rejection(name, f"Predicate {name} failed: {reason}")


def _resources(pi: PodInfo, ni: NodeInfo) -> list[Rejection]:
    """noderesources.Fits with every failure, in upstream order."""
    out = []
    alloc, used, req = ni.allocatable, ni.requested, pi.request
    if len(ni.pods) + 1 > alloc.allowed_pod_number:
        out.append(_insufficient("pods", 1, len(ni.pods), alloc.allowed_pod_number))
    for name, want, have, cap in ((CPU, req.milli_cpu, used.milli_cpu, alloc.milli_cpu),
                                  (MEMORY, req.memory, used.memory, alloc.memory),
                                  (EPHEMERAL_STORAGE, req.ephemeral_storage, used.ephemeral_storage,
                                   alloc.ephemeral_storage)):
        if want > 0 and want > cap - have:
            out.append(_insufficient(name, want, have, cap))
    for name in sorted(req.scalar):
        want = req.scalar[name]
        if want > 0 and name in alloc.scalar and want > alloc.scalar[name] - used.scalar.get(name, 0):
            out.append(_insufficient(name, want, used.scalar.get(name, 0), alloc.scalar[name]))
    return out


def admit(pod: Obj, ni: NodeInfo, static: bool = False) -> Rejection | None:
    """predicateAdmitHandler.Admit: None when the pod may run on `ni` (the node and the
    pods already admitted to it)."""
    spec = pod.get("spec") or {}
    node = ni.node
    node_labels = (node.get("metadata") or {}).get("labels") or {}
    pod_os = ((pod.get("metadata") or {}).get("labels") or {}).get(OS_LABEL)
    if pod_os is not None and pod_os != node_labels.get(OS_LABEL, NODE_OS):
        return Rejection("PodOSSelectorNodeLabelDoesNotMatch",
                         "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label")
    if (spec.get("os") or {}).get("name", NODE_OS) != NODE_OS:
        return Rejection("PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
    pi = PodInfo(pod)
    reasons = _resources(pi, ni)
    if not required_node_affinity(pod)(node):
        reasons.append(_predicate("NodeAffinity", "node(s) didn't match Pod's node affinity/selector"))
    if spec.get("nodeName") and spec["nodeName"] != ni.name:
        reasons.append(_predicate("NodeName", "node(s) didn't match the requested node name"))
    if any(ni.port_conflict(ip, proto, port) for ip, proto, port in pi.host_ports):
        reasons.append(_predicate("NodePorts", "node(s) didn't have free ports for the requested pod ports"))
    if not static and find_untolerated_taint(ni.taints, spec.get("tolerations") or [],
                                             effects=("NoExecute",)) is not None:
        reasons.append(_predicate("TaintToleration", "node(s) had untolerated taint"))
    return reasons[0] if reasons else None


def node_info(node: Obj, pods: list[Obj]) -> NodeInfo:
    """schedulerframework.NewNodeInfo(pods...) with the node set."""
    ni = NodeInfo.for_node(node)
    for pod in pods:
        ni.add_pod(PodInfo(pod))
    return ni


def rejected_status(pod: Obj, rejection: Rejection) -> Obj:
    """rejectPod: the status the kubelet writes for a pod it will not run."""
    status: Obj = {"phase": "Failed", "reason": rejection.reason,
                   "message": REJECTED_PREFIX + rejection.message}
    qos = (pod.get("status") or {}).get("qosClass")
    if qos:
        status["qosClass"] = qos
    return status
