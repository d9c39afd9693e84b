"""The node lifecycle controller's view of one node's health, pure (tryUpdateNodeHealth in
pkg/controller/nodelifecycle/node_lifecycle_controller.go, v1.32).

The controller trusts its own clock: it records when it last saw the node's Ready
condition heartbeat change or the node's Lease in kube-node-lease renewed (probeTimestamp).
When nothing was seen for the grace period (`--node-monitor-grace-period` 40 s, or
`--node-startup-grace-period` 60 s for a node that never posted a Ready condition), the
Ready, MemoryPressure, DiskPressure and PIDPressure conditions become Unknown
("NodeStatusUnknown: Kubelet stopped posting node status.").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api import meta
from kubesim.api.copying import deep_copy

Obj = dict[str, Any]

CONDITIONS_SET_UNKNOWN = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass
class NodeHealth:
    """nodeHealthData: the last status seen, and the controller's own timestamps."""

    status: Obj
    probe_timestamp: float
    ready_transition_timestamp: float
    lease_renew: float | None = None


def ready_condition(status: Obj | None) -> Obj | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def _renew_time(lease: Obj | None) -> float | None:
    stamp = ((lease or {}).get("spec") or {}).get("renewTime")
    return meta.parse_timestamp(stamp) if stamp else None


@dataclass
class HealthVerdict:
    grace_period: float
    observed: Obj
    current: Obj | None
    health: NodeHealth
    #: the node (a copy) with conditions set to Unknown, to be written through `status`.
    update: Obj | None = None


def try_update_node_health(node: Obj, health: NodeHealth | None, lease: Obj | None, now: float,
                           monitor_grace: float, startup_grace: float) -> HealthVerdict:
    """One node's health step; the caller writes `verdict.update` if set and then calls
    `written(verdict, now)`."""
    created = meta.parse_timestamp(node["metadata"]["creationTimestamp"])
    status = node.get("status") or {}
    current = ready_condition(status)
    if current is None:
        observed: Obj = {"type": "Ready", "status": "Unknown",
                         "lastHeartbeatTime": node["metadata"]["creationTimestamp"],
                         "lastTransitionTime": node["metadata"]["creationTimestamp"]}
        grace = startup_grace
        if health is not None:
            health.status = status
        else:
            health = NodeHealth(status, created, created)
    else:
        observed = deep_copy(current)
        grace = monitor_grace
    saved = ready_condition(health.status) if health is not None else None
    saved_lease = health.lease_renew if health is not None else None
    if health is None:
        health = NodeHealth(status, now, now)
    elif saved is None and current is not None:
        health = NodeHealth(status, now, now)
    elif saved is not None and current is None:
        health = NodeHealth(status, now, now)
    elif saved is not None and current is not None and saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
        transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") \
            else health.ready_transition_timestamp
        health = NodeHealth(status, now, transition)
    renew = _renew_time(lease)
    if renew is not None and (saved_lease is None or saved_lease < renew):
        health.lease_renew = renew
        health.probe_timestamp = now
    elif health.lease_renew is None:
        health.lease_renew = saved_lease
    verdict = HealthVerdict(grace, observed, current, health)
    if now > health.probe_timestamp + grace:
        updated = deep_copy(node)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        stamp = meta.timestamp(now)
        for cond_type in CONDITIONS_SET_UNKNOWN:
            cond = next((c for c in conditions if c.get("type") == cond_type), None)
            if cond is None:
                conditions.append({"type": cond_type, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": node["metadata"]["creationTimestamp"],
                                   "lastTransitionTime": stamp})
            elif cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
        new_ready = ready_condition(updated["status"])
        verdict.current = new_ready
        if new_ready != observed:
            verdict.update = updated
    return verdict


def written(verdict: HealthVerdict, now: float) -> None:
    """After the Unknown conditions were written: the ready transition is now."""
    assert verdict.update is not None
    verdict.health = NodeHealth(verdict.update["status"], verdict.health.probe_timestamp, now,
                                verdict.health.lease_renew)
