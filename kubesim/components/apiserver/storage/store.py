"""``ResourceStore``: the generic registry store of one kind
(k8s.io/apiserver pkg/registry/generic/registry/store.go) on etcd.

Create (generateName with up to 8 attempts, uid, creationTimestamp, 409 AlreadyExists), get,
update with optimistic concurrency and create-on-update where the kind allows it, status and
namespace-finalize subresources, graceful deletion and deletion finalizers (the object goes when
an update removes its last finalizer), delete collection, lists from etcd, and pods/binding.
dryRun runs everything but the final etcd write. See the package docstring for the API.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kubesim.api import meta, status
from kubesim.api.copying import deep_copy
from kubesim.api.field import GoLiteral, invalid, new_path
from kubesim.api.kinds import Kind
from kubesim.components.apiserver.storage import deletion, keys, listing
from kubesim.components.apiserver.storage.binding import bind_pod
from kubesim.components.apiserver.storage.errors import invalid_object
from kubesim.components.apiserver.storage.etcd_ops import (
    EtcdOps,
    KeyExists,
    KeyNotFound,
    PreconditionFailed,
    Preconditions,
    State,
)
from kubesim.components.apiserver.storage.options import (
    DeleteOptions,
    ListOptions,
    validate_delete_options,
)
from kubesim.components.apiserver.storage.service_alloc import Allocation, ServiceAllocator
from kubesim.components.apiserver.storage.strategy import (
    before_create,
    before_update,
    strategy_for,
)
from kubesim.components.etcd.backend import EtcdBackend

Obj = dict[str, Any]
Mutate = Callable[[Obj], Obj]
MAX_NAME_GENERATION_ATTEMPTS = 8  # maxNameGenerationCreateAttempts
DELETE_COLLECTION_PAGE_SIZE = 10_000  # deleteCollectionPageSize


class _EmptiedFinalizers(Exception):
    def __init__(self, obj: Obj) -> None:
        super().__init__("emptied finalizers")
        self.obj = obj


class _DeleteNow(Exception):
    pass


class _AlreadyDeleting(Exception):
    pass


class _Replan(Exception):
    """The object changed after its allocations were planned against it."""


class ResourceStore:
    """The registry store of ``kind`` over ``backend``."""

    def __init__(self, kind: Kind, backend: EtcdBackend, *, now: Callable[[], float],
                 rng: random.Random, allocator: ServiceAllocator | None = None) -> None:
        self.kind = kind
        self.backend = backend
        self.now = now
        self.rng = rng
        self.strategy = strategy_for(kind)
        self.ops = EtcdOps(backend)
        self.allocator = allocator  # services: ClusterIPs and NodePorts (BeginCreate/Update)
        # the watch cache's state of a key, which an update starts from (the Cacher passing
        # its object down to GuaranteedUpdate); None: every update reads etcd first
        self.cached: Callable[[bytes], State | None] | None = None

    # ------------------------------------------------------------------ helpers
    def key(self, namespace: str, name: str) -> bytes:
        return keys.object_key(self.kind, namespace, name)

    def current_revision(self) -> int:
        """The highest etcd revision any response to this store carried."""
        return self.ops.revision

    def _not_found(self, name: str) -> status.APIError:
        return status.not_found(self.kind.resource, name, self.kind.group)

    def _conflict(self, name: str, cause: str = status.OBJECT_MODIFIED) -> status.APIError:
        return status.conflict(self.kind.resource, name, cause, self.kind.group)

    def _precondition_conflict(self, name: str, key: bytes, err: PreconditionFailed) -> status.APIError:
        return invalid_object(self.kind.resource, name, key, str(err), self.kind.group)

    def _deleted_result(self, obj: Obj) -> Obj:
        """``finalizeDelete``: the object itself, or a Status "Success" naming it."""
        if self.strategy.return_deleted_object:
            return obj
        metadata = obj.get("metadata", {})
        return status.success(metadata.get("name", ""), self.kind.group, self.kind.resource,
                              metadata.get("uid", ""))

    # ------------------------------------------------------------------ create / get
    async def create(self, namespace: str, obj: Obj, dry_run: bool = False) -> Obj:
        """Store a new object; the stored object (resourceVersion set)."""
        metadata = obj.get("metadata") or {}
        generated = bool(metadata.get("generateName")) and not metadata.get("name")
        attempts = MAX_NAME_GENERATION_ATTEMPTS if generated else 1
        for attempt in range(attempts):
            try:
                return await self._create_once(namespace, deep_copy(obj), generated, dry_run)
            except status.APIError as e:
                if not generated or e.reason != "AlreadyExists" or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def _create_once(self, namespace: str, obj: Obj, generated: bool, dry_run: bool) -> Obj:
        metadata = obj.setdefault("metadata", {})
        if generated:
            metadata["name"] = meta.generate_name(metadata["generateName"], self.rng)
        before_create(self.kind, namespace, obj, self.now(), meta.new_uid(self.rng))
        if self.allocator is None:
            return await self._store_new(obj, generated, dry_run)
        txn = await self.allocator.begin_create(obj, dry_run)
        try:
            created = await self._store_new(obj, generated, dry_run)
        except BaseException:
            await self.allocator.finish(txn, False, dry_run)
            raise
        return created

    async def _store_new(self, obj: Obj, generated: bool, dry_run: bool) -> Obj:
        metadata = obj["metadata"]
        name = metadata["name"]
        key = self.key(metadata.get("namespace", ""), name)
        if dry_run:
            if await self.ops.get(key) is not None:
                raise status.already_exists(self.kind.resource, name, self.kind.group)
            return obj
        try:
            return await self.ops.create(key, obj)
        except KeyExists as e:
            if generated:
                err = status.already_exists(self.kind.resource, name, self.kind.group)
                err.status["message"] += (", the server was not able to generate a unique name "
                                          "for the object")
                err.status["details"]["retryAfterSeconds"] = 1
                raise err from None
            err = status.already_exists(self.kind.resource, name, self.kind.group)
            if e.existing is not None and meta.is_being_deleted(e.existing):
                err.status["message"] = f"object is being deleted: {err.message}"
            raise err from None

    async def get(self, namespace: str, name: str) -> Obj:
        state = await self.ops.get(self.key(namespace, name))
        if state is None:
            raise self._not_found(name)
        return state.obj

    # ------------------------------------------------------------------ update
    async def update(self, namespace: str, name: str, obj: Obj, subresource: str = "",
                     dry_run: bool = False) -> tuple[Obj, bool]:
        """Replace the object (PUT); (stored object, created)."""
        obj_name = (obj.get("metadata") or {}).get("name", "")
        if obj_name != name:
            raise status.bad_request(
                f"the name of the object ({obj_name}) does not match the name on the URL ({name})")
        uid = (obj.get("metadata") or {}).get("uid")
        preconditions = Preconditions(uid=uid) if uid else None
        return await self._update(namespace, name, lambda _existing: deep_copy(obj),
                                  subresource, preconditions, dry_run, allow_create=True)

    async def guaranteed_update(self, namespace: str, name: str, mutate: Mutate,
                                subresource: str = "", preconditions: dict[str, str] | None = None,
                                dry_run: bool = False) -> Obj:
        """Read-modify-write with retries (PATCH and in-process writers)."""
        pre = None
        if preconditions:
            pre = Preconditions(preconditions.get("uid"), preconditions.get("resourceVersion"))

        def updated(existing: Obj | None) -> Obj:
            if existing is None:
                raise self._not_found(name)
            return mutate(existing)

        obj, _ = await self._update(namespace, name, updated, subresource, pre, dry_run,
                                    allow_create=False)
        return obj

    async def _update(self, namespace: str, name: str, updated_object: Callable[[Obj | None], Obj],
                      subresource: str, preconditions: Preconditions | None, dry_run: bool,
                      allow_create: bool) -> tuple[Obj, bool]:
        if self.allocator is None or subresource:
            return await self._update_once(namespace, name, updated_object, subresource,
                                           preconditions, dry_run, allow_create, None)
        return await self._update_allocating(namespace, name, updated_object, preconditions,
                                             dry_run, allow_create, self.allocator)

    async def _update_allocating(self, namespace: str, name: str,
                                 updated_object: Callable[[Obj | None], Obj],
                                 preconditions: Preconditions | None, dry_run: bool,
                                 allow_create: bool, allocator: ServiceAllocator) -> tuple[Obj, bool]:
        """BeginUpdate for services: plan the object against the stored one, allocate what it
        needs, then write it only if the stored object is still the one planned against."""
        while True:
            state = await self.ops.get(self.key(namespace, name))
            if state is None:
                raise self._not_found(name)
            draft = updated_object(deep_copy(state.obj))
            txn = await allocator.begin_update(draft, state.obj, dry_run)
            planned = (state.obj["metadata"]["resourceVersion"], draft, txn)
            try:
                out = await self._update_once(namespace, name, updated_object, "", preconditions,
                                              dry_run, allow_create, planned)
            except _Replan:
                await allocator.finish(txn, False, dry_run)
                continue
            except BaseException:
                await allocator.finish(txn, False, dry_run)
                raise
            await allocator.finish(txn, True, dry_run)
            return out

    async def _update_once(self, namespace: str, name: str,
                           updated_object: Callable[[Obj | None], Obj], subresource: str,
                           preconditions: Preconditions | None, dry_run: bool, allow_create: bool,
                           planned: tuple[str, Obj, Allocation] | None) -> tuple[Obj, bool]:
        key = self.key(namespace, name)
        creating = False
        can_create = allow_create and self.strategy.allow_create_on_update and not subresource

        def try_update(existing: Obj | None) -> Obj:
            nonlocal creating
            if existing is None:
                if not can_create:
                    raise self._not_found(name)
                creating = True
                new = updated_object(None)
                return before_create(self.kind, namespace, new, self.now(), meta.new_uid(self.rng))
            creating = False
            if planned is None:
                new = updated_object(deep_copy(existing))
            elif planned[0] != existing["metadata"]["resourceVersion"]:
                raise _Replan()
            else:
                new = deep_copy(planned[1])
            existing_rv = existing["metadata"]["resourceVersion"]
            new_meta = new.setdefault("metadata", {})
            new_rv = new_meta.get("resourceVersion") or ""
            if not new_rv and self.strategy.allow_unconditional_update:
                new_meta["resourceVersion"] = existing_rv
            elif not new_rv:
                raise status.invalid(self.kind.resource, name, [invalid(
                    new_path("metadata", "resourceVersion"), GoLiteral("0x0"),
                    "must be specified for an update")], self.kind.group)
            elif new_rv != existing_rv:
                raise self._conflict(name)
            new = before_update(self.kind, namespace, new, existing, subresource)
            if deletion.should_delete_during_update(new, existing) and not (
                    # ShouldDeleteNamespaceDuringUpdate: spec.finalizers must be empty too
                    self.kind.resource == "namespaces" and (new.get("spec") or {}).get("finalizers")):
                raise _EmptiedFinalizers(new)
            return new

        try:
            out = await self.ops.guaranteed_update(
                key, try_update, ignore_not_found=can_create, preconditions=preconditions,
                dry_run=dry_run, cached=self.cached(key) if self.cached is not None else None)
        except _EmptiedFinalizers as e:
            deleted = await self._delete_without_finalizers(key, name, preconditions, dry_run)
            if deleted is not None and self.allocator is not None and not dry_run:
                await self._release(deleted)
            return e.obj, False
        except KeyNotFound:
            raise self._not_found(name) from None
        except PreconditionFailed as e:
            raise self._precondition_conflict(name, key, e) from None
        return out, creating

    async def _delete_without_finalizers(self, key: bytes, name: str,
                                         preconditions: Preconditions | None,
                                         dry_run: bool) -> Obj | None:
        try:
            return await self.ops.delete(key, preconditions=preconditions, dry_run=dry_run)
        except KeyNotFound:
            return None  # several updates raced to remove the last finalizer
        except PreconditionFailed as e:
            raise self._precondition_conflict(name, key, e) from None

    # ------------------------------------------------------------------ delete
    async def delete(self, namespace: str, name: str, options: dict[str, Any] | None = None,
                     dry_run: bool = False) -> tuple[Obj, bool]:
        """Delete (or start deleting) the object; (result, deleted now)."""
        opts = DeleteOptions.from_dict(options)
        if dry_run and not opts.dry_run:
            opts = DeleteOptions(opts.grace_period_seconds, opts.precondition_uid,
                                 opts.precondition_resource_version, opts.propagation_policy,
                                 opts.orphan_dependents, True)
        validate_delete_options(opts)
        key = self.key(namespace, name)
        state = await self.ops.get(key)
        if state is None:
            raise self._not_found(name)
        if (self.kind.group, self.kind.resource) == ("", "namespaces"):
            return await self._delete_namespace(key, name, state.obj, opts)
        return await self._delete(key, name, state.obj, opts)

    async def _delete(self, key: bytes, name: str, current: Obj,
                      opts: DeleteOptions) -> tuple[Obj, bool]:
        pre = Preconditions(opts.precondition_uid, opts.precondition_resource_version)
        obj = deep_copy(current)
        graceful, pending, opts = deletion.before_delete(self.strategy, self.kind, obj, opts,
                                                         self.now())
        if pending:
            return self._deleted_result(obj), False
        pending_finalizers = bool(obj["metadata"].get("finalizers"))
        gc_update, _ = deletion.gc_finalizers(self.strategy, obj, opts)
        ignore_not_found = False
        last_existing: Obj | None = None
        if graceful or pending_finalizers or gc_update:
            outcome = await self._update_for_deletion(key, name, current, opts, pre)
            if outcome.pending is not None:
                return outcome.pending, False
            ignore_not_found, last_existing = outcome.ignore_not_found, outcome.last_existing
            if outcome.out is not None and pre.resource_version is not None:
                pre = Preconditions(pre.uid, outcome.out["metadata"]["resourceVersion"])
            if opts.dry_run and outcome.out is not None:
                return outcome.out, True
        try:
            deleted = await self.ops.delete(key, preconditions=pre, dry_run=opts.dry_run)
        except KeyNotFound:
            if ignore_not_found and last_existing is not None:
                return self._deleted_result(last_existing), True
            raise self._not_found(name) from None
        except PreconditionFailed as e:
            raise self._precondition_conflict(name, key, e) from None
        if self.allocator is not None and not opts.dry_run:
            await self._release(deleted)
        return self._deleted_result(deleted), True

    async def _release(self, deleted: Obj) -> None:
        """AfterDelete of services: give the IPs and node ports back. The object is gone
        whatever happens here; a release etcd refuses leaks until a repair would run."""
        assert self.allocator is not None
        try:
            await self.allocator.release(deleted)
        except status.APIError:
            pass

    async def _update_for_deletion(self, key: bytes, name: str, current: Obj,
                                   opts: DeleteOptions, pre: Preconditions) -> _DeletionUpdate:
        """``updateForGracefulDeletionAndFinalizers``."""
        result = _DeletionUpdate()
        last_grace = 0
        pending_finalizers = False

        def try_update(existing: Obj | None) -> Obj:
            nonlocal last_grace, pending_finalizers
            assert existing is not None
            graceful, pending, new_opts = deletion.before_delete(
                self.strategy, self.kind, existing, opts, self.now())
            if pending:
                raise _AlreadyDeleting()
            changed, finalizers = deletion.gc_finalizers(self.strategy, existing, opts)
            if changed:
                existing["metadata"]["finalizers"] = finalizers
            pending_finalizers = bool(existing["metadata"].get("finalizers"))
            if not graceful:
                if pending_finalizers:
                    deletion.mark_as_deleting(existing, self.now())
                    return existing
                raise _DeleteNow()
            last_grace = new_opts.grace_period_seconds or 0
            result.last_existing = existing
            return existing

        try:
            result.out = await self.ops.guaranteed_update(key, try_update, preconditions=pre,
                                                          dry_run=opts.dry_run)
        except _DeleteNow:
            return result
        except _AlreadyDeleting:
            result.pending = self._deleted_result(current)
            return result
        except KeyNotFound:
            raise self._not_found(name) from None
        except PreconditionFailed as e:
            raise self._precondition_conflict(name, key, e) from None
        if pending_finalizers or last_grace > 0:
            result.pending = result.out
            return result
        result.ignore_not_found = True
        return result

    async def _delete_namespace(self, key: bytes, name: str, current: Obj,
                                opts: DeleteOptions) -> tuple[Obj, bool]:
        """The namespace REST's Delete (pkg/registry/core/namespace/storage/storage.go): the
        first delete only marks the namespace Terminating; once the namespace controller
        emptied spec.finalizers, a delete goes through the generic path."""
        deletion.check_preconditions(self.kind, current, opts)
        pre = Preconditions(opts.precondition_uid, opts.precondition_resource_version)
        if meta.is_being_deleted(current):
            if (current.get("spec") or {}).get("finalizers"):
                return current, False
            return await self._delete(key, name, current, opts)

        def terminate(existing: Obj | None) -> Obj:
            assert existing is not None
            metadata = existing["metadata"]
            if not metadata.get("deletionTimestamp"):
                metadata["deletionTimestamp"] = meta.timestamp(self.now())
            existing.setdefault("status", {})["phase"] = "Terminating"
            finalizers = list(metadata.get("finalizers") or [])
            for finalizer, wanted in (
                    (deletion.ORPHAN, _namespace_wants(opts, deletion.ORPHAN, finalizers)),
                    (deletion.FOREGROUND, _namespace_wants(opts, deletion.FOREGROUND, finalizers))):
                if wanted and finalizer not in finalizers:
                    finalizers.append(finalizer)
                elif not wanted and finalizer in finalizers:
                    finalizers.remove(finalizer)
            if finalizers:
                metadata["finalizers"] = finalizers
            else:
                metadata.pop("finalizers", None)
            return existing

        try:
            out = await self.ops.guaranteed_update(key, terminate, preconditions=pre,
                                                   dry_run=opts.dry_run)
        except KeyNotFound:
            raise self._not_found(name) from None
        except PreconditionFailed as e:
            raise self._precondition_conflict(name, key, e) from None
        return out, False

    async def delete_collection(self, namespace: str, options: dict[str, Any] | None = None,
                                list_options: ListOptions | None = None,
                                dry_run: bool = False) -> Obj:
        """Delete every object a list selects, page by page; the List of what was selected."""
        list_options = list_options or ListOptions()
        has_limit = list_options.limit > 0
        page = ListOptions(list_options.label_selector, list_options.field_selector,
                           list_options.resource_version, list_options.resource_version_match,
                           list_options.limit or DELETE_COLLECTION_PAGE_SIZE,
                           list_options.continue_token)
        first: Obj | None = None
        items: list[Obj] = []
        while True:
            listed = await self.list(namespace, page)
            first = first or listed
            items.extend(listed["items"])
            for item in listed["items"]:
                item_meta = item["metadata"]
                try:
                    await self.delete(item_meta.get("namespace", ""), item_meta["name"], options,
                                      dry_run)
                except status.APIError as e:
                    if e.code != 404:
                        raise
            token = listed["metadata"].get("continue", "")
            if has_limit or not token:
                break
            page = ListOptions(page.label_selector, page.field_selector, limit=page.limit,
                               continue_token=token)
        if has_limit:
            return {**first, "items": items}
        return listing.list_object(self.kind, items, int(first["metadata"]["resourceVersion"]))

    # ------------------------------------------------------------------ list
    async def list(self, namespace: str, options: ListOptions | None = None) -> Obj:
        """A list read from etcd (the path the watch cache delegates to)."""
        return await listing.list_from_etcd(self.ops, self.kind, namespace,
                                            options or ListOptions())

    # ------------------------------------------------------------------ pods/binding
    async def bind(self, namespace: str, binding: Obj, dry_run: bool = False) -> Obj:
        """``BindingREST.Create``: assign the pod ``binding`` names to ``binding.target``."""
        if (self.kind.group, self.kind.resource) != ("", "pods"):
            raise status.method_not_supported(self.kind.resource, "create", self.kind.group)
        return await bind_pod(self, namespace, binding, dry_run)


class _DeletionUpdate:
    """What ``updateForGracefulDeletionAndFinalizers`` decided."""

    def __init__(self) -> None:
        self.out: Obj | None = None
        self.last_existing: Obj | None = None
        self.pending: Obj | None = None  # the answer when deletion is not finished now
        self.ignore_not_found = False


def _namespace_wants(opts: DeleteOptions, finalizer: str, current: list[str]) -> bool:
    """``shouldHaveOrphanFinalizer`` / ``shouldHaveDeleteDependentsFinalizer``."""
    if opts.orphan_dependents is not None:
        return opts.orphan_dependents if finalizer == deletion.ORPHAN else False
    if opts.propagation_policy is not None:
        return opts.propagation_policy == ("Orphan" if finalizer == deletion.ORPHAN else "Foreground")
    return finalizer in current
