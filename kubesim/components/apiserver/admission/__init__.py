"""kube-apiserver admission: the plugin chain a request passes before its object is stored.

Follows ``k8s.io/apiserver/pkg/admission`` (attributes, chain, ``NewForbidden``) and the
plugins of ``kubernetes/plugin/pkg/admission`` that kubesim serves, in kube-apiserver
1.32's default order (``pkg/kubeapiserver/options/plugins.go``, ``AllOrderedPlugins``)::

    NamespaceLifecycle  LimitRanger  Priority  DefaultTolerationSeconds  ResourceQuota

Public API (everything else in the package is internal)::

    Operation                 StrEnum: CREATE, UPDATE, DELETE, CONNECT
    UserInfo(name="", uid="", groups=(), extra={})
    Attributes(operation, resource, group="", version="v1", kind="", subresource="",
               namespace="", name="", object=None, old_object=None,
               user=UserInfo(), dry_run=False)
        ``resource`` is the plural resource of the URL ("pods"), ``kind`` the kind the
        request carries ("Pod"; "Binding" for pods/binding; set on DELETE too, where
        ``object`` is None: the immortal-namespace check needs "Namespace"), ``group``
        the resource's API group. ``object`` is the incoming object
        (a plain dict, mutated in place by the mutating phase), ``old_object`` the stored
        one (UPDATE: the current object; DELETE: the object being deleted, ``object`` None).
        ``attributes.group_resource`` is "deployments.apps" / "pods".

    Lister            Protocol the handler implements (backed by the watch cache):
        async get(resource, namespace, name, *, live=False) -> dict | None   (None: not found)
        async list(resource, namespace, *, live=False) -> list[dict]
      ``resource`` is a group-resource string: NAMESPACES, PRIORITY_CLASSES,
      LIMIT_RANGES, RESOURCE_QUOTAS ("namespaces", "priorityclasses.scheduling.k8s.io",
      "limitranges", "resourcequotas"); ``namespace`` is "" for cluster-scoped ones.
      ``live=True`` bypasses the cache and reads storage (the loopback client call the
      real plugins make when their informer cache may be stale).
    QuotaStatusUpdater  async (quota: dict) -> dict
      PUT .../resourcequotas/<name>/status of ``quota`` with its ``metadata.resourceVersion``
      as the precondition; returns the stored quota (new resourceVersion); raises
      ``APIError`` 409 Conflict when the resourceVersion is stale (admission re-reads and
      retries, as upstream, up to 3 times).
    ActorContext        Protocol: now() -> float; async sleep(seconds); spawn(coroutine).
      An actor's ``ctx`` satisfies it (NamespaceLifecycle's 50 ms wait for the cache,
      the 30 s live-lookup caches, the per-namespace quota batch task).

    new_chain(lister, update_quota_status, ctx, plugins=DEFAULT_PLUGINS) -> Chain
    DEFAULT_PLUGINS       the plugin names above, in order (a subset may be given, in any
                          order; the chain keeps this order; an unknown name is a ValueError)
    Chain.admit(attributes)      async; the mutating phase (may change attributes.object)
    Chain.validate(attributes)   async; the validating phase (ResourceQuota charges usage
                                 into the quota's status.used here, unless dry_run)

Both phases raise ``kubesim.api.status.APIError`` (403 Forbidden, 404 NotFound, 409
Conflict ...) with the real message; they return None when the request is admitted.
Exceptions raised by the injected callables propagate unchanged.

How kube-apiserver calls them (the handler mirrors this): on CREATE, ``admit`` after
decoding and defaulting, then ``validate`` just before the object is written; on UPDATE
both run inside the guaranteed-update loop against the current stored object (retried
on conflict); on DELETE ``admit`` with neither object (NamespaceLifecycle refuses the
immortal namespaces there), then ``validate`` with ``old_object`` the stored object; on
CONNECT both (no plugin here handles it).
"""

from kubesim.components.apiserver.admission.attributes import Attributes, Operation, UserInfo
from kubesim.components.apiserver.admission.chain import DEFAULT_PLUGINS, Chain, new_chain
from kubesim.components.apiserver.admission.interfaces import (
    LIMIT_RANGES,
    NAMESPACES,
    PRIORITY_CLASSES,
    RESOURCE_QUOTAS,
    ActorContext,
    Lister,
    QuotaStatusUpdater,
)

__all__ = ["DEFAULT_PLUGINS", "LIMIT_RANGES", "NAMESPACES", "PRIORITY_CLASSES", "RESOURCE_QUOTAS",
           "ActorContext", "Attributes", "Chain", "Lister", "Operation", "QuotaStatusUpdater",
           "UserInfo", "new_chain"]
