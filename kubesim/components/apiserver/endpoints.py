"""The per-verb REST handlers of resource requests, after k8s.io/apiserver
pkg/endpoints/handlers (get.go, create.go, update.go, patch.go, delete.go, watch.go) and
the scale and binding subresources of kubernetes/pkg/registry.

Each takes the request dict (see handler.py) and the authenticated user and returns an
`Outcome`: the HTTP code and the object to encode, or a cache watcher to stream. Reads
come from the watch cache (a GET without resourceVersion reads etcd, as a quorum read);
writes go through admission (mutating, then validating) to the `ResourceStore`. Every
failure is an `APIError` carrying the real metav1.Status; nothing is stored on error.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubesim.api import defaults, kinds, selectors, status
from kubesim.api import field as fld
from kubesim.api.copying import deep_copy
from kubesim.api.kinds import Kind
from kubesim.api.meta import generate_name
from kubesim.components.apiserver.admission import Attributes, Chain, Operation, UserInfo
from kubesim.components.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    apply_patch,
)
from kubesim.components.apiserver.patch.schema import KINDS as PATCH_KINDS
from kubesim.components.apiserver.rest import protobuf
from kubesim.components.apiserver.storage import ListOptions, ResourceStore
from kubesim.components.apiserver.storage.strategy import before_create, ensure_namespace
from kubesim.components.apiserver.watchcache import CacheWatcher, WatchCache

Obj = dict[str, Any]

MAX_RETRY_WHEN_PATCH_CONFLICTS = 5  # handlers/patch.go maxRetryWhenPatchConflicts
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
YAML = "application/yaml"
BODY_MEDIA_TYPES = ("", "application/json", YAML)  # "": no Content-Type, read as JSON
SCALE_KINDS = {("apps", "Deployment"), ("apps", "ReplicaSet")}


@dataclass
class Served:
    """One served resource: its kind, its etcd-backed store and its watch cache."""

    kind: Kind
    store: ResourceStore
    cache: WatchCache


@dataclass
class Outcome:
    """What a verb handler answers: `code` and `body` (a JSON value), warnings for the
    Warning header, or a watcher to stream (`body` is then None)."""

    code: int
    body: Any = None
    warnings: list[str] = field(default_factory=list)
    watcher: CacheWatcher | None = None
    served: Served | None = None


def not_found_route() -> status.APIError:
    """A resource path of a served group version that matches no route (go-restful's
    404 through `NewGenericServerResponse`)."""
    return status.APIError({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {"causes": [{"reason": "UnexpectedServerResponse",
                                "message": "404 page not found"}]},
        "code": 404})


def method_not_allowed() -> status.APIError:
    """A served path without a route for the verb (go-restful's 405)."""
    return status.APIError({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server does not allow this method on the requested resource",
        "reason": "MethodNotAllowed",
        "details": {"causes": [{"reason": "UnexpectedServerResponse",
                                "message": "405: Method Not Allowed"}]},
        "code": 405})


# ----------------------------------------------------------------------------- decoding
def _go_json_error(err: json.JSONDecodeError) -> str:
    """Go's encoding/json wording for the common syntax errors Python reports."""
    if err.pos >= len(err.doc.rstrip()):
        return "unexpected end of JSON input"
    char = err.doc[err.pos]
    context = {
        "Expecting value": "looking for beginning of value",
        "Expecting ':' delimiter": "after object key",
        "Expecting ',' delimiter": "after object key:value pair",
        "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
        "Extra data": "after top-level value",
    }.get(err.msg, "looking for beginning of value")
    return f"invalid character {char!r} {context}"


def _summary(body: bytes, max_length: int = 30) -> str:
    """handlers/rest.go summarizeData."""
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        text = body.decode("utf-8", "replace")
        return text[:max_length] + " ..." if len(body) > max_length else text
    return body[:max_length].hex() + (" ..." if len(body) > max_length else "")


def _duplicates(pairs: list[tuple[str, Any]], path: str, found: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            found.append(f"{path}{key}")
        seen[key] = value
    return seen


def decode_body(body: bytes, into: Kind, content_type: str = "") -> tuple[Obj, list[str]]:
    """The object in a JSON, YAML or protobuf request body, and the duplicate fields it has
    (strict decoding errors). 400 as handlers/rest.go transformDecodeError words it; 415 for
    a media type not served, or a protobuf kind rest/protobuf.py has no schema of. Decoded
    here, after authentication and authorization, as upstream's handlers do."""
    media = content_type.split(";")[0].strip().lower()
    if media == protobuf.MEDIA_TYPE:
        return protobuf.decode(body), []
    if media not in BODY_MEDIA_TYPES:
        raise status.unsupported_media_type(list(BODY_MEDIA_TYPES[1:]))
    if media == YAML:
        return _decode_yaml(body, into), []
    found: list[str] = []
    try:
        obj = json.loads(body, object_pairs_hook=lambda pairs: _duplicates(pairs, "", found))
    except json.JSONDecodeError as err:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {into.kind}): couldn't get "
            f"version/kind; json parse error: {_go_json_error(err)} ({_summary(body)})") from None
    except UnicodeDecodeError as err:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {into.kind}): {err}") from None
    if not isinstance(obj, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {into.kind}): couldn't get "
            f"version/kind; json parse error: json: cannot unmarshal {type(obj).__name__} into "
            f"Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
            f"Kind string \"json:\\\"kind,omitempty\\\"\" }} ({_summary(body)})")
    return obj, [f'duplicate field "{name}"' for name in found]


def _decode_yaml(body: bytes, into: Kind) -> Obj:
    try:
        obj = yaml.safe_load(body)
    except yaml.YAMLError as err:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {into.kind}): couldn't get "
            f"version/kind; json parse error: error converting YAML to JSON: {err}") from None
    if not isinstance(obj, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {into.kind}): couldn't get "
            f"version/kind; json parse error: {_summary(body)}")
    return json.loads(json.dumps(obj, default=str))  # YAML timestamps etc. as JSON strings


def check_kind(obj: Obj, into: Kind, expected_kind: str | None = None) -> None:
    """Fill a missing apiVersion/kind from the URL; 400 for a kind this endpoint does not
    take, as the decoder and create.go's AcceptsGroupVersion check answer."""
    want_kind = expected_kind or into.kind
    api_version = obj.get("apiVersion") or into.api_version
    kind_name = obj.get("kind") or want_kind
    obj["apiVersion"], obj["kind"] = api_version, kind_name
    group, _, version = api_version.rpartition("/")
    known = kinds.by_kind(api_version, kind_name)
    registered = known is not None or (kind_name == want_kind and api_version == into.api_version)
    if kind_name == "Scale" and api_version == "autoscaling/v1":
        registered = True
    if not registered:
        scheme = "pkg/api/legacyscheme/scheme.go:30"
        raise status.bad_request(
            f'{kind_name} in version "{version}" cannot be handled as a {want_kind}: no kind '
            f'"{kind_name}" is registered for version "{api_version}" in scheme "{scheme}"')
    if api_version != into.api_version and not (kind_name == "Scale" and want_kind == "Scale"):
        raise status.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({into.api_version})")
    if kind_name != want_kind:
        raise status.bad_request(
            f'{kind_name} in version "{version}" cannot be handled as a {want_kind}: '
            f"the kind in the data ({kind_name}) is not {want_kind}")


def field_validation(query: Mapping[str, str], options_kind: str) -> str:
    """The fieldValidation directive (default Warn); 422 for an unknown one."""
    value = query.get("fieldValidation", "") or "Warn"
    if value not in FIELD_VALIDATION:
        err = fld.not_supported(fld.new_path("fieldValidation"), value, list(FIELD_VALIDATION))
        raise status.invalid(options_kind, "", [err], "meta.k8s.io")
    return value


def dry_run(query: Mapping[str, str], options_kind: str) -> bool:
    """dryRun=All; 422 `<Kind>Options.meta.k8s.io "" is invalid` for anything else."""
    values = [v for v in query.get("dryRun", "").split(",") if v]
    if any(v != "All" for v in values):
        err = fld.not_supported(fld.new_path("dryRun"), values, ["All"])
        raise status.invalid(options_kind, "", [err], "meta.k8s.io")
    return bool(values)


def _strict(errors: list[str], directive: str, into: Kind, version: str) -> list[str]:
    """Strict decoding errors: a 400 under Strict, warnings under Warn."""
    if not errors or directive == "Ignore":
        return []
    if directive == "Strict":
        raise status.bad_request(
            f'{into.kind} in version "{version}" cannot be handled as a {into.kind}: strict '
            f"decoding error: {', '.join(errors)}")
    return errors


# ----------------------------------------------------------------------------- scale
def to_scale(obj: Obj) -> Obj:
    """autoscaling/v1 Scale of a Deployment or ReplicaSet (registry scaleFromDeployment)."""
    meta = obj.get("metadata") or {}
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    selector = spec.get("selector")
    text = str(selectors.from_label_selector(selector)) if selector else ""
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": spec.get("replicas", 1) if spec.get("replicas") is not None else 1},
        "status": {"replicas": st.get("replicas", 0), "selector": text},
    }


def _validate_scale(scale: Obj, name: str) -> None:
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise status.bad_request(
            f'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
            f'{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of type int32')
    if replicas < 0:
        err = fld.invalid(fld.new_path("spec", "replicas"), replicas,
                          "must be greater than or equal to 0")
        raise status.invalid("Scale", name, [err], "autoscaling")


# ----------------------------------------------------------------------------- handlers
class ResourceEndpoints:
    """The handlers of every served resource. `resources` maps (group, version, resource)
    to what serves it; `now` is Unix time; `random` draws watch timeouts."""

    def __init__(self, resources: Mapping[tuple[str, str, str], Served], chain: Chain,
                 now: Callable[[], float], random: Callable[[], float],
                 min_request_timeout: float) -> None:
        self.resources = resources
        self.chain = chain
        self.now = now
        self.random = random
        self.min_request_timeout = min_request_timeout
        self.versions = {(g, v) for g, v, _r in resources}

    def lookup(self, info: Mapping[str, Any]) -> Served:
        served = self.resources.get((info["group"], info["version"], info["resource"]))
        if served is None or (info["subresource"] and not served.kind.subresource(
                info["subresource"])):
            raise not_found_route()
        if not served.kind.namespaced and info["resource"] != "namespaces":
            if info["namespace"]:
                raise not_found_route()
        return served

    def serves_version(self, group: str, version: str) -> bool:
        return (group, version) in self.versions

    async def serve(self, info: Mapping[str, Any], user: UserInfo) -> Outcome:
        if info["resource"] == "bindings" and not info["group"]:
            return await self._bind(info, user, self.resources[("", "v1", "pods")],
                                    name_from_body=True)
        served = self.lookup(info)
        verb, sub = info["verb"], info["subresource"]
        allowed = served.kind.subresource(sub).verbs if sub else served.kind.verbs  # type: ignore[union-attr]
        if verb not in allowed:
            raise method_not_allowed()
        if sub == "binding":
            return await self._bind(info, user, served, name_from_body=False)
        if sub == "scale":
            return await self._scale(info, user, served)
        handler = {"get": self._get, "list": self._list, "watch": self._watch,
                   "create": self._create, "update": self._update, "patch": self._patch,
                   "delete": self._delete, "deletecollection": self._delete_collection}[verb]
        return await handler(info, user, served)

    # --------------------------------------------------------------- reads
    def _namespace(self, info: Mapping[str, Any], served: Served) -> str:
        return info["namespace"] if served.kind.namespaced else ""

    async def _get(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        rv = info["query"].get("resourceVersion", "")
        ns = self._namespace(info, served)
        if rv:
            obj = await served.cache.get(ns, info["name"], rv)
        else:
            obj = await served.store.get(ns, info["name"])
        return Outcome(200, obj, served=served)

    async def _list(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        opts = ListOptions.from_query(served.kind, info["query"])
        return Outcome(200, await served.cache.list(self._namespace(info, served), opts),
                       served=served)

    async def _watch(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        query = dict(info["query"])
        query["watch"] = "true"
        opts = ListOptions.from_query(served.kind, query)
        watcher = await served.cache.watch(self._namespace(info, served), opts)
        return Outcome(200, None, watcher=watcher, served=served)

    def watch_timeout(self, info: Mapping[str, Any]) -> float:
        """handlers/get.go: timeoutSeconds, else a random time in [1, 2) x minRequestTimeout."""
        text = info["query"].get("timeoutSeconds")
        if text:
            try:
                seconds = int(text)
            except ValueError:
                seconds = 0
            if seconds > 0:
                return float(seconds)
        return self.min_request_timeout * (1.0 + self.random())

    # --------------------------------------------------------------- writes
    def _attrs(self, op: Operation, info: Mapping[str, Any], user: UserInfo, served: Served,
               obj: Obj | None, old: Obj | None, dry: bool, kind: str = "") -> Attributes:
        return Attributes(
            operation=op, resource=served.kind.resource, group=served.kind.group,
            version=served.kind.version, kind=kind or served.kind.kind,
            subresource=info["subresource"], namespace=self._namespace(info, served),
            name=info["name"] or ((obj or {}).get("metadata") or {}).get("name", ""),
            object=obj, old_object=old, user=user, dry_run=dry)

    def _decode(self, info: Mapping[str, Any], served: Served, options_kind: str,
                expected_kind: str | None = None) -> tuple[Obj, list[str]]:
        directive = field_validation(info["query"], options_kind)
        if info.get("object") is not None:
            obj, dups = deep_copy(info["object"]), []
        else:
            obj, dups = decode_body(info.get("body") or b"", served.kind,
                                    str(info.get("content_type") or ""))
        check_kind(obj, served.kind, expected_kind)
        warnings = _strict(dups, directive, served.kind, served.kind.version)
        return obj, warnings

    async def _create(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        dry = dry_run(info["query"], "CreateOptions")
        obj, warnings = self._decode(info, served, "CreateOptions")
        ns = self._namespace(info, served)
        ensure_namespace(served.kind, ns, obj)
        defaults.apply_defaults(obj)
        attrs = self._attrs(Operation.CREATE, info, user, served, obj, None, dry)
        await self.chain.admit(attrs)
        # the store validates inside create; kube-apiserver runs validating admission (which
        # charges quota) only after that validation, so validate a copy first
        probe = deep_copy(obj)
        probe_meta = probe.setdefault("metadata", {})
        if probe_meta.get("generateName") and not probe_meta.get("name"):
            # the store generates the name (rest.BeforeCreate) before it validates
            probe_meta["name"] = generate_name(probe_meta["generateName"], random.Random(0))
        before_create(served.kind, ns, probe, self.now(), "")
        await self.chain.validate(attrs)
        created = await served.store.create(ns, obj, dry_run=dry)
        return Outcome(201, created, warnings, served=served)

    async def _update(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        dry = dry_run(info["query"], "UpdateOptions")
        obj, warnings = self._decode(info, served, "UpdateOptions")
        ns = self._namespace(info, served)
        ensure_namespace(served.kind, ns, obj)
        defaults.apply_defaults(obj)
        # the stored object admission compares against: the watch cache's, as the one
        # GuaranteedUpdate starts from upstream; etcd's when the cache holds none
        old: Obj | None = served.cache.current(ns, info["name"])
        if old is None:
            try:
                old = await served.store.get(ns, info["name"])
            except status.APIError as err:
                if err.code != 404:
                    raise
        op = Operation.UPDATE if old is not None else Operation.CREATE
        attrs = self._attrs(op, info, user, served, obj, old, dry)
        await self.chain.admit(attrs)
        await self.chain.validate(attrs)
        stored, created = await served.store.update(ns, info["name"], obj,
                                                    subresource=info["subresource"], dry_run=dry)
        return Outcome(201 if created else 200, stored, warnings, served=served)

    def _patch_type(self, info: Mapping[str, Any], served: Served) -> str:
        """The patch media type; 415 for server-side apply (not served, as with the
        ServerSideApply feature off) and for anything else unknown."""
        patch_type = str(info.get("content_type") or "").split(";")[0].strip()
        accepted = [JSON_PATCH, MERGE_PATCH]
        if served.kind.kind in PATCH_KINDS or info["subresource"] == "scale":
            accepted.append(STRATEGIC_MERGE_PATCH)
        if patch_type not in accepted:
            raise status.unsupported_media_type(accepted)
        return patch_type

    def _patch_body(self, info: Mapping[str, Any]) -> Any:
        if info.get("object") is not None:
            return info["object"]
        return info.get("body") or b""

    async def _patch(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        dry = dry_run(info["query"], "PatchOptions")
        field_validation(info["query"], "PatchOptions")
        patch_type = self._patch_type(info, served)
        body = self._patch_body(info)
        ns = self._namespace(info, served)
        for attempt in range(MAX_RETRY_WHEN_PATCH_CONFLICTS + 1):
            # etcd's object, not the watch cache's: upstream re-applies a patch inside
            # GuaranteedUpdate when its start was stale, here that would be a 409 and a retry
            current = await served.store.get(ns, info["name"])
            try:
                patched = apply_patch(patch_type, deep_copy(current), body, served.kind.kind)
            except PatchError as err:
                raise _patch_status(err) from None
            pinned = (patched.get("metadata") or {}).get("resourceVersion")
            if pinned is None or pinned == "":
                patched.setdefault("metadata", {})["resourceVersion"] = \
                    current["metadata"]["resourceVersion"]
            pinned_by_client = pinned not in (None, "", current["metadata"]["resourceVersion"])
            check_kind(patched, served.kind)
            defaults.apply_defaults(patched)
            attrs = self._attrs(Operation.UPDATE, info, user, served, patched, current, dry)
            await self.chain.admit(attrs)
            await self.chain.validate(attrs)
            try:
                stored, _ = await served.store.update(ns, info["name"], patched,
                                                      subresource=info["subresource"],
                                                      dry_run=dry)
            except status.APIError as err:
                if err.code == 409 and err.reason == "Conflict" and not pinned_by_client \
                        and attempt < MAX_RETRY_WHEN_PATCH_CONFLICTS:
                    continue
                raise
            return Outcome(200, stored, served=served)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _delete(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        options = self._delete_options(info)
        dry = bool(options.get("dryRun"))
        ns = self._namespace(info, served)
        attrs = self._attrs(Operation.DELETE, info, user, served, None, None, dry)
        await self.chain.admit(attrs)
        attrs.old_object = await served.store.get(ns, info["name"])
        await self.chain.validate(attrs)
        result, _deleted = await served.store.delete(ns, info["name"], options, dry_run=dry)
        return Outcome(200, result, served=served)

    async def _delete_collection(self, info: Mapping[str, Any], user: UserInfo,
                                 served: Served) -> Outcome:
        options = self._delete_options(info)
        dry = bool(options.get("dryRun"))
        list_options = ListOptions.from_query(served.kind, info["query"])
        attrs = self._attrs(Operation.DELETE, info, user, served, None, None, dry)
        await self.chain.admit(attrs)
        result = await served.store.delete_collection(self._namespace(info, served), options,
                                                      list_options, dry_run=dry)
        return Outcome(200, result, served=served)

    def _delete_options(self, info: Mapping[str, Any]) -> Obj:
        """DeleteOptions from the body, with the query parameters over it (delete.go)."""
        body = info.get("object")
        raw = info.get("body")
        if body is None and raw:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise status.bad_request(f"error decoding DeleteOptions: {err}") from None
        options: Obj = dict(body or {})
        query = info["query"]
        if query.get("gracePeriodSeconds"):
            try:
                options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
            except ValueError:
                raise status.bad_request(
                    f'strconv.ParseInt: parsing "{query["gracePeriodSeconds"]}": invalid '
                    "syntax") from None
        if query.get("propagationPolicy"):
            options["propagationPolicy"] = query["propagationPolicy"]
        if query.get("orphanDependents"):
            options["orphanDependents"] = query["orphanDependents"] in ("true", "1", "True")
        if dry_run(query, "DeleteOptions"):
            options["dryRun"] = ["All"]
        return options

    # --------------------------------------------------------------- subresources
    async def _bind(self, info: Mapping[str, Any], user: UserInfo, served: Served,
                    name_from_body: bool) -> Outcome:
        if info["verb"] != "create":
            raise method_not_allowed()
        dry = dry_run(info["query"], "CreateOptions")
        binding_kind = kinds.by_resource("", "v1", "bindings")
        assert binding_kind is not None
        if info.get("object") is not None:
            binding = deep_copy(info["object"])
        else:
            binding, _ = decode_body(info.get("body") or b"", binding_kind,
                                     str(info.get("content_type") or ""))
        check_kind(binding, binding_kind)
        meta = binding.setdefault("metadata", {})
        if not name_from_body and meta.get("name") and meta["name"] != info["name"]:
            raise status.bad_request(f"the name of the object ({meta['name']}) does not match "
                                     f"the name on the URL ({info['name']})")
        if not meta.get("name"):
            meta["name"] = info["name"]
        if not meta.get("namespace"):
            meta["namespace"] = info["namespace"]
        attrs = Attributes(operation=Operation.CREATE, resource="pods", version="v1",
                           kind="Binding", subresource="binding",
                           namespace=info["namespace"], name=meta["name"], object=binding,
                           user=user, dry_run=dry)
        await self.chain.admit(attrs)
        await self.chain.validate(attrs)
        result = await served.store.bind(info["namespace"], binding, dry_run=dry)
        return Outcome(201, result, served=served)

    async def _scale(self, info: Mapping[str, Any], user: UserInfo, served: Served) -> Outcome:
        ns = self._namespace(info, served)
        verb = info["verb"]
        if verb == "get":
            return Outcome(200, to_scale(await served.store.get(ns, info["name"])),
                           served=served)
        dry = dry_run(info["query"], "UpdateOptions" if verb == "update" else "PatchOptions")
        for attempt in range(MAX_RETRY_WHEN_PATCH_CONFLICTS + 1):
            current = await served.store.get(ns, info["name"])
            scale = to_scale(current)
            if verb == "update":
                if info.get("object") is not None:
                    new_scale = deep_copy(info["object"])
                else:
                    new_scale, _ = decode_body(info.get("body") or b"", served.kind,
                                               str(info.get("content_type") or ""))
            else:
                patch_type = self._patch_type(info, served)
                try:
                    new_scale = apply_patch(patch_type, deep_copy(scale),
                                            self._patch_body(info), "Scale")
                except PatchError as err:
                    raise _patch_status(err) from None
            _validate_scale(new_scale, info["name"])
            pinned = (new_scale.get("metadata") or {}).get("resourceVersion") or ""
            updated = deep_copy(current)
            updated.setdefault("spec", {})["replicas"] = new_scale["spec"]["replicas"]
            if pinned:
                updated["metadata"]["resourceVersion"] = pinned
            attrs = self._attrs(Operation.UPDATE, info, user, served, updated, current, dry,
                                kind="Scale")
            await self.chain.admit(attrs)
            await self.chain.validate(attrs)
            try:
                stored, _ = await served.store.update(ns, info["name"], updated, dry_run=dry)
            except status.APIError as err:
                if err.code == 409 and err.reason == "Conflict" and \
                        pinned in ("", current["metadata"]["resourceVersion"]) and \
                        attempt < MAX_RETRY_WHEN_PATCH_CONFLICTS:
                    continue
                raise
            return Outcome(200, to_scale(stored), served=served)
        raise AssertionError("unreachable")


def _patch_status(err: PatchError) -> status.APIError:
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": err.message, "reason": err.reason, "code": err.status}
    return status.APIError(body)
