"""The pod status writes kube-scheduler makes, as strategic-merge patches of ``pods/status``:
the PodScheduled=False condition and nominatedNodeName after a failed attempt
(schedule_one.go ``updatePod``), the DisruptionTarget condition on a preemption victim
(preemption.go ``prepareCandidate``), and clearing a stale nomination.

``UpdatePodCondition`` semantics: a condition whose status does not change keeps its
lastTransitionTime; a write that changes nothing is not made (None).
"""

from __future__ import annotations

from typing import Any

from kubesim.api.meta import timestamp

POD_SCHEDULED = "PodScheduled"
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
#: events.k8s.io's note limit, which ``truncateMessage`` keeps FailedScheduling messages under.
NOTE_LENGTH_LIMIT = 1024


def truncate_message(message: str) -> str:
    """``truncateMessage``: at most 1024 characters, ending in " ..." when cut."""
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    suffix = " ..."
    return message[:NOTE_LENGTH_LIMIT - len(suffix)] + suffix


def _condition_update(pod: dict[str, Any], condition: dict[str, Any], now: float) -> dict[str, Any] | None:
    """``podutil.UpdatePodCondition``: the condition to write, or None if it is already there."""
    for old in (pod.get("status") or {}).get("conditions") or ():
        if old.get("type") != condition["type"]:
            continue
        same = all(old.get(k) == condition.get(k) for k in ("status", "reason", "message"))
        if same:
            return None
        transition = old.get("lastTransitionTime") if old.get("status") == condition["status"] else None
        return {**condition, "lastProbeTime": None, "lastTransitionTime": transition or timestamp(now)}
    return {**condition, "lastProbeTime": None, "lastTransitionTime": timestamp(now)}


def unschedulable_patch(pod: dict[str, Any], reason: str, message: str,
                        nominated_node: str | None, now: float) -> dict[str, Any] | None:
    """``updatePod`` after a failed attempt: PodScheduled=False with the reason and message,
    and nominatedNodeName when it is to change (None: leave it). None if nothing changes."""
    patch: dict[str, Any] = {}
    cond = _condition_update(pod, {"type": POD_SCHEDULED, "status": "False", "reason": reason,
                                   "message": message}, now)
    if cond is not None:
        patch["conditions"] = [cond]
    current = (pod.get("status") or {}).get("nominatedNodeName") or ""
    if nominated_node is not None and nominated_node != current:
        patch["nominatedNodeName"] = nominated_node or None
    return patch or None


def disruption_target_patch(victim: dict[str, Any], scheduler_name: str, now: float) -> dict[str, Any] | None:
    """The DisruptionTarget condition set on a victim before it is deleted."""
    cond = _condition_update(victim, {
        "type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
        "message": f"{scheduler_name}: preempting to accommodate a higher priority pod"}, now)
    return {"conditions": [cond]} if cond is not None else None


def clear_nomination_patch() -> dict[str, Any]:
    """``ClearNominatedNodeName``."""
    return {"nominatedNodeName": None}
