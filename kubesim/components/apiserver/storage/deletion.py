"""Graceful deletion and deletion finalizers, as pure functions over dict objects.

``before_delete`` is ``rest.BeforeDelete`` (k8s.io/apiserver pkg/registry/rest/delete.go) with
the pod strategy's ``CheckGracefulDelete`` (kubernetes pkg/registry/core/pod/strategy.go);
``gc_finalizers``, ``mark_as_deleting`` and ``should_delete_during_update`` are the helpers of
the generic registry store (pkg/registry/generic/registry/store.go). They change the object
passed in; the store writes the result.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import meta, status
from kubesim.api.kinds import Kind
from kubesim.components.apiserver.storage.options import DeleteOptions
from kubesim.components.apiserver.storage.strategy import ORPHAN_DEPENDENTS, UNSUPPORTED, Strategy

Obj = dict[str, Any]
ORPHAN = meta.FINALIZER_ORPHAN_DEPENDENTS
FOREGROUND = meta.FINALIZER_DELETE_DEPENDENTS


def check_preconditions(kind: Kind, obj: Obj, opts: DeleteOptions) -> None:
    """BeforeDelete's early precondition check (409 on ``Kind`` "name", as upstream words it)."""
    metadata = obj["metadata"]
    name = metadata.get("name", "")
    uid, rv = opts.precondition_uid, opts.precondition_resource_version
    if uid is not None and uid != metadata.get("uid", ""):
        raise status.conflict(kind.kind, name, (
            f"the UID in the precondition ({uid}) does not match the UID in record "
            f"({metadata.get('uid', '')}). The object might have been deleted and then recreated"),
            kind.group)
    if rv is not None and rv != metadata.get("resourceVersion", ""):
        raise status.conflict(kind.kind, name, (
            f"the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion "
            f"in record ({metadata.get('resourceVersion', '')}). The object might have been "
            "modified"), kind.group)


def _pod_grace_period(pod: Obj, opts: DeleteOptions) -> int:
    """The pod strategy's ``CheckGracefulDelete``: the grace period the deletion gets."""
    spec = pod.get("spec") or {}
    if opts.grace_period_seconds is not None:
        period = opts.grace_period_seconds
    else:
        period = spec.get("terminationGracePeriodSeconds") or 0
    if not spec.get("nodeName"):
        period = 0  # never scheduled: nothing to stop
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        period = 0
    return 1 if period < 0 else period


def before_delete(strategy: Strategy, kind: Kind, obj: Obj, opts: DeleteOptions,
                  now: float) -> tuple[bool, bool, DeleteOptions]:
    """(graceful, pending, options): ``graceful`` when ``obj`` was changed for a graceful
    deletion to be written, ``pending`` when a graceful deletion is already under way and
    this request does not shorten it."""
    check_preconditions(kind, obj, opts)
    metadata = obj["metadata"]
    if opts.grace_period_seconds is not None and opts.grace_period_seconds < 0:
        opts = opts.with_grace(1)
    if (metadata.get("deletionGracePeriodSeconds") or 0) < 0:
        metadata["deletionGracePeriodSeconds"] = 1
    if not strategy.graceful_delete:
        return False, False, opts
    if metadata.get("deletionTimestamp"):
        current = metadata.get("deletionGracePeriodSeconds")
        if not current:
            return False, False, opts
        if opts.grace_period_seconds is None:
            return False, True, opts.with_grace(current)
        if opts.grace_period_seconds >= current:
            return False, True, opts
        started = meta.parse_timestamp(metadata["deletionTimestamp"]) - current
        metadata["deletionTimestamp"] = meta.timestamp(started + opts.grace_period_seconds)
        metadata["deletionGracePeriodSeconds"] = opts.grace_period_seconds
        return True, False, opts
    period = _pod_grace_period(obj, opts)
    opts = opts.with_grace(period)
    metadata["deletionTimestamp"] = meta.timestamp(now + period)
    metadata["deletionGracePeriodSeconds"] = period
    if metadata.get("generation", 0) > 0:
        metadata["generation"] += 1
    return True, False, opts


def _should_orphan(strategy: Strategy, finalizers: list[str], opts: DeleteOptions) -> bool:
    if strategy.gc_policy == UNSUPPORTED:
        return False
    if opts.orphan_dependents is not None:
        return opts.orphan_dependents
    if opts.propagation_policy is not None:
        return opts.propagation_policy == "Orphan"
    for f in finalizers:
        if f in (ORPHAN, FOREGROUND):
            return f == ORPHAN
    return strategy.gc_policy == ORPHAN_DEPENDENTS


def _should_delete_dependents(strategy: Strategy, finalizers: list[str],
                              opts: DeleteOptions) -> bool:
    if strategy.gc_policy == UNSUPPORTED or opts.orphan_dependents is not None:
        return False
    if opts.propagation_policy is not None:
        return opts.propagation_policy == "Foreground"
    for f in finalizers:
        if f in (ORPHAN, FOREGROUND):
            return f == FOREGROUND
    return False


def gc_finalizers(strategy: Strategy, obj: Obj, opts: DeleteOptions) -> tuple[bool, list[str]]:
    """``deletionFinalizersForGarbageCollection``: (changed, the finalizers to have)."""
    current = list(obj["metadata"].get("finalizers") or [])
    wanted = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if _should_orphan(strategy, current, opts):
        wanted.append(ORPHAN)
    if _should_delete_dependents(strategy, current, opts):
        wanted.append(FOREGROUND)
    if set(wanted) == set(current):
        return False, current
    return True, wanted


def mark_as_deleting(obj: Obj, now: float) -> None:
    """``markAsDeleting``: deletionTimestamp now (unless earlier), grace period 0."""
    metadata = obj["metadata"]
    if not metadata.get("deletionTimestamp") and metadata.get("generation", 0) > 0:
        metadata["generation"] += 1
    existing = metadata.get("deletionTimestamp")
    if not existing or meta.parse_timestamp(existing) > now:
        metadata["deletionTimestamp"] = meta.timestamp(now)
    metadata["deletionGracePeriodSeconds"] = 0


def should_delete_during_update(new: Obj, old: Obj) -> bool:
    """``ShouldDeleteDuringUpdate``: the last finalizer went from an object being deleted."""
    if new.get("metadata", {}).get("finalizers"):
        return False
    old_meta = old.get("metadata", {})
    if not old_meta.get("deletionTimestamp"):
        return False
    return not old_meta.get("deletionGracePeriodSeconds")
