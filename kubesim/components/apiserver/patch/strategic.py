"""Strategic merge patch (application/strategic-merge-patch+json) as the apiserver applies it
(k8s.io/apimachinery/pkg/util/strategicpatch, MergeParallelList and IgnoreUnmatchedNulls).

Maps merge key by key, null deletes. Lists with patchStrategy merge merge element by
element on their patchMergeKey (or as a set of primitives); other lists are replaced.
Directives: `$patch: replace | delete` in a map or list element, `$patch: delete` with
the merge key to drop one element, `$deleteFromPrimitiveList/<field>`,
`$setElementOrder/<field>` to fix the resulting order, and `$retainKeys` to drop the
keys of a map the patch does not list. Without `$setElementOrder` the patch's items
come in patch order, server-only items keep their relative place.
"""

from __future__ import annotations

from typing import Any

from kubesim.api.copying import deep_copy

from .errors import BadPatchError, UnprocessablePatchError
from .schema import MERGE, UNKNOWN, FieldMeta, Schema

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], meta: FieldMeta) -> dict[str, Any]:
    """Apply `patch` to a copy of `original` using the kind's patch metadata."""
    return _merge_map(deep_copy(original), deep_copy(patch), meta.schema)


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: Schema) -> dict[str, Any]:
    if PATCH in patch:
        directive = patch.pop(PATCH)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise UnprocessablePatchError(f"unknown patch type: {directive} in map: {patch}")
    original = {} if original is None else original
    _apply_retain_keys(original, patch)
    _apply_set_element_orders(original, patch, schema)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            name = key[len(DELETE_FROM_PRIMITIVE_LIST):]
            if not isinstance(value, list):
                raise BadPatchError("invalid patch format of primitive list")
            if isinstance(original.get(name), list):
                original[name] = [item for item in original[name] if item not in value]
            continue
        if value is None:
            original.pop(key, None)
            continue
        original[key] = _merge_value(original.get(key), value, schema.get(key, UNKNOWN))
    return original


def _merge_value(current: Any, value: Any, meta: FieldMeta) -> Any:
    if isinstance(value, dict):
        return _merge_map(current if isinstance(current, dict) else None, value, meta.schema)
    if isinstance(value, list):
        return _merge_list(current if isinstance(current, list) else [], value, meta)
    return value


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise BadPatchError("invalid patch format of retainKeys")
    for key in patch:
        if not key.startswith("$") and key not in retain:
            raise UnprocessablePatchError("patch content doesn't match retainKeys list")
    for key in [k for k in original if k not in retain]:
        del original[key]


def _apply_set_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> None:
    for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        name = directive[len(SET_ELEMENT_ORDER):]
        if not isinstance(order, list):
            raise BadPatchError("invalid patch format of setElementOrder list")
        meta = schema.get(name, UNKNOWN)
        server = original.get(name)
        server = server if isinstance(server, list) else None
        patch_list = patch.pop(name, None)
        if patch_list is not None and not isinstance(patch_list, list):
            raise UnprocessablePatchError(f"expected a []interface {{}}, but received a {type(patch_list).__name__}")
        _check_order_covers_patch(patch_list or [], order, meta.merge_key)
        if patch_list is None:
            if server is None:
                continue
            merged = server
        else:
            merged = _merge_list(server or [], patch_list, meta)
        in_order, server_only = _partition(merged, order, meta.merge_key)
        original[name] = _normalize(in_order, server_only, order, server or [], meta.merge_key)


def _check_order_covers_patch(patch_list: list[Any], order: list[Any], key: str) -> None:
    """Every (non-directive) patch item must appear in $setElementOrder, in the same order."""
    positions = [_index(order, item, key) for item in patch_list
                 if not (isinstance(item, dict) and PATCH in item)]
    if any(p < 0 for p in positions) or positions != sorted(positions):
        raise BadPatchError("invalid patch format of setElementOrder list")


def _merge_list(original: list[Any], patch: list[Any], meta: FieldMeta) -> list[Any]:
    if meta.strategy != MERGE:
        return [_merge_value(None, item, FieldMeta(schema=meta.schema)) if isinstance(item, dict) else item
                for item in patch]
    if not original and not patch:
        return original
    if any(isinstance(item, list) for item in original + patch):
        raise UnprocessablePatchError("lists of lists are not supported")
    if not any(isinstance(item, dict) for item in original + patch):
        merged: list[Any] = []
        for item in original + patch:
            if item not in merged:
                merged.append(item)
        patch_items, server_only = _partition(merged, patch, "")
        return _normalize(patch_items, server_only, patch, original, "")
    key = meta.merge_key
    if not key:
        raise UnprocessablePatchError("cannot merge lists without merge key")
    original, patch = _special_elements(original, patch, key)
    merged = list(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise UnprocessablePatchError(f"map: {item} does not contain declared merge key: {key}")
        at = _index(merged, item, key)
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, meta.schema)
        else:
            merged.append(_merge_map(None, item, meta.schema))
    patch_items, server_only = _partition(merged, patch, key)
    return _normalize(patch_items, server_only, patch, original, key)


def _special_elements(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Handle `$patch` elements: delete by merge key, or replace the whole list."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if not isinstance(item, dict) or PATCH not in item:
            plain.append(item)
            continue
        directive = item[PATCH]
        if directive == "delete":
            if key not in item:
                raise UnprocessablePatchError(f"map: {item} does not contain declared merge key: {key}")
            original = [o for o in original if not (isinstance(o, dict) and o.get(key) == item[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise UnprocessablePatchError("merging lists cannot yet be specified in the patch")
        else:
            raise UnprocessablePatchError(f"unknown patch type: {directive} in map: {item}")
    if replace:
        return [_merge_map(None, item, {}) for item in plain], []
    return original, plain


def _index(items: list[Any], item: Any, key: str) -> int:
    for i, candidate in enumerate(items):
        if key:
            if isinstance(candidate, dict) and isinstance(item, dict) and candidate.get(key) == item.get(key):
                return i
        elif candidate == item:
            return i
    return -1


def _partition(merged: list[Any], present: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    inside = [item for item in merged if _index(present, item, key) >= 0]
    outside = [item for item in merged if _index(present, item, key) < 0]
    return inside, outside


def _normalize(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
               server_order: list[Any], key: str) -> list[Any]:
    """Patch items in patch order, server-only items in server order, interleaved by their
    server positions (normalizeElementOrder + mergeSortedSlice)."""
    left = sorted(server_only, key=lambda item: _index(server_order, item, key))
    right = sorted(patch_items, key=lambda item: _index(patch_order, item, key))
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            result.append(left[i])
            i += 1
            continue
        if i >= len(left):
            result.append(right[j])
            j += 1
            continue
        li, ri = _index(server_order, left[i], key), _index(server_order, right[j], key)
        if li >= 0 and ri >= 0 and li < ri:
            result.append(left[i])
            i += 1
        else:
            result.append(right[j])
            j += 1
    return result
