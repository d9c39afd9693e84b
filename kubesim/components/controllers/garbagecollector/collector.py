"""The garbage collector controller (pkg/controller/garbagecollector/garbagecollector.go, v1.32).

Informers on every deletable resource (events excepted) feed the `GraphBuilder`; its
verdicts go to two work queues, `garbage_collector_attempt_to_delete` and
`garbage_collector_attempt_to_orphan`, each served by `--concurrent-gc-syncs` workers.

attemptToDeleteItem re-reads the object and classifies its owners with live reads:
*solid* (exists with that uid, not waiting for its dependents), *dangling* (gone, or
another uid) and *waiting for dependents deletion* (being deleted in the foreground).
With a solid owner left, references to dangling and waiting owners are patched away;
without one, the object is deleted (foreground when an owner waits for it and it has
dependents of its own, else as its own finalizers say, background by default). An owner
deleting in the foreground loses its `foregroundDeletion` finalizer once no dependent that
blocks owner deletion is left. attemptToOrphan strips the owner's references from its
dependents, then removes the `orphan` finalizer. A virtual owner that turns out not to
exist is removed from the graph (a virtual delete), which cascades to its dependents.
"""

from __future__ import annotations

from kubesim.api import kinds, meta
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj
from kubesim.components.controllers.base import Controller, ControllerContext, unwrap
from kubesim.components.controllers.garbagecollector.graph import (
    GraphBuilder,
    GraphChange,
    Identity,
    Node,
)

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
#: resources the garbage collector never watches (ignoredResources).
#: retry.DefaultBackoff's steps for updates that meet conflicts.
CONFLICT_RETRIES = 5
IGNORED = frozenset({"events", "events.events.k8s.io", "bindings"})


def gc_resources() -> list[str]:
    """Every served resource that can be listed, watched and deleted."""
    out = []
    for kind in kinds.KINDS:
        if {"list", "watch", "delete"} <= set(kind.verbs) and kind.group_resource not in IGNORED:
            out.append(kind.group_resource)
    return sorted(set(out))


def _namespaced(api_version: str, kind: str) -> bool | None:
    found = kinds.by_kind(api_version, kind)
    return None if found is None else found.namespaced


def _resource(identity: Identity) -> str | None:
    found = kinds.by_kind(identity.api_version, identity.kind)
    return None if found is None else found.group_resource


class _OrphanWorkers(Controller):
    """The attemptToOrphan queue and its workers."""

    name = "garbage_collector_attempt_to_orphan"

    def __init__(self, cc: ControllerContext, workers: int, gc: GarbageCollector) -> None:
        super().__init__(cc, workers)
        self.gc = gc

    async def sync(self, key: str) -> None:
        owner = self.gc.graph.nodes.get(key)
        if owner is None:
            return
        await self.gc.orphan_dependents(owner)
        await self.gc.remove_finalizer(owner, meta.FINALIZER_ORPHAN_DEPENDENTS)


class GarbageCollector(Controller):
    """The attemptToDelete queue, the graph, and the orphan workers."""

    name = "garbage_collector_attempt_to_delete"

    def __init__(self, cc: ControllerContext, workers: int = 20,
                 resources: list[str] | None = None) -> None:
        super().__init__(cc, workers)
        self.graph = GraphBuilder(_namespaced)
        self.orphaner = _OrphanWorkers(cc, workers, self)
        for resource in resources if resources is not None else gc_resources():
            cc.informers.informer(resource).add_event_handler(EventHandler(
                on_add=lambda obj: self.change(GraphChange("add", obj)),
                on_update=lambda old, cur: self.change(GraphChange("update", cur, old)),
                on_delete=self._on_delete))

    def start(self) -> None:
        super().start()
        self.orphaner.start()

    def stop(self) -> None:
        super().stop()
        self.orphaner.stop()

    def _on_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.change(GraphChange("delete", unwrap(obj)))

    def change(self, change: GraphChange) -> None:
        """processGraphChanges for one change, then queue what it asks for."""
        queued = self.graph.process(change)
        for node in queued.attempt_to_delete:
            self.enqueue(node.uid)
        for node in queued.attempt_to_orphan:
            self.orphaner.enqueue(node.uid)

    def _virtual_delete(self, identity: Identity) -> None:
        self.change(GraphChange("delete", {
            "apiVersion": identity.api_version, "kind": identity.kind,
            "metadata": {"namespace": identity.namespace, "name": identity.name, "uid": identity.uid}},
            virtual=True))

    async def _get(self, identity: Identity) -> Obj | None:
        resource = _resource(identity)
        assert resource is not None, "callers check the REST mapping first"
        try:
            return await self.client.get(resource, identity.namespace, identity.name)
        except APIError as err:
            if err.code == 404:
                return None
            raise

    # -- attemptToDelete ------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        node = self.graph.nodes.get(key)
        if node is None or (node.being_deleted and not node.deleting_dependents):
            return
        if _resource(node.identity) is None:
            return  # no REST mapping: upstream retries forever, nothing is ever deleted
        latest = await self._get(node.identity)
        if latest is None or latest["metadata"].get("uid") != node.uid:
            self._virtual_delete(node.identity)
            return
        if not node.observed:
            self.enqueue_rate_limited(key)  # not yet seen through an informer
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
            return
        refs = latest["metadata"].get("ownerReferences") or []
        if not refs:
            return
        solid, dangling, waiting = await self._classify(node, refs)
        if solid:
            stale = dangling + waiting
            if stale:
                await self._patch_ignoring_gone(node, {"metadata": {
                    "ownerReferences": [{"$patch": "delete", "uid": r["uid"]} for r in stale],
                    "uid": node.uid}})
            return
        if waiting and node.dependents:
            if any(dep.deleting_dependents for dep in node.dependents.values()):
                await self._patch_ignoring_gone(node, {"metadata": {
                    "ownerReferences": [{**r, "blockOwnerDeletion": False} for r in waiting],
                    "uid": node.uid}})
            await self._delete(node, "Foreground")
            return
        finalizers = latest["metadata"].get("finalizers") or []
        if meta.FINALIZER_ORPHAN_DEPENDENTS in finalizers:
            policy = "Orphan"
        elif meta.FINALIZER_DELETE_DEPENDENTS in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node, policy)

    async def _classify(self, node: Node, refs: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            identity = self.graph.owner_identity(ref, node.identity.namespace)
            if _resource(identity) is None:
                solid.append(ref)
                continue
            owner = await self._get(identity)
            if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
                dangling.append(ref)
            elif meta.is_being_deleted(owner) and meta.FINALIZER_DELETE_DEPENDENTS in (
                    owner["metadata"].get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _process_deleting_dependents(self, node: Node) -> None:
        blocking = node.blocking_dependents()
        if not blocking:
            await self.remove_finalizer(node, meta.FINALIZER_DELETE_DEPENDENTS)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.enqueue(dep.uid)

    async def _delete(self, node: Node, policy: str) -> None:
        resource = _resource(node.identity)
        assert resource is not None
        try:
            await self.client.delete(resource, node.identity.namespace, node.identity.name,
                                     propagation_policy=policy, preconditions={"uid": node.uid})
        except APIError as err:
            if err.code != 404:
                raise

    async def _patch_ignoring_gone(self, node: Node, body: Obj) -> None:
        resource = _resource(node.identity)
        assert resource is not None
        try:
            await self.client.patch(resource, node.identity.namespace, node.identity.name, body, STRATEGIC)
        except APIError as err:
            if err.code not in (404, 422):
                raise

    # -- finalizers and orphaning ---------------------------------------------------------
    async def remove_finalizer(self, node: Node, finalizer: str) -> None:
        """removeFinalizer: a patch conditioned on the resourceVersion just read."""
        resource = _resource(node.identity)
        assert resource is not None
        for attempt in range(CONFLICT_RETRIES):
            latest = await self._get(node.identity)
            if latest is None:
                return
            finalizers = latest["metadata"].get("finalizers") or []
            if finalizer not in finalizers:
                return
            body = {"metadata": {"resourceVersion": latest["metadata"]["resourceVersion"],
                                 "finalizers": [f for f in finalizers if f != finalizer]}}
            try:
                await self.client.patch(resource, node.identity.namespace, node.identity.name, body, MERGE)
                return
            except APIError as err:
                if err.code == 404:
                    return
                if err.code != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise

    async def orphan_dependents(self, owner: Node) -> None:
        """orphanDependents: remove the owner's reference from every dependent."""
        for dep in list(owner.dependents.values()):
            await self._patch_ignoring_gone(dep, {"metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": owner.uid}], "uid": dep.uid}})
