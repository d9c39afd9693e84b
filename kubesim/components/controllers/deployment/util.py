"""Deployment arithmetic and bookkeeping, pure (pkg/controller/deployment/util/deployment_util.go).

maxSurge / maxUnavailable resolution (percentages: surge rounds up, unavailable rounds
down, both zero means unavailable 1), the new ReplicaSet's next size, proportional
scaling fractions, revision and replica annotations, the Progressing / Available
conditions and the completeness / progress / timeout tests of a rollout.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from kubesim.api import meta
from kubesim.api.copying import deep_copy

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH = "pod-template-hash"
#: maxRevHistoryLengthInChars of the deployment controller.
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
_SKIP_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                               "deployment.kubernetes.io/error-selector-overlapping-with",
                               "deployment.kubernetes.io/selector-updated-at"})

# condition reasons
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"


# -- sizes --------------------------------------------------------------------------------
def replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def status_of(obj: Obj, key: str) -> int:
    return int((obj.get("status") or {}).get(key, 0))


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    percent = int(value[:-1])
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def is_rolling_update(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == "RollingUpdate"


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge, unavailable); both zero resolves unavailable to 1."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d: Obj) -> Obj:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    return resolve_fenceposts(_rolling(d).get("maxSurge"), _rolling(d).get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    unavailable = resolve_fenceposts(_rolling(d).get("maxSurge"), _rolling(d).get("maxUnavailable"),
                                     replicas(d))[1]
    return min(unavailable, replicas(d))


def total_replicas(rss: list[Obj]) -> int:
    """GetReplicaCountForReplicaSets: the sum of spec.replicas."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: list[Obj | None], key: str) -> int:
    """Sum of status.<key> (replicas, readyReplicas, availableReplicas)."""
    return sum(status_of(rs, key) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    """NewRSNewReplicas: the size the new ReplicaSet may grow to now."""
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type")
    if strategy == "Recreate":
        return replicas(d)
    surge = scaled_value(_rolling(d).get("maxSurge"), replicas(d), True)
    current = total_replicas(all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + scale_up


def _int_annotation(rs: Obj, key: str) -> int | None:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """IsSaturated: the new ReplicaSet has all desired replicas, all available."""
    if rs is None:
        return False
    desired = _int_annotation(rs, DESIRED_REPLICAS)
    return (desired is not None and replicas(rs) == replicas(d) and desired == replicas(d)
            and status_of(rs, "availableReplicas") == replicas(d))


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """GetProportion: this ReplicaSet's share of a scaling event during a rollout."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        max_now = replicas(d) + max_surge(d)
        before = _int_annotation(rs, MAX_REPLICAS) or status_of(d, "replicas")
        fraction = 0 if before == 0 else _round_half_away(replicas(rs) * max_now / before) - replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = (rs.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(max_replicas)


# -- revisions ----------------------------------------------------------------------------
def revision(obj: Obj) -> int:
    """Revision: the revision annotation (0 if absent or unparsable)."""
    return _int_annotation(obj, REVISION) or 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the deployment's annotations, bump the revision
    (keeping the old ones in revision-history on a rollback), set the replica annotations
    on a ReplicaSet about to be created."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((d.get("metadata") or {}).get("annotations") or {}).items():
        if key not in _SKIP_ANNOTATIONS and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old_text = annotations.get(REVISION)
    try:
        old = int(old_text) if old_text is not None else 0
    except ValueError:
        return False
    if old < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = annotations.get(REVISION_HISTORY, "")
            if not history:
                annotations[REVISION_HISTORY] = old_text
            else:
                parts = history.split(",")
                total = len(history) + len(old_text) + 1
                start = 0
                while total > MAX_REV_HISTORY_CHARS and start < len(parts):
                    total -= len(parts[start]) + 1
                    start += 1
                if total <= MAX_REV_HISTORY_CHARS:
                    annotations[REVISION_HISTORY] = ",".join([*parts[start:], old_text])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, rev: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION) == rev:
        return False
    annotations[REVISION] = rev
    return True


# -- templates and ordering -----------------------------------------------------------------
def _without_hash(template: Obj) -> Obj:
    t = deep_copy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            del t["metadata"]["labels"]
    return t


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    """EqualIgnoreHash: templates equal but for the pod-template-hash label."""
    return _without_hash(t1) == _without_hash(t2)


def _created(obj: Obj) -> float:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    return meta.parse_timestamp(stamp) if stamp else 0.0


def by_creation(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    return sorted(rss, key=lambda rs: (_created(rs), rs["metadata"]["name"]))


def by_size_older(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeOlder: largest first; equal sizes oldest first."""
    return sorted(by_creation(rss), key=lambda rs: -replicas(rs))


def by_size_newer(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeNewer: largest first; equal sizes newest first."""
    return sorted(list(reversed(by_creation(rss))), key=lambda rs: -replicas(rs))


def by_revision(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsByRevision: lowest revision first, then oldest."""
    def cmp(a: Obj, b: Obj) -> int:
        ra, rb = revision(a), revision(b)
        if ra != rb:
            return -1 if ra < rb else 1
        ka, kb = (_created(a), a["metadata"]["name"]), (_created(b), b["metadata"]["name"])
        return -1 if ka < kb else (1 if ka > kb else 0)
    return sorted(rss, key=functools.cmp_to_key(cmp))


def active(rss: list[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: those with spec.replicas > 0."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template is the deployment's."""
    for rs in by_creation(rss):
        if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
            return rs
    return None


def find_old_rss(d: Obj, rss: list[Obj]) -> list[Obj]:
    """FindOldReplicaSets' second result: every ReplicaSet but the new one."""
    new = find_new_rs(d, rss)
    return [rs for rs in rss if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """FindActiveOrLatest: the only active ReplicaSet, or the newest if none is active."""
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(by_creation(old_rss)))
    all_active = active([*newest_first, new_rs])
    if not all_active:
        return new_rs if new_rs is not None else newest_first[0]
    return all_active[0] if len(all_active) == 1 else None


# -- conditions ---------------------------------------------------------------------------
def has_progress_deadline(d: Obj) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def get_condition(status: Obj, cond_type: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == cond_type:
            return cond
    return None


def new_condition(cond_type: str, status: str, reason: str, message: str, stamp: str) -> Obj:
    return {"type": cond_type, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: no-op for the same status and reason; keeps
    lastTransitionTime when only the reason changes."""
    current = get_condition(status, cond["type"])
    if current is not None and current["status"] == cond["status"] and current.get("reason") == cond.get("reason"):
        return
    if current is not None and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status["conditions"] = [*(status.get("conditions") or []), cond]


def remove_condition(status: Obj, cond_type: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != cond_type]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    return (status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deployment_timed_out(d: Obj, status: Obj, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = meta.parse_timestamp(cond["lastUpdateTime"])
    return since + d["spec"]["progressDeadlineSeconds"] < now
