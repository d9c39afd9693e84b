"""Pod helpers the workload controllers share (pkg/controller/controller_utils.go,
pkg/api/v1/pod/util.go): activity, readiness and availability, pods built from a
template, the pod-template-hash, and the ranking that picks which pods to delete.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from kubesim.api import meta
from kubesim.api.copying import deep_copy

Obj = dict[str, Any]

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
#: util/rand's alphabet for SafeEncodeString (no vowels, no confusable characters).
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase", "")


def is_pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    return phase(pod) not in ("Succeeded", "Failed") and not meta.is_being_deleted(pod)


def is_pod_terminating(pod: Obj) -> bool:
    """Being deleted but not yet in a terminal phase."""
    return meta.is_being_deleted(pod) and phase(pod) not in ("Succeeded", "Failed")


def condition(obj: Obj, cond_type: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == cond_type:
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Obj) -> float | None:
    """When the Ready condition last became True (Unix seconds), if it is True."""
    cond = condition(pod, "Ready")
    if cond is None or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return meta.parse_timestamp(cond["lastTransitionTime"])


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready for at least minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def controller_ref(owner: Obj) -> Obj:
    """metav1.NewControllerRef for `owner` (which carries apiVersion and kind)."""
    md = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"],
            "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}


def pod_from_template(template: Obj, owner: Obj) -> Obj:
    """controller.GetPodFromTemplate: a pod to create for `owner`, named by generateName."""
    tmeta = template.get("metadata") or {}
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "generateName": owner["metadata"]["name"] + "-",
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [controller_ref(owner)],
    }, "spec": deep_copy(template.get("spec") or {})}
    if tmeta.get("annotations"):
        pod["metadata"]["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        pod["metadata"]["finalizers"] = list(tmeta["finalizers"])
    return pod


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """util/rand.SafeEncodeString."""
    return "".join(_SAFE_ALPHANUMS[ord(ch) % len(_SAFE_ALPHANUMS)] for ch in text)


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """controller.ComputeHash: fnv-32a of the template (here its canonical JSON; upstream
    hashes the Go struct) and the collisionCount, safe-encoded like "5d7f8c6b9b"."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(data)))


def _log2_rank(now: float, then: float) -> int:
    """int(math.Log2(nanoseconds since `then`)), as LogarithmicScaleDown compares times."""
    ns = (now - then) * 1e9
    return int(math.log2(ns)) if ns >= 1 else -(2**63)


def _max_restarts(pod: Obj) -> tuple[int, int]:
    st = pod.get("status") or {}
    regular = max((c.get("restartCount", 0) for c in st.get("containerStatuses") or []), default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    sidecar = max((c.get("restartCount", 0) for c in st.get("initContainerStatuses") or []
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _deletion_cost(pod: Obj) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _created(pod: Obj) -> float:
    stamp = (pod.get("metadata") or {}).get("creationTimestamp")
    return meta.parse_timestamp(stamp) if stamp else 0.0


def rank_for_deletion(pods: list[Obj], ranks: list[int], now: float) -> list[Obj]:
    """Pods sorted so that the ones to delete first come first (controller.ActivePodsWithRanks,
    with LogarithmicScaleDown). `ranks[i]` is how many related pods share pod i's node.
    Upstream leaves ties in arbitrary order; here they fall back to uid order."""

    def less(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        pa, ra = a
        pb, rb = b
        na, nb = (pa.get("spec") or {}).get("nodeName", ""), (pb.get("spec") or {}).get("nodeName", "")
        if na != nb and (not na or not nb):
            return -1 if not na else 1
        oa, ob = _PHASE_ORDINAL.get(phase(pa), 0), _PHASE_ORDINAL.get(phase(pb), 0)
        if oa != ob:
            return -1 if oa < ob else 1
        if is_pod_ready(pa) != is_pod_ready(pb):
            return -1 if not is_pod_ready(pa) else 1
        ca, cb = _deletion_cost(pa), _deletion_cost(pb)
        if ca != cb:
            return -1 if ca < cb else 1
        if ra != rb:
            return -1 if ra > rb else 1
        if is_pod_ready(pa) and is_pod_ready(pb):
            ta, tb = ready_since(pa), ready_since(pb)
            if ta is not None and tb is not None and ta != tb:
                ka, kb = _log2_rank(now, ta), _log2_rank(now, tb)
                if ka != kb:
                    return -1 if ka < kb else 1
        xa, xb = _max_restarts(pa), _max_restarts(pb)
        if xa != xb:
            return -1 if xa > xb else 1
        ta, tb = _created(pa), _created(pb)
        if ta != tb:
            ka, kb = _log2_rank(now, ta), _log2_rank(now, tb)
            if ka != kb:
                return -1 if ka < kb else 1
        ua, ub = pa["metadata"].get("uid", ""), pb["metadata"].get("uid", "")
        return -1 if ua < ub else (1 if ua > ub else 0)

    ordered = sorted(zip(pods, ranks, strict=True), key=functools.cmp_to_key(less))
    return [pod for pod, _ in ordered]


def ranks_by_related_pods_on_node(pods: list[Obj], related: list[Obj]) -> list[int]:
    """getPodsRankedByRelatedPodsOnSameNode: active related pods on each pod's node."""
    per_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName", "")
            per_node[node] = per_node.get(node, 0) + 1
    return [per_node.get((p.get("spec") or {}).get("nodeName", ""), 0) for p in pods]
