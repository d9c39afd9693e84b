"""PATCH bodies as kube-apiserver applies them: JSON patch, JSON merge patch and
strategic merge patch (built-in kinds only), raising `PatchError`s that carry the
Status code and reason to answer with.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import (
    BadPatchError,
    PatchError,
    PatchTooLargeError,
    UnprocessablePatchError,
    UnsupportedPatchTypeError,
)
from .json_patch import json_patch
from .merge_patch import merge_patch
from .schema import KINDS
from .strategic import strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

__all__ = [
    "JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "BadPatchError", "PatchError",
    "PatchTooLargeError", "UnprocessablePatchError", "UnsupportedPatchTypeError", "apply_patch",
    "json_patch", "merge_patch", "strategic_merge_patch",
]


def apply_patch(patch_type: str, original: dict[str, Any], body: bytes | str | Any, kind: str) -> dict[str, Any]:
    """The object `original` (of `kind`) after the PATCH with content type `patch_type`.

    `body` is the raw request body, or an already decoded JSON value.
    """
    patch_type = patch_type.split(";")[0].strip()
    built_in = kind in KINDS
    if patch_type not in (JSON_PATCH, MERGE_PATCH) and not (patch_type == STRATEGIC_MERGE_PATCH and built_in):
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([STRATEGIC_MERGE_PATCH] if built_in else [])
        raise UnsupportedPatchTypeError(
            "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
        )
    patch = _decode(body)
    if patch_type == JSON_PATCH:
        result = json_patch(original, patch)
    elif patch_type == MERGE_PATCH:
        result = merge_patch(original, patch)
    else:
        if not isinstance(patch, dict):
            raise BadPatchError("json: cannot unmarshal array into Go value of type map[string]interface {}")
        result = strategic_merge_patch(original, patch, KINDS[kind])
    if not isinstance(result, dict):
        raise BadPatchError("the patched object is not a JSON object")
    return result


def _decode(body: bytes | str | Any) -> Any:
    if not isinstance(body, bytes | str):
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadPatchError(f"invalid JSON in the patch: {err}") from err
