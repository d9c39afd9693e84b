"""``pods/binding``: the scheduler's write (kubernetes pkg/registry/core/pod/storage/storage.go
``BindingREST``).

The pod is updated straight in storage (no update strategy, no validation), only if it is not
being deleted, not yet bound and has no scheduling gates: ``spec.nodeName`` is set, the binding's
annotations are merged, and the ``PodScheduled`` condition becomes True
(``podutil.UpdatePodCondition``). Refusals are 409s on ``pods/binding``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesim.api import field, meta, status
from kubesim.components.apiserver.storage.errors import invalid_object, unconverted
from kubesim.components.apiserver.storage.etcd_ops import (
    KeyNotFound,
    PreconditionFailed,
    Preconditions,
)

if TYPE_CHECKING:
    from kubesim.components.apiserver.storage.store import ResourceStore

Obj = dict[str, Any]


class _Refused(Exception):
    """A binding the pod's state does not allow; the message is upstream's."""


def validate_binding(binding: Obj) -> field.ErrorList:
    """``ValidatePodBinding``."""
    target = binding.get("target") or {}
    errs: field.ErrorList = []
    if target.get("kind") and target["kind"] != "Node":
        errs.append(field.not_supported(field.new_path("target", "kind"), target["kind"],
                                        ["Node", "<empty>"]))
    if not target.get("name"):
        errs.append(field.required(field.new_path("target", "name")))
    return errs


def update_pod_condition(pod_status: Obj, condition: Obj, now: float) -> None:
    """``podutil.UpdatePodCondition``: add or replace a condition, keeping its
    lastTransitionTime when the status does not change."""
    condition = {"type": condition["type"], "status": condition["status"],
                 "lastProbeTime": None, "lastTransitionTime": meta.timestamp(now),
                 **{k: v for k, v in condition.items() if k not in ("type", "status")}}
    conditions = pod_status.setdefault("conditions", [])
    for i, old in enumerate(conditions):
        if old.get("type") == condition["type"]:
            if old.get("status") == condition["status"]:
                condition["lastTransitionTime"] = old.get("lastTransitionTime")
            conditions[i] = condition
            return
    conditions.append(condition)


async def bind_pod(store: ResourceStore, namespace: str, binding: Obj, dry_run: bool) -> Obj:
    binding_meta = binding.get("metadata") or {}
    name = binding_meta.get("name", "")
    errs = validate_binding(binding)
    if errs:  # returned unconverted upstream: the handler makes it a 500
        raise unconverted(field.aggregate(errs))
    node = binding["target"]["name"]
    annotations = binding_meta.get("annotations") or {}
    key = store.key(namespace, name)
    pre = None
    if binding_meta.get("uid") or binding_meta.get("resourceVersion"):
        pre = Preconditions(binding_meta.get("uid") or None,
                            binding_meta.get("resourceVersion") or None)

    def assign(pod: Obj | None) -> Obj:
        assert pod is not None
        spec = pod.setdefault("spec", {})
        if meta.is_being_deleted(pod):
            raise _Refused(f"pod {name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise _Refused(f"pod {name} is already assigned to node "
                           f"{field.go_quote(spec['nodeName'])}")
        if spec.get("schedulingGates"):
            raise _Refused(f"pod {name} has non-empty .spec.schedulingGates")
        spec["nodeName"] = node
        if annotations:
            pod["metadata"].setdefault("annotations", {}).update(annotations)
        update_pod_condition(pod.setdefault("status", {}),
                             {"type": "PodScheduled", "status": "True"}, store.now())
        return pod

    try:
        await store.ops.guaranteed_update(key, assign, preconditions=pre, dry_run=dry_run)
    except KeyNotFound:
        raise status.not_found("pods", name) from None
    except PreconditionFailed as e:
        raise invalid_object("pods", name, key, str(e)) from None
    except _Refused as e:
        raise status.conflict("pods/binding", name, str(e)) from None
    return status.success()
