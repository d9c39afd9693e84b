"""Informer index functions the controllers share (registered once per informer)."""

from __future__ import annotations

from kubesim.api import meta
from kubesim.components.client.store import Obj

CONTROLLER_UID = "controller-uid"
OWNER_UID = "owner-uid"
NODE_NAME = "node-name"  # kubesim.components.client.store.pod_node_name_index


def controller_uid_index(obj: Obj) -> list[str]:
    """Objects by the uid of their controller ownerReference ("" for orphans)."""
    ref = meta.controller_of(obj)
    return [ref.get("uid", "")] if ref else [""]


def owner_uid_index(obj: Obj) -> list[str]:
    """Objects by the uid of every owner they reference."""
    return [ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]
