"""kube-apiserver storage of API objects in etcd: the generic registry store of one kind.

Follows k8s.io/apiserver ``pkg/registry/generic/registry/store.go`` (the registry ``Store``:
create, update, guaranteed update, graceful deletion, finalizers, delete collection),
``pkg/storage/etcd3/store.go`` (keys, values, resourceVersion, txns, paginated lists) and the
strategies in ``kubernetes/pkg/registry`` (pods: graceful deletion, ``pods/binding``; status
subresources). Objects are the plain dicts of :mod:`kubesim.api`. Nothing here does I/O except
through the :class:`~kubesim.components.etcd.backend.EtcdBackend` passed in; time comes from an
injected ``now()`` (seconds since the Unix epoch) and randomness from a seeded ``random.Random``.

Public API (every error is a :class:`kubesim.api.status.APIError` carrying the real metav1.Status)::

    from kubesim.components.apiserver.storage import ListOptions, ResourceStore, keys

    store = ResourceStore(kind, backend, now=now, rng=random.Random(seed))
        # kind: kubesim.api.kinds.Kind (not "bindings"); backend: an EtcdBackend

    await store.create(namespace, obj, dry_run=False) -> dict
        # the stored object (resourceVersion, uid, creationTimestamp, generation set; name
        # from generateName, 8 attempts); the object's namespace is filled from `namespace`;
        # defaulting (kubesim.api.defaults, idempotent) and validation run here;
        # 400 BadRequest (undecodable value, another kind, namespace mismatch),
        # 422 Invalid, 409 AlreadyExists ("object is being deleted: ..." while it goes)
    await store.get(namespace, name) -> dict                      # 404 NotFound
    await store.update(namespace, name, obj, subresource="", dry_run=False)
        -> tuple[dict, bool]
        # PUT: (stored object, created); subresource "", "status" or "finalize" (namespaces);
        # 409 Conflict (stale metadata.resourceVersion, or a metadata.uid that is not the
        # stored one), 422 Invalid (field errors; a missing resourceVersion where the kind
        # needs one), 404 NotFound (unless the kind allows create-on-update: created=True),
        # 400 BadRequest (name differs from the URL's). An update that removes the last
        # finalizer of an object being deleted deletes it.
    await store.guaranteed_update(namespace, name, mutate, subresource="",
                                  preconditions=None, dry_run=False) -> dict
        # PATCH and in-process writers: mutate(current: dict) -> dict gets a deep copy of the
        # stored object and returns the new one; it runs again after a concurrent write; the
        # result goes through the same checks as update (so a resourceVersion other than ""
        # or the current one is 409 Conflict); mutate may raise APIError;
        # preconditions {"uid": ..., "resourceVersion": ...} -> 409 Conflict; 404 NotFound
    await store.delete(namespace, name, options=None, dry_run=False) -> tuple[dict, bool]
        # options: a DeleteOptions dict (gracePeriodSeconds, preconditions, propagationPolicy,
        # orphanDependents, dryRun); None = {} as for a DELETE without body (pods get their
        # terminationGracePeriodSeconds). Returns (result, deleted_now): the object while its
        # deletion is pending (graceful deletion, finalizers, a Terminating namespace) and for
        # kinds that return the deleted object (pods, services, namespaces), else a Status
        # "Success" dict; 404 NotFound, 409 Conflict (preconditions), 422 Invalid (options)
    await store.delete_collection(namespace, options=None, list_options=None,
                                  dry_run=False) -> dict
        # a List of what was selected (and deleted or marked); errors as delete and list
    await store.list(namespace, options: ListOptions | None = None) -> dict
        # a List read from etcd ({"kind": "PodList", "apiVersion", "metadata":
        # {"resourceVersion", "continue"?, "remainingItemCount"?}, "items"}); namespace "" =
        # all; 410 Expired (compacted resourceVersion or continue token: upstream's texts, a
        # fresh continue token in the Status' metadata), 400 BadRequest (bad continue
        # token), 504 Timeout "Too large resource version" (NotOlderThan a future revision)
    await store.bind(namespace, binding, dry_run=False) -> dict   # pods only: pods/binding
        # sets spec.nodeName and the PodScheduled condition; returns a Status "Success";
        # 409 Conflict on pods/binding ("pod x is already assigned to node \"y\"", being
        # deleted, scheduling gates), 404 NotFound, 500 for a binding without target.name
    store.current_revision() -> int   # the highest etcd revision this store has seen

    ListOptions.from_query(kind, query: Mapping[str, str]) -> ListOptions
        # metav1.ListOptions from URL query parameters (labelSelector, fieldSelector,
        # resourceVersion, resourceVersionMatch, limit, continue, allowWatchBookmarks,
        # sendInitialEvents, timeoutSeconds, watch); 400 BadRequest for unparsable
        # selectors, 422 Invalid (kind ListOptions.meta.k8s.io) for forbidden combinations
    DeleteOptions.from_dict(body) -> DeleteOptions   # 422 for a bad dryRun
    keys.object_key(kind, namespace, name) -> bytes  # b"/registry/pods/default/x"
    keys.resource_prefix(kind) -> str               # "/registry/minions/" for nodes
    keys.encode_continue(key, prefix, rv) -> str, keys.decode_continue(token, prefix)

etcd failures other than those above surface as the apiserver does for a non-Status
storage error: 500 with the etcd message (e.g. ``etcdserver: request timed out``, and
``etcdserver: request is too large`` for an object over etcd's 1.5 MiB request limit).

Modules: ``store`` (ResourceStore), ``etcd_ops`` (etcd3 create / GuaranteedUpdate /
conditional delete), ``listing`` (paginated lists from etcd), ``strategy`` (per-kind switches,
``before_create`` / ``before_update``, ``ensure_namespace``), ``deletion`` (graceful deletion
and finalizers), ``binding`` (pods/binding), ``options``, ``predicate``, ``keys``, ``codec``,
``errors``.
"""

from kubesim.components.apiserver.storage import keys
from kubesim.components.apiserver.storage.options import DeleteOptions, ListOptions
from kubesim.components.apiserver.storage.predicate import Predicate
from kubesim.components.apiserver.storage.store import ResourceStore

__all__ = ["DeleteOptions", "ListOptions", "Predicate", "ResourceStore", "keys"]
