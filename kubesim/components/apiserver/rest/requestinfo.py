"""From an HTTP request line to the apiserver's request dict: k8s.io/apiserver
pkg/endpoints/request/requestinfo.go (`RequestInfoFactory.NewRequestInfo`).

A resource request is `/api/v1/...` or `/apis/<group>/<version>/...`; everything else
(`/healthz`, `/version`, `/openapi/v3`, `/api` itself) is a non-resource request. The
verb comes from the HTTP method, refined as upstream does: a GET without a name is a
`list` (a `watch` with `?watch=true`, or under the legacy `/watch/` prefix), a DELETE
without a name is a `deletecollection`. The result is a plain dict the handler takes,
the same whether it came over HTTP or as an actor message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_PREFIXES = ("api", "apis")
GROUPLESS_API_PREFIX = "api"
# namespaces/{name}/{status,finalize} are subresources of the namespace, not resources in it
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
SPECIAL_VERBS = frozenset({"proxy", "watch"})
SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
HTTP_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}

# the query parameters the handler reads (metav1.ListOptions, GetOptions, CreateOptions,
# UpdateOptions, PatchOptions, DeleteOptions)
QUERY_PARAMETERS = (
    "labelSelector", "fieldSelector", "resourceVersion", "resourceVersionMatch", "limit",
    "continue", "watch", "allowWatchBookmarks", "timeoutSeconds", "sendInitialEvents",
    "dryRun", "fieldManager", "fieldValidation", "propagationPolicy", "gracePeriodSeconds",
    "orphanDependents", "force", "includeObject", "verbose", "exclude",
)


def _truthy_watch(value: str) -> bool:
    return value.lower() not in ("false", "0")


def request_info(method: str, path: str, query: Mapping[str, str]) -> dict[str, Any]:
    """The request dict for `method path?query` (body, token and content type are added
    by the caller). Non-resource requests carry `path` and an empty `resource`."""
    verb = HTTP_VERBS.get(method.upper(), method.lower())
    info: dict[str, Any] = {
        "verb": verb, "path": path, "group": "", "version": "", "resource": "",
        "subresource": "", "namespace": "", "name": "", "resource_request": False,
        "query": {k: query[k] for k in QUERY_PARAMETERS if k in query},
    }
    parts = [p for p in path.strip("/").split("/")]
    if not parts or parts[0] not in API_PREFIXES:
        return info
    prefix, parts = parts[0], parts[1:]
    if prefix != GROUPLESS_API_PREFIX:
        if not parts or not parts[0]:
            return info
        info["group"], parts = parts[0], parts[1:]
    if not parts or not parts[0]:
        return info
    info["version"], parts = parts[0], parts[1:]
    if not parts or not parts[0]:  # /api/v1, /apis/apps/v1: discovery
        return info
    info["resource_request"] = True
    if parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:  # "/api/v1/watch" alone is not a resource request
            info["resource_request"] = False
            return info
        info["verb"], parts = parts[0], parts[1:]
    if parts[0] == "namespaces":
        if len(parts) > 1:
            info["namespace"] = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts = parts[2:]
    if len(parts) >= 3 and info["verb"] not in SPECIAL_VERBS_NO_SUBRESOURCES:
        info["subresource"] = parts[2]
    if len(parts) >= 2:
        info["name"] = parts[1]
    info["resource"] = parts[0]
    if not info["name"] and info["verb"] == "get":
        watch = query.get("watch")
        info["verb"] = "watch" if watch is not None and _truthy_watch(watch) else "list"
    if not info["name"] and info["verb"] == "delete":
        info["verb"] = "deletecollection"
    return info

