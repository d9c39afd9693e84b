"""Lists read from etcd: ``GetList`` of k8s.io/apiserver pkg/storage/etcd3/store.go.

A list ranges over the kind's (or one namespace's) key prefix at one revision: the latest for
resourceVersion "" (a linearizable read) or NotOlderThan, the given one for Exact and for a
paginated legacy request, the token's for a continuation. With ``limit`` it fetches pages,
doubling the page while selectors filter items out, and hands back a continue token that
resumes after the last key at the same revision; ``remainingItemCount`` is set only when
nothing is filtered. A compacted revision answers 410 Expired with upstream's texts.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import status
from kubesim.api.kinds import Kind
from kubesim.components.apiserver.storage import codec, keys
from kubesim.components.apiserver.storage.errors import (
    LIST_EXPIRED,
    continue_expired,
    etcd_failure,
    too_large_resource_version,
)
from kubesim.components.apiserver.storage.etcd_ops import EtcdOps
from kubesim.components.apiserver.storage.options import EXACT, NOT_OLDER_THAN, ListOptions
from kubesim.components.apiserver.storage.predicate import Predicate
from kubesim.components.etcd import errors as etcd_errors
from kubesim.components.etcd.errors import EtcdError

Obj = dict[str, Any]
MAX_LIMIT = 10_000  # etcd3 store maxLimit


def list_object(kind: Kind, items: list[Obj], revision: int, continue_token: str = "",
                remaining: int | None = None) -> Obj:
    """A ``<Kind>List`` with the list metadata the apiserver fills."""
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": metadata,
            "items": items}


async def list_from_etcd(ops: EtcdOps, kind: Kind, namespace: str, options: ListOptions) -> Obj:
    pred = Predicate.of(kind, options)
    namespace = namespace or (pred.single_namespace() or "" if kind.namespaced else "")
    prefix = keys.list_prefix(kind, namespace)
    prefix_end = keys.prefix_end(prefix.encode())
    key = prefix.encode()
    with_rev = 0
    returned_rv = 0
    continue_key = b""
    min_rv = options.min_resource_version
    if options.continue_token:
        try:
            continue_key, continue_rv = keys.decode_continue(options.continue_token, prefix)
        except keys.ContinueError as e:
            raise status.bad_request(f"invalid continue token: {e}") from None
        if options.resource_version not in ("", "0"):
            raise status.bad_request(
                "specifying resource version is not allowed when using continue")
        key = continue_key
        if continue_rv > 0:
            with_rev = returned_rv = continue_rv
    elif options.resource_version:
        if options.resource_version_match == EXACT or (
                options.resource_version_match == "" and options.limit > 0 and min_rv > 0):
            with_rev = returned_rv = min_rv
    paging = options.limit > 0
    limit = min(options.limit, MAX_LIMIT) if paging else 0
    items: list[Obj] = []
    last_key = b""
    has_more = False
    count = 0
    while True:
        req: dict[str, Any] = {"key": key, "range_end": prefix_end, "limit": limit}
        if with_rev:
            req["revision"] = with_rev
        try:
            resp = await ops.backend.range(req)
        except EtcdError as e:
            raise _list_error(e, options, continue_key, prefix, ops.revision) from None
        ops.revision = max(ops.revision, resp["header"]["revision"])
        if options.resource_version_match in ("", NOT_OLDER_THAN) and not with_rev and \
                min_rv > resp["header"]["revision"] and options.resource_version != "0":
            raise too_large_resource_version(min_rv, resp["header"]["revision"], 0)
        has_more = bool(resp.get("more"))
        count = int(resp.get("count", 0))
        if not with_rev:
            with_rev = resp["header"]["revision"]
        if not returned_rv:
            returned_rv = with_rev
        for kv in resp["kvs"]:
            if paging and len(items) >= options.limit:
                has_more = True
                break
            last_key = kv["key"]
            obj = codec.decode(kv["value"], kv["mod_revision"])
            if pred.matches(obj):
                items.append(obj)
        if not has_more or not paging or len(items) >= options.limit:
            break
        limit = min(limit * 2, MAX_LIMIT)
        key = last_key + b"\0"
    if has_more:
        token = keys.encode_continue(last_key + b"\0", prefix, returned_rv)
        remaining = count - options.limit if pred.empty() else None
        return list_object(kind, items, returned_rv, token, remaining)
    return list_object(kind, items, returned_rv)


def _list_error(error: EtcdError, options: ListOptions, continue_key: bytes, prefix: str,
                current: int) -> status.APIError:
    """``interpretListError``: compaction is 410, anything else the 500 of a storage error."""
    if error == etcd_errors.COMPACTED:
        if options.continue_token:
            return continue_expired(keys.encode_continue(continue_key, prefix, -1))
        return status.resource_expired(LIST_EXPIRED)
    if error == etcd_errors.FUTURE_REV:
        return too_large_resource_version(options.min_resource_version, current, 0)
    return etcd_failure(error)
