"""Per-kind registry strategies and the create/update preparation every write goes through.

:class:`Strategy` holds the per-kind switches of ``pkg/registry/*/strategy.go`` and
``storage.go`` (AllowCreateOnUpdate, AllowUnconditionalUpdate, graceful deletion,
ReturnDeletedObject, DefaultGarbageCollectionPolicy). :func:`before_create` and
:func:`before_update` are ``rest.BeforeCreate`` / ``rest.BeforeUpdate``
(k8s.io/apiserver pkg/registry/rest/create.go, update.go) over dict objects: system fields,
namespace checks, the kind's PrepareForCreate/PrepareForUpdate (:mod:`kubesim.api.defaults`)
and validation (:mod:`kubesim.api.validation`). Pure: time and uids come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api import defaults, meta, status, validation
from kubesim.api.copying import deep_copy
from kubesim.api.kinds import Kind

Obj = dict[str, Any]

# rest.GarbageCollectionPolicy
DELETE_DEPENDENTS = "DeleteDependents"
ORPHAN_DEPENDENTS = "OrphanDependents"
UNSUPPORTED = "Unsupported"


@dataclass(frozen=True)
class Strategy:
    """What differs between kinds in the generic registry store."""

    allow_create_on_update: bool = False
    allow_unconditional_update: bool = True
    graceful_delete: bool = False  # RESTGracefulDeleteStrategy (pods)
    return_deleted_object: bool = False
    gc_policy: str = ""  # DefaultGarbageCollectionPolicy; "" for kinds without one


_STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "pods"): Strategy(graceful_delete=True, return_deleted_object=True),
    ("", "services"): Strategy(return_deleted_object=True),
    ("", "namespaces"): Strategy(return_deleted_object=True),
    ("", "endpoints"): Strategy(allow_create_on_update=True),
    ("", "events"): Strategy(allow_create_on_update=True, gc_policy=UNSUPPORTED),
    ("events.k8s.io", "events"): Strategy(allow_create_on_update=True, gc_policy=UNSUPPORTED),
    ("", "limitranges"): Strategy(allow_create_on_update=True),
    ("", "resourcequotas"): Strategy(allow_unconditional_update=False),
    ("coordination.k8s.io", "leases"): Strategy(allow_create_on_update=True,
                                                allow_unconditional_update=False),
    ("apps", "deployments"): Strategy(gc_policy=DELETE_DEPENDENTS),
    ("apps", "replicasets"): Strategy(gc_policy=DELETE_DEPENDENTS),
    ("apps", "daemonsets"): Strategy(gc_policy=DELETE_DEPENDENTS),
    # batch/v1 Jobs orphan their pods unless told otherwise (pkg/registry/batch/job/strategy.go)
    ("batch", "jobs"): Strategy(gc_policy=ORPHAN_DEPENDENTS),
}


def strategy_for(kind: Kind) -> Strategy:
    return _STRATEGIES.get((kind.group, kind.resource), Strategy())


def check_type(kind: Kind, obj: Obj) -> None:
    """Fill a missing apiVersion/kind with the store's; 400 for another kind's object."""
    api_version = obj.setdefault("apiVersion", kind.api_version) or kind.api_version
    obj["apiVersion"] = api_version
    if api_version != kind.api_version:
        raise status.bad_request(f"the API version in the data ({api_version}) does not match "
                                 f"the expected API version ({kind.api_version})")
    if obj.setdefault("kind", kind.kind) != kind.kind:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {kind.kind}): "
            f"{obj.get('kind')} ({kind.api_version})")


def ensure_namespace(kind: Kind, namespace: str, obj: Obj) -> None:
    """``EnsureObjectNamespaceMatchesRequestNamespace``."""
    metadata = obj.setdefault("metadata", {})
    expected = namespace if kind.namespaced else ""
    current = metadata.get("namespace") or ""
    if current == expected:
        return
    if not current or not expected:
        if expected:
            metadata["namespace"] = expected
        else:
            metadata.pop("namespace", None)
        return
    raise status.bad_request(
        "the namespace of the provided object does not match the namespace sent on the request")


def before_create(kind: Kind, namespace: str, obj: Obj, now: float, uid: str) -> Obj:
    """``rest.FillObjectMetaSystemFields`` + ``rest.BeforeCreate``; ``obj`` has its final name."""
    check_type(kind, obj)
    defaults.apply_defaults(obj)
    metadata = obj.setdefault("metadata", {})
    metadata["creationTimestamp"] = meta.timestamp(now)
    metadata["uid"] = uid
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                "selfLink"):
        metadata.pop(key, None)
    ensure_namespace(kind, namespace, obj)
    defaults.prepare_for_create(obj, uid)
    validation.check(obj)
    return obj


def before_update(kind: Kind, namespace: str, obj: Obj, old: Obj, subresource: str) -> Obj:
    """``rest.BeforeUpdate``: keep the system fields of ``old``, apply the kind's (or the
    subresource's) PrepareForUpdate, validate the update."""
    check_type(kind, obj)
    defaults.apply_defaults(obj)
    ensure_namespace(kind, namespace, obj)
    metadata = obj.setdefault("metadata", {})
    old_meta = old.get("metadata", {})
    if "generation" in old_meta:
        metadata["generation"] = old_meta["generation"]
    else:
        metadata.pop("generation", None)
    if subresource == "finalize":
        _prepare_namespace_finalize(obj, old)
    else:
        defaults.prepare_for_update(obj, old, subresource)
    if not metadata.get("uid"):
        metadata["uid"] = old_meta.get("uid", "")
    for key in ("creationTimestamp", "deletionTimestamp"):
        if old_meta.get(key):
            metadata[key] = old_meta[key]
    if old_meta.get("deletionGracePeriodSeconds") is not None and \
            metadata.get("deletionGracePeriodSeconds") is None:
        metadata["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
    validation.check(obj, old)
    return obj


def _prepare_namespace_finalize(obj: Obj, old: Obj) -> None:
    """``finalizeNamespaceStrategy.PrepareForUpdate``: only spec.finalizers may change."""
    finalizers = list((obj.get("spec") or {}).get("finalizers") or [])
    for key, value in old.items():
        if key != "metadata":
            obj[key] = deep_copy(value)
    obj.setdefault("spec", {})["finalizers"] = finalizers
