"""JSON patch (RFC 6902, application/json-patch+json) over JSON pointers (RFC 6901).

Error texts follow evanphx/json-patch, which kube-apiserver uses: a malformed patch
is a 400, an operation that does not apply (missing path, failed test) a 422, and
more than 10,000 operations a 413.
"""

from __future__ import annotations

from typing import Any

from kubesim.api.copying import deep_copy

from .errors import BadPatchError, PatchTooLargeError, UnprocessablePatchError

MAX_JSON_PATCH_OPERATIONS = 10000
OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply the operations in order to a copy of `doc`; all or nothing."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise BadPatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchTooLargeError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}"
        )
    doc = deep_copy(doc)
    for op in operations:
        doc = _apply(doc, op)
    return doc


def parse_pointer(pointer: Any) -> list[str]:
    """RFC 6901: "" is the whole document, else "/"-separated tokens with ~1 = "/" and ~0 = "~"."""
    if not isinstance(pointer, str):
        raise UnprocessablePatchError("path is not a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise UnprocessablePatchError(f"JSON pointer must be empty or start with a \"/\": {pointer}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: numbers by value, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _apply(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    if kind not in OPERATIONS:
        raise UnprocessablePatchError(f"Unexpected kind: {kind}")
    if "path" not in op:
        raise UnprocessablePatchError(f"{kind} operation missing path")
    path = op["path"]
    tokens = parse_pointer(path)
    if kind in ("add", "replace", "test") and "value" not in op:
        raise UnprocessablePatchError(f"{kind} operation missing value")
    if kind == "add":
        return _add(doc, tokens, deep_copy(op["value"]), path, kind)
    if kind == "remove":
        doc, _ = _remove(doc, tokens, path, kind)
        return doc
    if kind == "replace":
        doc, _ = _remove(doc, tokens, path, kind)
        return _add(doc, tokens, deep_copy(op["value"]), path, kind)
    if kind == "test":
        if not _exists(doc, tokens) or not json_equal(_get(doc, tokens, path, kind), op["value"]):
            raise UnprocessablePatchError(f"testing value {path} failed: test failed")
        return doc
    if "from" not in op:
        raise UnprocessablePatchError(f"{kind} operation missing from")
    source = parse_pointer(op["from"])
    if kind == "move":
        if tokens[: len(source)] == source and len(tokens) > len(source):
            raise UnprocessablePatchError(f"move operation does not apply: cannot move {op['from']} into its child {path}")
        doc, value = _remove(doc, source, op["from"], kind, what="from path")
        return _add(doc, tokens, value, path, kind)
    value = deep_copy(_get(doc, source, op["from"], kind, what="from path"))
    return _add(doc, tokens, value, path, kind)


def _missing(kind: str, what: str, path: str) -> UnprocessablePatchError:
    return UnprocessablePatchError(f"{kind} operation does not apply: doc is missing {what}: {path}: missing value")


def _container(doc: Any, tokens: list[str], path: str, kind: str, what: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _is_index(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(kind, what, path)
    if not isinstance(node, dict | list):
        raise _missing(kind, what, path)
    return node


def _is_index(token: str) -> bool:
    return token.isdigit() and token.isascii() and (token == "0" or not token.startswith("0"))


def _index(token: str, upper: int) -> int:
    if not _is_index(token) or int(token) > upper:
        raise UnprocessablePatchError(f"Unable to access invalid index: {token}: invalid index referenced")
    return int(token)


def _exists(doc: Any, tokens: list[str]) -> bool:
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _is_index(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def _get(doc: Any, tokens: list[str], path: str, kind: str, what: str = "path") -> Any:
    if not _exists(doc, tokens):
        raise _missing(kind, what, path)
    node = doc
    for token in tokens:
        node = node[token] if isinstance(node, dict) else node[int(token)]
    return node


def _add(doc: Any, tokens: list[str], value: Any, path: str, kind: str) -> Any:
    if not tokens:
        return value
    parent, key = _container(doc, tokens, path, kind, "path"), tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    else:
        parent.insert(_index(key, len(parent)), value)
    return doc


def _remove(doc: Any, tokens: list[str], path: str, kind: str, what: str = "path") -> tuple[Any, Any]:
    if not tokens:
        return None, doc
    parent, key = _container(doc, tokens, path, kind, what), tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise _missing(kind, what, path)
        return doc, parent.pop(key)
    if not parent:
        raise _missing(kind, what, path)
    return doc, parent.pop(_index(key, len(parent) - 1))
