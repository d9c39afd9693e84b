"""The garbage collector's dependency graph, pure (pkg/controller/garbagecollector/graph.go
and graph_builder.go, v1.32).

Every object seen by an informer is a node with its ownerReferences; an owner referenced
before it is observed gets a *virtual* node, checked against the apiserver by the
collector. `GraphBuilder.process(change)` applies one informer event (or a virtual delete
the collector confirmed) and returns which nodes to queue for attemptToDelete and
attemptToOrphan, as processGraphChanges does:
- a node whose owner disappears, or whose ownerReferences change, is re-examined;
- an owner that starts deleting with the `orphan` finalizer goes to attemptToOrphan;
- an owner that starts deleting with `foregroundDeletion` is marked deletingDependents,
  and it and its dependents go to attemptToDelete; when a dependent of such an owner is
  removed, the owner is re-examined (its finalizer comes off once no blocking dependent
  is left).
Dependents are kept in insertion order, so runs replay exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubesim.api import meta

Obj = dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """objectReference: owner coordinates plus namespace."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, obj: Obj) -> Identity:
        md = obj["metadata"]
        return cls(obj.get("apiVersion", ""), obj.get("kind", ""), md.get("namespace", ""),
                   md.get("name", ""), md.get("uid", ""))

    @classmethod
    def owner(cls, ref: Obj, namespace: str) -> Identity:
        return cls(ref.get("apiVersion", ""), ref.get("kind", ""), namespace, ref.get("name", ""),
                   ref.get("uid", ""))


@dataclass(eq=False)
class Node:
    identity: Identity
    owners: list[Obj] = field(default_factory=list)
    dependents: dict[str, Node] = field(default_factory=dict)
    being_deleted: bool = False
    deleting_dependents: bool = False
    virtual: bool = False
    observed: bool = False

    @property
    def uid(self) -> str:
        return self.identity.uid

    def blocking_dependents(self) -> list[Node]:
        """Dependents whose reference to this node has blockOwnerDeletion."""
        out = []
        for dep in self.dependents.values():
            for ref in dep.owners:
                if ref.get("uid") == self.uid and ref.get("blockOwnerDeletion"):
                    out.append(dep)
        return out


@dataclass(frozen=True)
class GraphChange:
    """An informer event (`obj` is the object, `old` the previous state for updates) or
    a virtual delete (the collector found the object gone)."""

    event: str  # "add", "update", "delete"
    obj: Obj
    old: Obj | None = None
    virtual: bool = False


@dataclass
class Queued:
    """What one change asks the collector to look at."""

    attempt_to_delete: list[Node] = field(default_factory=list)
    attempt_to_orphan: list[Node] = field(default_factory=list)


def _finalizers(obj: Obj | None) -> list[str]:
    return list(((obj or {}).get("metadata") or {}).get("finalizers") or [])


def _deleting_with(obj: Obj | None, finalizer: str) -> bool:
    return obj is not None and meta.is_being_deleted(obj) and finalizer in _finalizers(obj)


def _ref_key(ref: Obj) -> tuple[str, str, str, str, bool, bool]:
    return (ref.get("uid", ""), ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", ""),
            bool(ref.get("controller")), bool(ref.get("blockOwnerDeletion")))


class GraphBuilder:
    """uidToNode and the processing of graph changes."""

    def __init__(self, namespaced: Any) -> None:
        #: namespaced(api_version, kind) -> bool | None (None: unknown kind)
        self._namespaced = namespaced
        self.nodes: dict[str, Node] = {}

    def owner_identity(self, ref: Obj, dependent_namespace: str) -> Identity:
        scoped = self._namespaced(ref.get("apiVersion", ""), ref.get("kind", ""))
        return Identity.owner(ref, dependent_namespace if scoped is not False else "")

    def process(self, change: GraphChange) -> Queued:
        out = Queued()
        obj = change.obj
        uid = obj["metadata"].get("uid", "")
        existing = self.nodes.get(uid)
        if existing is not None and not change.virtual and not existing.observed:
            observed = Identity.of(obj)
            if observed != existing.identity:
                out.attempt_to_delete.extend(
                    d for d in existing.dependents.values() if self._refers_otherwise(d, observed))
                existing.identity = observed
            existing.virtual = False
            existing.observed = True
        if change.event in ("add", "update") and existing is None:
            node = Node(Identity.of(obj), owners=list(obj["metadata"].get("ownerReferences") or []),
                        being_deleted=meta.is_being_deleted(obj),
                        deleting_dependents=_deleting_with(obj, meta.FINALIZER_DELETE_DEPENDENTS),
                        observed=True)
            self.nodes[uid] = node
            self._add_to_owners(node, node.owners, out)
            self._transitions(change.old, obj, node, out)
        elif change.event in ("add", "update") and existing is not None:
            new_owners = list(obj["metadata"].get("ownerReferences") or [])
            old_by_uid = {r.get("uid"): r for r in existing.owners}
            new_by_uid = {r.get("uid"): r for r in new_owners}
            added = [r for r in new_owners if r.get("uid") not in old_by_uid]
            removed = [r for r in existing.owners if r.get("uid") not in new_by_uid]
            changed = [(old_by_uid[u], r) for u, r in new_by_uid.items()
                       if u in old_by_uid and _ref_key(old_by_uid[u]) != _ref_key(r)]
            if added or removed or changed:
                self._unblocked_owners(removed, changed, out)
                existing.owners = new_owners
                self._add_to_owners(existing, added, out)
                for ref in removed:
                    owner = self.nodes.get(ref.get("uid", ""))
                    if owner is not None:
                        owner.dependents.pop(existing.uid, None)
            if meta.is_being_deleted(obj):
                existing.being_deleted = True
            self._transitions(change.old, obj, existing, out)
        elif change.event == "delete" and existing is not None:
            self._delete(change, existing, out)
        return out

    def _refers_otherwise(self, dep: Node, observed: Identity) -> bool:
        for ref in dep.owners:
            if ref.get("uid") == observed.uid:
                return self.owner_identity(ref, dep.identity.namespace) != observed
        return False

    def _add_to_owners(self, node: Node, owners: list[Obj], out: Queued) -> None:
        for ref in owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is None:
                owner = Node(self.owner_identity(ref, node.identity.namespace), virtual=True)
                self.nodes[owner.uid] = owner
                owner.dependents[node.uid] = node
                out.attempt_to_delete.append(owner)
            else:
                owner.dependents[node.uid] = node

    def _unblocked_owners(self, removed: list[Obj], changed: list[tuple[Obj, Obj]], out: Queued) -> None:
        """addUnblockedOwnersToDeleteQueue: owners waiting on this dependent may proceed."""
        refs = [r for r in removed if r.get("blockOwnerDeletion")]
        refs += [new for old, new in changed if old.get("blockOwnerDeletion") and not new.get("blockOwnerDeletion")]
        for ref in refs:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None and owner.deleting_dependents:
                out.attempt_to_delete.append(owner)

    def _transitions(self, old: Obj | None, new: Obj, node: Node, out: Queued) -> None:
        if (_deleting_with(new, meta.FINALIZER_ORPHAN_DEPENDENTS)
                and not _deleting_with(old, meta.FINALIZER_ORPHAN_DEPENDENTS)):
            out.attempt_to_orphan.append(node)
            return
        if (_deleting_with(new, meta.FINALIZER_DELETE_DEPENDENTS)
                and not _deleting_with(old, meta.FINALIZER_DELETE_DEPENDENTS)):
            node.deleting_dependents = True
            out.attempt_to_delete.extend(node.dependents.values())
            out.attempt_to_delete.append(node)

    def _delete(self, change: GraphChange, existing: Node, out: Queued) -> None:
        deleted = Identity.of(change.obj)
        if change.virtual and existing.identity != deleted:
            # the graph knows this uid under other coordinates: only the dependents that
            # named the deleted coordinates lose their owner
            out.attempt_to_delete.extend(d for d in existing.dependents.values()
                                         if not self._refers_otherwise(d, deleted))
            return
        self.nodes.pop(existing.uid, None)
        for ref in existing.owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None:
                owner.dependents.pop(existing.uid, None)
        out.attempt_to_delete.extend(existing.dependents.values())
        for ref in existing.owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None and owner.deleting_dependents:
                out.attempt_to_delete.append(owner)
