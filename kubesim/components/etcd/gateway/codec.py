"""etcd 3.4 gateway JSON <-> the backend's request/response dicts, and protobuf sizes.

Decoding follows golang/protobuf 1.3 `jsonpb` as grpc-gateway 1.9 runs it: proto or
lowerCamel field names (camel wins if both), unknown fields ignored, `null` = default,
int64 as a number or a string, enums as a name or any int32 number, bytes as standard
padded base64 (Go's decoder: CR/LF skipped, "illegal base64 data at input byte N"),
errors worded as Go words them. Every plain field of the result is present (defaults
included); a oneof member only when given. Encoding is jsonpb with OrigName and without
EmitDefaults: zero scalars, empty lists and None messages are left out, a present
message is always written (`{}` if empty), int64/uint64 as decimal strings, enums by
name, fields in declaration order.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from kubesim.components.etcd.gateway.gojson import (
    GoJSONError,
    Node,
    dumps_string,
    go_quote,
    unmarshal,
)
from kubesim.components.etcd.gateway.schema import MESSAGES, Field

_INT = re.compile(r"-?[0-9]+")
_RANGES = {
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint64": (0, (1 << 64) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
}
_GO_TYPES = {
    "int64": "int64",
    "uint64": "uint64",
    "int32": "int32",
    "bool": "bool",
    "string": "string",
    "bytes": "[]uint8",
}
_KIND_NAMES = {
    "object": "object",
    "array": "array",
    "string": "string",
    "number": "number",
    "true": "bool",
    "false": "bool",
}
_B64_ALPHABET = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_B64_CANONICAL = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class DecodeError(ValueError):
    """A request the gateway cannot decode, with Go's message."""


def _type_error(node: Node, go_type: str) -> DecodeError:
    return DecodeError(
        f"json: cannot unmarshal {_KIND_NAMES[node.kind]} into Go value of type {go_type}"
    )


# ---------------------------------------------------------------- decoding


def decode(node: Node | None, message: str) -> dict[str, Any]:
    """One request message from its parsed JSON (None: an empty body)."""
    if node is None:
        return _defaults(message)
    return _message(node, message)


def _defaults(message: str) -> dict[str, Any]:
    return {
        f.name: _default(f)
        for f in MESSAGES[message]
        if f.repeated or (f.oneof is None and f.kind != "message")
    }


def _default(field: Field) -> Any:
    if field.repeated:
        return []
    if field.kind == "enum":
        return field.enum.names[0]  # type: ignore[union-attr]
    return {"bytes": b"", "bool": False, "string": ""}.get(field.kind, 0)


def _message(node: Node, message: str) -> dict[str, Any]:
    out = _defaults(message)
    if node.kind == "null":
        return out
    if node.kind != "object":
        raise _type_error(node, "map[string]json.RawMessage")
    given: dict[str, Node] = node.value
    fields = MESSAGES[message]
    for field in [f for f in fields if f.oneof is None] + [f for f in fields if f.oneof]:
        raw = given.get(field.json_name) if field.json_name in given else given.get(field.name)
        if raw is not None and raw.kind != "null":
            out[field.name] = _field(raw, field)
    return out


def _field(node: Node, field: Field) -> Any:
    if not field.repeated:
        return _single(node, field)
    if node.kind == "string" and field.enum is not None:
        _enum_by_name(node, field)
        raise DecodeError(f'invalid target "slice" for enum {field.enum.go_name}')
    if node.kind != "array":
        raise _type_error(node, "[]json.RawMessage")
    return [_single(item, field) for item in node.value]


def _single(node: Node, field: Field) -> Any:
    if node.kind == "null":
        return _message(node, field.message) if field.kind == "message" else _default(field)
    if field.kind == "message":
        return _message(node, field.message)  # type: ignore[arg-type]
    if field.kind == "enum":
        enum = field.enum
        assert enum is not None
        if node.kind == "string":
            return _enum_by_name(node, field)
        number = _integer(node, "int32", enum.go_name)
        return enum.names[number] if 0 <= number < len(enum.names) else number
    if field.kind in _RANGES:
        if node.kind == "string":
            try:
                node = unmarshal(node.raw[1:-1])
            except GoJSONError as exc:
                raise DecodeError(str(exc)) from None
            if node.kind == "null":
                return 0
        return _integer(node, field.kind, field.kind)
    if field.kind == "bool":
        if node.kind not in ("true", "false"):
            raise _type_error(node, "bool")
        return node.kind == "true"
    if field.kind == "bytes":
        if node.kind == "string":
            return go_b64decode(node.value.encode("utf-8", "surrogatepass"))
        if node.kind == "array":
            return bytes(
                0 if item.kind == "null" else _integer(item, "uint8", "uint8")
                for item in node.value
            )
        raise _type_error(node, "[]uint8")
    if node.kind != "string":
        raise _type_error(node, "string")
    return node.value


def _enum_by_name(node: Node, field: Field) -> str:
    enum = field.enum
    assert enum is not None
    name = node.raw[1:-1].decode("utf-8", errors="replace")
    if name not in enum.names:
        raise DecodeError(f"unknown value {go_quote(name)} for enum {enum.go_name}")
    return name


def _integer(node: Node, kind: str, go_type: str) -> int:
    if node.kind != "number":
        raise _type_error(node, go_type)
    low, high = _RANGES.get(kind, (0, 255))
    if not _INT.fullmatch(node.value) or not low <= int(node.value) <= high:
        raise DecodeError(
            f"json: cannot unmarshal number {node.value} into Go value of type {go_type}"
        )
    return int(node.value)


def go_b64decode(src: bytes) -> bytes:
    """Go's base64.StdEncoding.Decode: padding required, CR and LF ignored."""
    stripped = src.replace(b"\n", b"").replace(b"\r", b"")
    if _B64_CANONICAL.fullmatch(stripped):
        return base64.b64decode(stripped)
    out = bytearray()
    si, n = 0, len(src)
    while si < n:
        quantum, j = [0, 0, 0, 0], 0
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out)
                raise _corrupt(si - j)
            c = src[si]
            si += 1
            if c in _B64_ALPHABET:
                quantum[j] = _B64_ALPHABET[c]
                j += 1
            elif c not in b"\r\n":
                if c != ord("=") or j < 2:
                    raise _corrupt(si - 1)
                if j == 2:
                    si = _skip_newlines(src, si)
                    if si == n:
                        raise _corrupt(n)
                    if src[si] != ord("="):
                        raise _corrupt(si - 1)
                    si += 1
                if _skip_newlines(src, si) < n:
                    raise _corrupt(_skip_newlines(src, si))
                break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[: j - 1]
    return bytes(out)


def _skip_newlines(src: bytes, si: int) -> int:
    while si < len(src) and src[si] in b"\r\n":
        si += 1
    return si


def _corrupt(offset: int) -> DecodeError:
    return DecodeError(f"illegal base64 data at input byte {offset}")


# ---------------------------------------------------------------- encoding


def encode(value: dict[str, Any], message: str) -> str:
    """One response message as etcd's gateway writes it."""
    parts = []
    for field in MESSAGES[message]:
        item = value.get(field.name)
        if item is None or (field.repeated and not item):
            continue
        if field.repeated:
            text = "[" + ",".join(_encode_one(x, field) for x in item) + "]"
        elif field.kind != "message" and _is_default(item, field):
            continue
        else:
            text = _encode_one(item, field)
        parts.append(f'"{field.name}":{text}')
    return "{" + ",".join(parts) + "}"


def _is_default(value: Any, field: Field) -> bool:
    if field.kind == "enum":
        return value in (0, field.enum.names[0])  # type: ignore[union-attr]
    return not value


def _encode_one(value: Any, field: Field) -> str:
    kind = field.kind
    if kind == "message":
        return encode(value, field.message)  # type: ignore[arg-type]
    if kind in ("int64", "uint64"):
        return f'"{int(value)}"'
    if kind == "int32":
        return str(int(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "bytes":
        return (
            '"'
            + base64.b64encode(value.encode() if isinstance(value, str) else bytes(value)).decode()
            + '"'
        )
    if kind == "enum":
        names = field.enum.names  # type: ignore[union-attr]
        if isinstance(value, int):
            return dumps_string(names[value]) if 0 <= value < len(names) else str(value)
        return dumps_string(value)
    return dumps_string(value)


# ---------------------------------------------------------------- protobuf sizes


def _varint_size(value: int) -> int:
    if value < 0:
        return 10
    return max(1, (value.bit_length() + 6) // 7)


def proto_size(value: dict[str, Any], message: str) -> int:
    """The size of a decoded message marshalled as protobuf (proto3: defaults skipped,
    a set oneof member always written, repeated scalars packed)."""
    total = 0
    for field in MESSAGES[message]:
        item = value.get(field.name)
        if item is None:
            continue
        tag = _varint_size(field.number << 3)
        if field.repeated:
            if field.kind in ("message", "bytes", "string"):
                total += sum(tag + _delimited(_payload_size(x, field)) for x in item)
            elif item:
                total += tag + _delimited(sum(_payload_size(x, field) for x in item))
        elif field.oneof is not None or field.kind == "message" or not _is_default(item, field):
            size = _payload_size(item, field)
            total += tag + (
                _delimited(size) if field.kind in ("message", "bytes", "string") else size
            )
    return total


def _delimited(size: int) -> int:
    return _varint_size(size) + size


def _payload_size(value: Any, field: Field) -> int:
    kind = field.kind
    if kind == "message":
        return proto_size(value, field.message)  # type: ignore[arg-type]
    if kind == "bytes":
        return len(value)
    if kind == "string":
        return len(value.encode())
    if kind == "bool":
        return 1
    if kind == "enum" and isinstance(value, str):
        value = field.enum.names.index(value)  # type: ignore[union-attr]
    return _varint_size(int(value))


# etcd wraps each proposal in an InternalRaftRequest: a RequestHeader (field 100, tag 2
# bytes + length 1 + ID field 1 + a 10-byte varint ID: etcd request IDs carry the member
# ID's low 16 bits on top, and the probed member's has bit 15 set) plus the request.
RAFT_HEADER_BYTES = 14
RAFT_FIELDS = {
    "put": 4,
    "delete_range": 5,
    "txn": 6,
    "compact": 7,
    "lease_grant": 8,
    "lease_revoke": 9,
}


def raft_request_size(op: str, size: int) -> int:
    """Marshalled size of the InternalRaftRequest carrying a `size`-byte request."""
    return RAFT_HEADER_BYTES + _varint_size(RAFT_FIELDS[op] << 3) + _delimited(size)
