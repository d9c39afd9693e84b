"""The registry of served kinds, and the discovery documents a 1.32 apiserver serves for them.

Each :class:`Kind` knows its group, version, plural resource, singular, scope, short names,
verbs, categories and subresources. :func:`api_versions`, :func:`api_group_list` and
:func:`api_resource_list` build ``/api``, ``/apis`` and ``/api/v1`` / ``/apis/G/V`` bodies
with the real field order, sort order and ``storageVersionHash`` values.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    """A subresource such as ``status``, ``scale`` or ``binding``."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # set when the subresource's kind lives in another group
    version: str | None = None


@dataclass(frozen=True)
class Kind:
    """One served resource."""

    group: str
    version: str
    kind: str
    resource: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    storage_group: str | None = None  # where it is stored, if not its own group

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``resource[.group]`` as in error messages (``deployments.apps``)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    def storage_version_hash(self) -> str:
        """``discovery.StorageVersionHash``: base64 of the first 8 bytes of sha256(g/v/kind)."""
        group = self.group if self.storage_group is None else self.storage_group
        digest = hashlib.sha256(f"{group}/{self.version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    def api_resources(self) -> list[dict[str, Any]]:
        """The APIResource entries for this resource and its subresources."""
        main: dict[str, Any] = {"name": self.resource, "singularName": self.singular,
                                "namespaced": self.namespaced, "kind": self.kind,
                                "verbs": list(self.verbs)}
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        if "get" in self.verbs or "list" in self.verbs:
            main["storageVersionHash"] = self.storage_version_hash()
        out = [main]
        for sub in self.subresources:
            entry: dict[str, Any] = {"name": f"{self.resource}/{sub.name}", "singularName": "",
                                     "namespaced": self.namespaced}
            if sub.group is not None:
                entry["group"] = sub.group
                entry["version"] = sub.version
            entry["kind"] = sub.kind
            entry["verbs"] = list(sub.verbs)
            out.append(entry)
        return out


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS_VERBS)


_SCALE = Subresource("scale", "Scale", STATUS_VERBS, "autoscaling", "v1")
_ALL = ("all",)

KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Binding", "bindings", "binding", True, ("create",)),
    Kind("", "v1", "ConfigMap", "configmaps", "configmap", True, short_names=("cm",)),
    Kind("", "v1", "Endpoints", "endpoints", "endpoints", True, short_names=("ep",)),
    Kind("", "v1", "Event", "events", "event", True, short_names=("ev",)),
    Kind("", "v1", "LimitRange", "limitranges", "limitrange", True, short_names=("limits",)),
    Kind("", "v1", "Namespace", "namespaces", "namespace", False, NO_COLLECTION_DELETE,
         ("ns",), subresources=(Subresource("finalize", "Namespace", ("update",)),
                                _status("Namespace"))),
    Kind("", "v1", "Node", "nodes", "node", False, short_names=("no",),
         subresources=(_status("Node"),)),
    Kind("", "v1", "Pod", "pods", "pod", True, short_names=("po",), categories=_ALL,
         subresources=(Subresource("binding", "Binding", ("create",)), _status("Pod"))),
    Kind("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True,
         short_names=("quota",), subresources=(_status("ResourceQuota"),)),
    Kind("", "v1", "Secret", "secrets", "secret", True),
    Kind("", "v1", "Service", "services", "service", True, short_names=("svc",),
         categories=_ALL, subresources=(_status("Service"),)),
    Kind("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, short_names=("ds",),
         categories=_ALL, subresources=(_status("DaemonSet"),)),
    Kind("apps", "v1", "Deployment", "deployments", "deployment", True, short_names=("deploy",),
         categories=_ALL, subresources=(_SCALE, _status("Deployment"))),
    Kind("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, short_names=("rs",),
         categories=_ALL, subresources=(_SCALE, _status("ReplicaSet"))),
    Kind("events.k8s.io", "v1", "Event", "events", "event", True, short_names=("ev",),
         storage_group=""),
    Kind("batch", "v1", "Job", "jobs", "job", True, categories=_ALL,
         subresources=(_status("Job"),)),
    Kind("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", False,
         short_names=("pc",)),
    Kind("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
    Kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
)

# Group order of a 1.32 apiserver's /apis, restricted to the groups served here.
GROUP_ORDER = ("apps", "events.k8s.io", "batch", "scheduling.k8s.io", "coordination.k8s.io",
               "discovery.k8s.io")

_BY_RESOURCE = {(k.group, k.version, k.resource): k for k in KINDS}
_BY_KIND = {(k.group, k.version, k.kind): k for k in KINDS}


def by_resource(group: str, version: str, resource: str) -> Kind | None:
    """The kind served at ``/api[s]/<group>/<version>/.../<resource>``."""
    return _BY_RESOURCE.get((group, version, resource))


def by_kind(api_version: str, kind: str) -> Kind | None:
    """The kind for an object's ``apiVersion`` and ``kind``."""
    group, _, version = api_version.rpartition("/")
    return _BY_KIND.get((group, version, kind))


def of(obj: dict[str, Any]) -> Kind | None:
    return by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))


def resolve(name: str) -> list[Kind]:
    """Kinds a user-typed name can mean: plural, singular, short name or kind, any case."""
    name = name.lower()
    return [k for k in KINDS
            if name in (k.resource, k.singular, k.kind.lower(), *k.short_names)]


def api_versions(server_address: str) -> dict[str, Any]:
    """``GET /api``."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group_entry(group: str) -> dict[str, Any]:
    version = next(k.version for k in KINDS if k.group == group)
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group(group: str) -> dict[str, Any] | None:
    """``GET /apis/<group>``; None for a group not served."""
    if group not in GROUP_ORDER:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group)}


def api_group_list() -> dict[str, Any]:
    """``GET /apis``."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g) for g in GROUP_ORDER]}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>``; None for an unknown group version."""
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if not kinds:
        return None
    resources = sorted((r for k in kinds for r in k.api_resources()), key=lambda r: r["name"])
    body: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        body["apiVersion"] = "v1"
    body["groupVersion"] = kinds[0].group_version
    body["resources"] = resources
    return body
