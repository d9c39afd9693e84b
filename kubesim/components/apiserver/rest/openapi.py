"""OpenAPI v3 documents (`/openapi/v3` and `/openapi/v3/<api path>`), shaped like
kube-apiserver's (k8s.io/kube-openapi pkg/handler3, api/openapi-spec/v3).

What kubectl 1.32 reads from them: `kubectl apply`/`create` look for the `fieldValidation`
query parameter on the PATCH operation of the object's group-version-kind (cli-runtime
QueryParamVerifierV3); finding it, they send `fieldValidation=Strict` and leave
validation to the server instead of validating against schemas client-side. Every path
and operation is here with its real operationId, parameters and GVK extension.

Simplified: `components.schemas` holds each kind's schema as an open object with its
description only. kubesim has no field-level schemas (objects are plain dicts), so
`kubectl explain` has nothing to show; and a schema tagged with the kind's GVK would make
`kubectl apply` compute strategic merge patches from these schemas instead of its
compiled-in types, so none is tagged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubesim.api import kinds

OPENAPI_VERSION = "3.0.0"
_STR = {"type": "string", "uniqueItems": True}
_INT = {"type": "integer", "uniqueItems": True}
_BOOL = {"type": "boolean", "uniqueItems": True}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "description": description, "required": True,
            "schema": _STR}


DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. "
                 "An invalid or unrecognized dryRun directive will result in an error response "
                 "and no further processing of the request. Valid values are: - All: all dry run "
                 "stages will be processed", _STR)
FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or "
                       "entity that is making these changes. The value must be less than or 128 "
                       "characters long, and only contain printable characters, as defined by "
                       "https://golang.org/pkg/unicode/#IsPrint.", _STR)
FIELD_VALIDATION = _query("fieldValidation", "fieldValidation instructs the server on how to "
                          "handle objects in the request (POST/PUT/PATCH) containing unknown or "
                          "duplicate fields. Valid values are: - Ignore - Warn - Strict", _STR)
FORCE = _query("force", "Force is going to \"force\" Apply requests. It means user will "
               "re-acquire conflicting fields owned by other people. Force flag must be unset "
               "for non-apply patch requests.", _BOOL)
PRETTY = _query("pretty", "If 'true', then the output is pretty printed.", _STR)
GRACE = _query("gracePeriodSeconds", "The duration in seconds before the object should be "
               "deleted. Value must be non-negative integer. The value zero indicates delete "
               "immediately.", _INT)
PROPAGATION = _query("propagationPolicy", "Whether and how garbage collection will be "
                     "performed. Either this field or OrphanDependents may be set, but not both.",
                     _STR)
LIST_PARAMETERS = [
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type "
           "\"BOOKMARK\".", _BOOL),
    _query("continue", "The continue option should be set when retrieving more results from "
           "the server.", _STR),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their "
           "fields. Defaults to everything.", _STR),
    _query("labelSelector", "A selector to restrict the list of returned objects by their "
           "labels. Defaults to everything.", _STR),
    _query("limit", "limit is a maximum number of responses to return for a list call.", _INT),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a "
           "request may be served from.", _STR),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is "
           "applied to list calls.", _STR),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.",
           _BOOL),
    _query("timeoutSeconds", "Timeout for the list/watch call.", _INT),
    _query("watch", "Watch for changes to the described resources and return them as a stream "
           "of add, update, and remove notifications.", _BOOL),
]
NAMESPACE = _path("namespace", "object name and auth scope, such as for teams and projects")

_ACTIONS = {"get": "read", "put": "replace", "patch": "patch", "delete": "delete",
            "post": "create"}
_K8S_ACTIONS = {"get": "get", "put": "put", "patch": "patch", "delete": "delete",
                "post": "post"}
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                "application/merge-patch+json", "application/strategic-merge-patch+json")


def schema_name(group: str, version: str, kind: str) -> str:
    """The definition name k8s uses, e.g. io.k8s.api.apps.v1.Deployment."""
    package = {"": "core", "events.k8s.io": "events", "scheduling.k8s.io": "scheduling",
               "coordination.k8s.io": "coordination", "discovery.k8s.io": "discovery"}.get(
        group, group)
    return f"io.k8s.api.{package}.{version}.{kind}"


def _camel_group(group: str) -> str:
    return (group.split(".")[0] or "core").capitalize()


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _operation(action: str, op_id: str, kind: kinds.Kind, gvk: dict[str, str], result: str,
               parameters: list[dict[str, Any]], body: bool, patch: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [f"{_camel_group(kind.group).lower()}_{kind.version}"],
        "description": f"{action} {kind.kind}",
        "operationId": op_id,
        "responses": {"200": {"description": "OK", **_ref(result)},
                      "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        media = _PATCH_TYPES if patch else ("application/json",)
        schema = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"} \
            if patch else {"$ref": f"#/components/schemas/{result}"}
        op["requestBody"] = {"content": {m: {"schema": schema} for m in media}, "required": True}
    return op


def _paths_for(kind: kinds.Kind) -> dict[str, Any]:
    base = "/api/v1" if not kind.group else f"/apis/{kind.group}/{kind.version}"
    gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
    name = schema_name(kind.group, kind.version, kind.kind)
    list_name = schema_name(kind.group, kind.version, kind.list_kind)
    stem = f"{_camel_group(kind.group)}{kind.version.capitalize()}"
    scoped = "Namespaced" if kind.namespaced else ""
    collection = f"{base}/namespaces/{{namespace}}/{kind.resource}" if kind.namespaced \
        else f"{base}/{kind.resource}"
    scope_params = [NAMESPACE] if kind.namespaced else []
    paths: dict[str, Any] = {}
    ops: dict[str, Any] = {"parameters": [*scope_params, PRETTY]}
    verbs = set(kind.verbs)
    if "list" in verbs:
        ops["get"] = _operation("list", f"list{stem}{scoped}{kind.kind}", kind, gvk, list_name,
                                LIST_PARAMETERS, False)
    if "create" in verbs:
        ops["post"] = _operation("post", f"create{stem}{scoped}{kind.kind}", kind, gvk, name,
                                 [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], True)
    if "deletecollection" in verbs:
        ops["delete"] = _operation("deletecollection",
                                   f"deleteCollection{stem}{scoped}{kind.kind}", kind, gvk,
                                   "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                                   [DRY_RUN, GRACE, PROPAGATION, *LIST_PARAMETERS], False)
    paths[collection] = ops
    if kind.namespaced and "list" in verbs:
        paths[f"{base}/{kind.resource}"] = {
            "parameters": [PRETTY],
            "get": _operation("list", f"list{stem}{kind.kind}ForAllNamespaces", kind, gvk,
                              list_name, LIST_PARAMETERS, False)}
    if "get" not in verbs:  # bindings: create only
        return paths
    item_params = [_path("name", f"name of the {kind.kind}"), *scope_params, PRETTY]
    item: dict[str, Any] = {"parameters": item_params}
    item["get"] = _operation("get", f"read{stem}{scoped}{kind.kind}", kind, gvk, name, [], False)
    item["put"] = _operation("put", f"replace{stem}{scoped}{kind.kind}", kind, gvk, name,
                             [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], True)
    item["patch"] = _operation("patch", f"patch{stem}{scoped}{kind.kind}", kind, gvk, name,
                               [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], True, True)
    item["delete"] = _operation("delete", f"delete{stem}{scoped}{kind.kind}", kind, gvk,
                                "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                                [DRY_RUN, GRACE, PROPAGATION], False)
    paths[f"{collection}/{{name}}"] = item
    for sub in kind.subresources:
        sub_group = kind.group if sub.group is None else sub.group
        sub_version = kind.version if sub.version is None else sub.version
        sub_gvk = {"group": sub_group, "version": sub_version, "kind": sub.kind}
        sub_name = schema_name(sub_group, sub_version, sub.kind)
        suffix = sub.name.capitalize()
        ops = {"parameters": item_params}
        for verb, method in (("get", "get"), ("update", "put"), ("patch", "patch"),
                             ("create", "post")):
            if verb not in sub.verbs:
                continue
            params = [] if method == "get" else [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
            if method == "patch":
                params = [*params, FORCE]
            ops[method] = _operation(_K8S_ACTIONS[method],
                                     f"{_ACTIONS[method]}{stem}{scoped}{kind.kind}{suffix}",
                                     kind, sub_gvk, sub_name, params, method != "get",
                                     method == "patch")
        paths[f"{collection}/{{name}}/{sub.name}"] = ops
    return paths


def _schemas(served: list[kinds.Kind]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status": {
            "description": "Status is a return value for calls that don't return other objects.",
            "type": "object"},
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {
            "description": "Patch is provided to give a concrete name and type to the Kubernetes "
                           "PATCH request body.", "type": "object"},
    }
    for kind in served:
        for kind_name in (kind.kind, kind.list_kind):
            out[schema_name(kind.group, kind.version, kind_name)] = {
                "description": f"{kind_name} ({kind.api_version})", "type": "object",
                "x-kubernetes-preserve-unknown-fields": True}
        for sub in kind.subresources:
            group = kind.group if sub.group is None else sub.group
            version = kind.version if sub.version is None else sub.version
            out.setdefault(schema_name(group, version, sub.kind), {
                "description": f"{sub.kind} ({group + '/' if group else ''}{version})",
                "type": "object", "x-kubernetes-preserve-unknown-fields": True})
    return out


def group_versions() -> list[str]:
    """The `/openapi/v3` path keys: "api/v1", "apis/apps/v1", ..."""
    gvs = sorted({(k.group, k.version) for k in kinds.KINDS})
    return [f"api/{v}" if not g else f"apis/{g}/{v}" for g, v in gvs]


def document(gv_path: str) -> dict[str, Any] | None:
    """The OpenAPI document of one group version ("api/v1", "apis/apps/v1"); None if not served."""
    served = [k for k in kinds.KINDS
              if (f"api/{k.version}" if not k.group else f"apis/{k.group}/{k.version}") == gv_path]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for kind in sorted(served, key=lambda k: k.resource):
        paths.update(_paths_for(kind))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {
            "schemas": _schemas(served),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description":
                                                "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        },
    }


def content_hash(body: dict[str, Any]) -> str:
    """The `hash` query value of a document's URL (upper-case hex of a sha512 prefix)."""
    return hashlib.sha512(json.dumps(body, sort_keys=True).encode()).hexdigest()[:128].upper()


def index(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`GET /openapi/v3`: where each group version's document is, with its hash."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={content_hash(doc)}"}
                      for gv, doc in sorted(documents.items())}}
