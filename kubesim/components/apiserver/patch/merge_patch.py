"""JSON merge patch (RFC 7386, application/merge-patch+json)."""

from __future__ import annotations

from typing import Any

from kubesim.api.copying import deep_copy


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7386 MergePatch does; inputs are not modified."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
