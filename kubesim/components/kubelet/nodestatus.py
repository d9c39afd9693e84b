"""The kubelet's Node object and node Lease, after kubernetes/pkg/kubelet (v1.32):
kubelet_node_status.go (initialNode, registration, updateDefaultLabels, the update rule),
nodestatus/setters.go (addresses, capacity/allocatable, node info, images, conditions)
and nodelease/ (the Lease in kube-node-lease, renewed every 10 s).

The status is posted when it changed (ignoring heartbeat times) or once
nodeStatusReportFrequency (5 min) has passed since the last post; the Lease carries the
10-second heartbeat. Ready stays False until the PLEG has relisted once and the node has
a podCIDR for its CNI (the messages the real kubelet reports in those states).
"""

from __future__ import annotations

import copy
from typing import Any

from kubesim.api.copying import deep_copy
from kubesim.api.meta import micro_timestamp, timestamp
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.containers import runtime_id

Obj = dict[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
KUBELET_PORT = 10250
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
PLEG_NOT_HEALTHY = "PLEG is not healthy: pleg has yet to be successful"
NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false "
                     "reason:NetworkPluginNotReady message:Network plugin returns error: "
                     "cni plugin not initialized")


def default_labels(cfg: KubeletConfig) -> dict[str, str]:
    """The labels the kubelet keeps on its node (updateDefaultLabels), plus --node-labels."""
    labels = {
        "beta.kubernetes.io/arch": cfg.architecture,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": cfg.architecture,
        HOSTNAME_LABEL: cfg.node_name,
        "kubernetes.io/os": "linux",
    }
    if cfg.instance_type:
        labels[INSTANCE_TYPE_LABEL] = cfg.instance_type
        labels["beta.kubernetes.io/instance-type"] = cfg.instance_type
    if cfg.zone:
        labels[ZONE_LABEL] = cfg.zone
        labels["failure-domain.beta.kubernetes.io/zone"] = cfg.zone
    if cfg.region:
        labels[REGION_LABEL] = cfg.region
        labels["failure-domain.beta.kubernetes.io/region"] = cfg.region
    labels.update(cfg.labels)
    return labels


def _condition(ctype: str, ok: bool, reason: str, message: str, now: str) -> Obj:
    return {"type": ctype, "status": "True" if ok else "False", "lastHeartbeatTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message}


def conditions(ready_problems: list[str], now: str) -> list[Obj]:
    """MemoryPressure, DiskPressure, PIDPressure and Ready, in the order the kubelet writes them."""
    out = [
        _condition("MemoryPressure", False, "KubeletHasSufficientMemory",
                   "kubelet has sufficient memory available", now),
        _condition("DiskPressure", False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
        _condition("PIDPressure", False, "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
    ]
    if ready_problems:
        out.append(_condition("Ready", False, "KubeletNotReady", ", ".join(ready_problems), now))
    else:
        out.append(_condition("Ready", True, "KubeletReady", "kubelet is posting ready status", now))
    return out


def node_status(cfg: KubeletConfig, images: list[Obj], ready_problems: list[str],
                old: Obj | None, now: float, boot: int = 0) -> Obj:
    """The node status the setters produce; transition times carried over from `old`."""
    stamp = timestamp(cfg.epoch + now)
    status: Obj = {
        "capacity": dict(cfg.capacity),
        "allocatable": cfg.allocatable(),
        "conditions": conditions(ready_problems, stamp),
        "addresses": [{"type": "InternalIP", "address": cfg.node_ip},
                      {"type": "Hostname", "address": cfg.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": runtime_id(cfg.node_name, "machine")[:32],
            "systemUUID": _uuid(runtime_id(cfg.node_name, "system")),
            "bootID": _uuid(runtime_id(cfg.node_name, "boot", str(boot))),
            "kernelVersion": cfg.kernel_version,
            "osImage": cfg.os_image,
            "containerRuntimeVersion": cfg.container_runtime_version,
            "kubeletVersion": cfg.kubelet_version,
            "operatingSystem": "linux",
            "architecture": cfg.architecture,
        },
        "images": images,
    }
    old_conditions = {c.get("type"): c for c in (old or {}).get("conditions") or []}
    for cond in status["conditions"]:
        prior = old_conditions.get(cond["type"])
        if prior is not None and prior.get("status") == cond["status"] and prior.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prior["lastTransitionTime"]
    return status


def _uuid(hexid: str) -> str:
    return f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:32]}"


def status_changed(old: Obj | None, new: Obj) -> bool:
    """nodeStatusHasChanged: any difference other than the conditions' heartbeat times."""
    if old is None:
        return True

    def strip(status: Obj) -> Obj:
        out = copy.copy(status)
        out["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                             for c in status.get("conditions") or []]
        return out

    return strip(old) != strip(new)


def initial_node(cfg: KubeletConfig, status: Obj) -> Obj:
    """initialNode: what the kubelet POSTs to register."""
    spec: Obj = {}
    if cfg.pod_cidr:
        spec["podCIDR"] = cfg.pod_cidr
        spec["podCIDRs"] = [cfg.pod_cidr]
    if cfg.taints:
        spec["taints"] = deep_copy(cfg.taints)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": cfg.node_name,
            "labels": default_labels(cfg),
            "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": status,
    }


def reconcile_existing(cfg: KubeletConfig, existing: Obj) -> Obj | None:
    """A node that already exists (kubelet restart): the update that restores its default
    labels (updateDefaultLabels), or None when nothing is missing."""
    want = default_labels(cfg)
    labels = (existing.get("metadata") or {}).get("labels") or {}
    if all(labels.get(k) == v for k, v in want.items()):
        return None
    node = deep_copy(existing)
    node.setdefault("metadata", {}).setdefault("labels", {}).update(want)
    return node


def status_patch(old: Obj, new: Obj) -> Obj:
    """The ``nodes/status`` strategic merge patch (changed fields; conditions by type)."""
    patch: Obj = {}
    for key, value in new.items():
        if old.get(key) == value:
            continue
        if key == "conditions":
            patch["$setElementOrder/conditions"] = [{"type": c["type"]} for c in value]
            old_by_type = {c.get("type"): c for c in old.get("conditions") or []}
            patch["conditions"] = [c for c in value if old_by_type.get(c["type"]) != c]
        else:
            patch[key] = value
    return {"status": patch}


def new_lease(cfg: KubeletConfig, node_uid: str, duration: int, now: float) -> Obj:
    """The node's Lease (nodelease controller newLease), owned by the Node."""
    meta: Obj = {"name": cfg.node_name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": cfg.node_name,
                                    "uid": node_uid}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {"holderIdentity": cfg.node_name, "leaseDurationSeconds": duration,
                 "renewTime": micro_timestamp(cfg.epoch + now)},
    }


def renewed(lease: Obj, cfg: KubeletConfig, node_uid: str, duration: int, now: float) -> Obj:
    """The Lease as the next renewal writes it (the read resourceVersion kept for the PUT)."""
    out = deep_copy(lease)
    fresh = new_lease(cfg, node_uid, duration, now)
    out["spec"] = fresh["spec"]
    if "ownerReferences" in fresh["metadata"] and not out["metadata"].get("ownerReferences"):
        out["metadata"]["ownerReferences"] = fresh["metadata"]["ownerReferences"]
    return out
