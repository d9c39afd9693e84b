"""deep_copy: the same value as copy.deepcopy, types kept, nothing mutable shared."""

from __future__ import annotations

import copy
import enum
from typing import Any

from kubesim.api.copying import deep_copy


def _shape(value: Any) -> Any:
    """The value with the exact type of every part spelled out."""
    if isinstance(value, dict):
        return (type(value), [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value), [_shape(v) for v in value])
    return (type(value), value)


def _containers(value: Any) -> list[int]:
    out = [id(value)] if isinstance(value, dict | list) else []
    if isinstance(value, dict):
        for v in value.values():
            out += _containers(v)
    elif isinstance(value, list | tuple):
        for v in value:
            out += _containers(v)
    return out


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "labels": {"a": "b"}, "ownerReferences": [{"controller": True}]},
       "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1m"}}}],
                "terminationGracePeriodSeconds": 30, "priority": -(2**63)},
       "status": {"conditions": [{"type": "Ready", "lastProbeTime": None}], "ratio": 0.25,
                  "raw": b"\x00\xff", 7: "an int key"}}


def test_a_json_document_is_copied_whole_with_its_types() -> None:
    copied = deep_copy(POD)
    assert copied == POD == copy.deepcopy(POD)
    assert _shape(copied) == _shape(POD)
    assert not set(_containers(copied)) & set(_containers(POD))  # nothing mutable shared
    copied["spec"]["containers"][0]["name"] = "changed"
    assert POD["spec"]["containers"][0]["name"] == "c"


class Phase(enum.StrEnum):
    RUNNING = "Running"


def test_values_msgpack_would_change_fall_back_to_deepcopy() -> None:
    for value in ({"ports": (80, 443)}, {"phase": Phase.RUNNING}, {"big": 2**70},
                  {(1, 2): "tuple key"}, {"obj": Phase}):
        copied = deep_copy(value)
        assert copied == value and _shape(copied) == _shape(value)
    nested = {"items": [{"ports": (80,)}]}
    copied = deep_copy(nested)
    assert copied["items"] is not nested["items"] and type(copied["items"][0]["ports"]) is tuple
