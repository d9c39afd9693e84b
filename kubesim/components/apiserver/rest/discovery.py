"""Discovery documents: `/version`, the legacy `/api`, `/apis`, `/apis/G`, `/api/v1`,
`/apis/G/V` (built by kubesim.api.kinds), and the aggregated discovery kubectl 1.32 asks
for first (apidiscovery.k8s.io/v2, k8s.io/apiserver pkg/endpoints/discovery/aggregated).

Aggregated discovery answers `/api` and `/apis` in one document each when the client's
Accept header names `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`;
the response's Content-Type says which format was chosen (client-go switches on it).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from typing import Any

from kubesim.api import kinds

KUBERNETES_VERSION = (1, 32, 0)
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def version_info() -> dict[str, Any]:
    """`GET /version` (k8s.io/apimachinery pkg/version.Info). Build fields carry the
    defaults of an unstamped build; the runtime fields describe this process."""
    major, minor, patch = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}+kubesim",
        "gitCommit": "$Format:%H$",
        "gitTreeState": "",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{platform.machine().lower().replace('x86_64', 'amd64')}",
    }


def wants_aggregated(accept: str) -> bool:
    """Whether an Accept header lists the v2 aggregated discovery media type."""
    for item in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in item.split(";")[1:] if "=" in p}
        if (params.get("g"), params.get("v"), params.get("as")) == (
                "apidiscovery.k8s.io", "v2", "APIGroupDiscoveryList"):
            return True
    return False


def _response_kind(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _resource(kind: kinds.Kind) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": kind.resource,
        "responseKind": _response_kind(kind.group, kind.version, kind.kind),
        "scope": "Namespaced" if kind.namespaced else "Cluster",
        "singularResource": kind.singular,
        "verbs": list(kind.verbs),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    subresources = []
    for sub in kind.subresources:
        group = kind.group if sub.group is None else sub.group
        version = kind.version if sub.version is None else sub.version
        subresources.append({"subresource": sub.name,
                             "responseKind": _response_kind(group, version, sub.kind),
                             "verbs": list(sub.verbs)})
    if subresources:
        entry["subresources"] = subresources
    return entry


def _group(group: str) -> dict[str, Any]:
    served = [k for k in kinds.KINDS if k.group == group]
    versions = sorted({k.version for k in served}, reverse=True)
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata = {"name": group, "creationTimestamp": None}
    return {
        "metadata": metadata,
        "versions": [
            {"version": v,
             "resources": [_resource(k) for k in sorted(served, key=lambda k: k.resource)
                           if k.version == v],
             "freshness": "Current"}
            for v in versions
        ],
    }


def aggregated(legacy: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of `/api` (legacy: the core group) or `/apis`."""
    groups = [""] if legacy else list(kinds.GROUP_ORDER)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": [_group(g) for g in groups]}


def etag(body: dict[str, Any]) -> str:
    """The ETag aggregated discovery sends (a hash of the document), quoted."""
    digest = hashlib.sha512(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:64].upper()}"'
