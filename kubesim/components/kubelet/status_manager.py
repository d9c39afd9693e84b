"""The kubelet's status manager, after kubernetes/pkg/kubelet/status/status_manager.go (v1.32),
pure: the actor does the GET, PATCH and DELETE it asks for.

- `set_pod_status` (SetPodStatus / TerminatePod -> updateStatusInternal) caches the status
  the pod worker generated, keeps condition lastTransitionTimes and startTime stable, skips a
  status equal to the cached one and otherwise bumps the pod's version;
- `pending` lists the pods whose cached version is newer than what the apiserver has (and
  those ready to be deleted): the sync loop writes them in one batch, as `syncBatch` does
  when signalled, and retries failures every 10 s;
- `prepare` merges the cached status into the pod just read from the apiserver
  (mergePodStatus: conditions the kubelet does not own are kept; ready conditions go False
  on a terminal phase) and returns the two-way strategic merge patch for ``pods/status``
  (None when nothing changed), with the pod's uid as precondition;
- `can_be_deleted`: a pod with a deletionTimestamp whose phase is terminal and whose
  termination has finished is deleted with grace period 0 (mirror pods never).
Static pods report through their mirror pod: `api_name` translates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api.meta import timestamp
from kubesim.components.kubelet.podstatus import KUBELET_CONDITIONS, TERMINAL
from kubesim.components.kubelet.static_pods import CONFIG_SOURCE, FILE_SOURCE, is_mirror

Obj = dict[str, Any]

#: status_manager.go syncPeriod: the periodic reconcile of every cached status.
SYNC_PERIOD = 10.0
#: status lists that strategic merge patches merge by key (core/v1 PodStatus patch tags).
_MERGE_KEYS = {"conditions": "type", "podIPs": "ip", "hostIPs": "ip"}


@dataclass(slots=True)
class Versioned:
    """versionedPodStatus: a cached status and where it goes."""

    status: Obj
    version: int
    namespace: str
    name: str  # the pod in the API (the mirror pod's name for a static pod)
    finished: bool
    at: float  # when this version was cached


def _owned_conditions(status: Obj) -> dict[str, tuple[Any, ...]]:
    return {c.get("type"): (c.get("status"), c.get("reason"), c.get("message"))
            for c in status.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS}


def status_equal(old: Obj, new: Obj) -> bool:
    """isPodStatusByKubeletEqual: conditions compared by status, reason and message."""
    if _owned_conditions(old) != _owned_conditions(new):
        return False
    return all(old.get(k) == new.get(k) for k in old.keys() | new.keys() if k != "conditions")


def _update_transition_times(status: Obj, old: Obj, stamp: str) -> None:
    old_by_type = {c.get("type"): c for c in old.get("conditions") or []}
    for cond in status.get("conditions") or []:
        if cond.get("type") not in KUBELET_CONDITIONS and cond.get("lastTransitionTime"):
            continue
        prior = old_by_type.get(cond.get("type"))
        if prior is not None and prior.get("status") == cond.get("status") and prior.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prior["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = stamp


def merge_pod_status(api: Obj, cached: Obj) -> Obj:
    """mergePodStatus: kubelet-owned conditions from the cache, the others from the API.
    The result shares the cached status' values (it is only read, to build the patch);
    its conditions are its own."""
    merged = dict(cached)
    conditions = [dict(c) for c in api.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    conditions.extend(dict(c) for c in cached.get("conditions") or [] if c.get("type") in KUBELET_CONDITIONS)
    merged["conditions"] = conditions
    if merged.get("phase") in TERMINAL:
        reason = "PodCompleted" if merged["phase"] == "Succeeded" else "PodFailed"
        for cond in conditions:
            if cond.get("type") in ("Ready", "ContainersReady") and cond.get("status") == "True":
                cond.update(status="False", reason=reason)
                cond.pop("message", None)
    for key in ("nominatedNodeName", "resourceClaimStatuses"):
        if key in api and key not in merged:
            merged[key] = api[key]
    return merged


def _item_patch(merge_key: str, old: Obj | None, new: Obj) -> Obj | None:
    """One merge-keyed list item: the changed fields, removed ones as null (None: equal)."""
    if old is None:
        return new
    if old == new:
        return None
    patch = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    patch[merge_key] = new[merge_key]
    return patch


def _list_patch(key: str, old: list[Obj], new: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """The changed items of a merge-keyed list (and deletions), plus $setElementOrder."""
    merge_key = _MERGE_KEYS[key]
    old_by_key = {item.get(merge_key): item for item in old}
    new_keys = [item.get(merge_key) for item in new]
    changed = [p for p in (_item_patch(merge_key, old_by_key.get(item.get(merge_key)), item)
                           for item in new) if p is not None]
    changed.extend({merge_key: k, "$patch": "delete"} for k in old_by_key if k not in new_keys)
    return changed, [{merge_key: k} for k in new_keys]


def status_patch(uid: str, old: Obj, new: Obj) -> Obj | None:
    """strategicpatch.CreateTwoWayMergePatch of the status, as statusutil.PatchPodStatus
    sends it (``{"metadata": {"uid": ...}, "status": {...}}``); None when unchanged."""
    patch: Obj = {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key not in new:
            patch[key] = None
        elif key in _MERGE_KEYS and isinstance(new[key], list) and isinstance(old.get(key), list):
            changed, order = _list_patch(key, old[key], new[key])
            patch[f"$setElementOrder/{key}"] = order
            if changed:
                patch[key] = changed
        else:
            patch[key] = new[key]
    if not patch:
        return None
    return {"metadata": {"uid": uid}, "status": patch}


class StatusManager:
    """Cached pod statuses, their versions and what the apiserver has; see the docstring."""

    def __init__(self, epoch: float = 0.0) -> None:
        self.epoch = epoch
        self._statuses: dict[str, Versioned] = {}
        self._api_versions: dict[str, int] = {}
        self._pods: dict[str, Obj] = {}
        self._mirrors: dict[str, str] = {}  # static pod uid -> mirror pod uid
        #: pods that may need a write: a version the apiserver lacks, or a deletion due
        self._unsynced: dict[str, None] = {}

    # -- pod worker side ------------------------------------------------------------------
    def get(self, uid: str) -> Obj | None:
        cached = self._statuses.get(uid)
        return cached.status if cached is not None else None

    def set_pod_status(self, pod: Obj, status: Obj, now: float, finished: bool = False) -> Obj:
        """updateStatusInternal; returns the status as cached (with its timestamps)."""
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        self._pods[uid] = pod
        cached = self._statuses.get(uid)
        old = cached.status if cached is not None else (pod.get("status") or {})
        status = dict(status)  # the caller's fresh status; only the conditions are changed here
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        stamp = timestamp(self.epoch + now)
        _update_transition_times(status, old, stamp)
        status["startTime"] = old.get("startTime") or status.get("startTime") or stamp
        if cached is not None:
            finished = finished or cached.finished
            if status_equal(cached.status, status) and finished == cached.finished:
                return cached.status
        self._statuses[uid] = Versioned(status, (cached.version if cached else 0) + 1,
                                        meta.get("namespace", ""), meta.get("name", ""), finished, now)
        self._unsynced[uid] = None
        return status

    def forget(self, uid: str) -> None:
        """The pod is gone from its source: drop its status (RemoveOrphanedStatuses)."""
        self._statuses.pop(uid, None)
        self._api_versions.pop(uid, None)
        self._pods.pop(uid, None)
        self._mirrors.pop(uid, None)
        self._unsynced.pop(uid, None)

    def set_mirror(self, static_uid: str, mirror_uid: str) -> None:
        """The static pod `static_uid` reports through the mirror pod `mirror_uid`."""
        self._mirrors[static_uid] = mirror_uid
        if static_uid in self._statuses:
            self._unsynced[static_uid] = None

    # -- sync side ------------------------------------------------------------------------
    def pending(self) -> list[str]:
        """Pods to write now, oldest change first (needsUpdate); a static pod waits for
        its mirror pod."""
        out = []
        for uid in self._unsynced:
            cached = self._statuses[uid]
            if self.is_static(self._pods.get(uid) or {}) and uid not in self._mirrors:
                continue
            if self._api_versions.get(uid, 0) < cached.version or self.can_be_deleted(uid):
                out.append((cached.at, uid))
        return [uid for _, uid in sorted(out)]

    def api_uid(self, uid: str) -> str:
        """The uid of the pod the status is written to (the mirror pod for a static pod)."""
        return self._mirrors.get(uid, uid)

    def target(self, uid: str) -> tuple[str, str, int] | None:
        """(namespace, name, version) of the status to write for `uid`."""
        cached = self._statuses.get(uid)
        if cached is None:
            return None
        return cached.namespace, cached.name, cached.version

    def prepare(self, uid: str, api_pod: Obj) -> Obj | None:
        """The PATCH body for `api_pod` (read from the apiserver), or None if unchanged."""
        cached = self._statuses[uid]
        api_status = api_pod.get("status") or {}
        merged = merge_pod_status(api_status, cached.status)
        return status_patch((api_pod.get("metadata") or {}).get("uid", ""), api_status, merged)

    def synced(self, uid: str, version: int) -> None:
        """The apiserver now has `version` of the pod's status."""
        cached = self._statuses.get(uid)
        if cached is not None:
            self._api_versions[uid] = max(self._api_versions.get(uid, 0), version)
            if self._api_versions[uid] >= cached.version and not self.can_be_deleted(uid):
                self._unsynced.pop(uid, None)

    def can_be_deleted(self, uid: str, api_pod: Obj | None = None) -> bool:
        """canBeDeleted: deletion requested (on `api_pod` if given), phase terminal,
        termination finished; never for static or mirror pods."""
        cached = self._statuses.get(uid)
        pod = api_pod if api_pod is not None else self._pods.get(uid)
        if cached is None or pod is None or not cached.finished:
            return False
        if not (pod.get("metadata") or {}).get("deletionTimestamp") or is_mirror(pod):
            return False
        if self.is_static(self._pods.get(uid) or {}):
            return False
        return cached.status.get("phase") in TERMINAL

    def update_pod(self, pod: Obj) -> None:
        """The pod's latest version from its source (deletionTimestamp matters here)."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        if uid in self._statuses:
            self._pods[uid] = pod
            if self.can_be_deleted(uid):
                self._unsynced[uid] = None

    @staticmethod
    def is_static(pod: Obj) -> bool:
        return ((pod.get("metadata") or {}).get("annotations") or {}).get(CONFIG_SOURCE) == FILE_SOURCE
