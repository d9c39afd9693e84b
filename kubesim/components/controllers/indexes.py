"""Informer index functions the controllers share (registered once per informer)."""

from __future__ import annotations

from kubesim.api import meta
from kubesim.components.client.store import Obj

CONTROLLER_UID = "controller-uid"
OWNER_UID = "owner-uid"
NODE_NAME = "node-name"  # kubesim.components.client.store.pod_node_name_index


def orphan_key(namespace: str) -> str:
    """The controller-uid index key of the orphans of one namespace (OrphanPodIndexKeyForNamespace)."""
    return f"^orphan/{namespace}"


def controller_uid_index(obj: Obj) -> list[str]:
    """Objects by the uid of their controller ownerReference; orphans by `orphan_key`."""
    ref = meta.controller_of(obj)
    if ref:
        return [ref.get("uid", "")]
    return [orphan_key((obj.get("metadata") or {}).get("namespace", ""))]


def owner_uid_index(obj: Obj) -> list[str]:
    """Objects by the uid of every owner they reference."""
    return [ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]
