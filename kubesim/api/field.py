"""Field paths and field errors, rendered exactly like apimachinery's ``util/validation/field``.

A :class:`Path` renders as ``spec.containers[0].name`` or ``metadata.labels[app]``; a
:class:`FieldError` renders as ``<path>: <Type>: <value>: <detail>``, for example::

    metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must ...

Bad values are printed the way Go prints them (``%q`` for strings, ``%v`` for numbers and
booleans, ``%#v`` for maps and slices of strings); a value that Go would print as a struct
can be passed as :class:`GoLiteral` holding the exact text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Reason types, as they appear in metav1.Status details.causes[].reason.
NOT_FOUND = "FieldValueNotFound"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"
TYPE_INVALID = "FieldValueTypeInvalid"

_TYPE_TEXT = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}
# Types whose rendering never shows the bad value.
_VALUE_HIDDEN = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}

_OMIT = object()


@dataclass(frozen=True)
class Path:
    """An immutable field path; build with :func:`new_path` and the child/index/key methods."""

    text: str

    def child(self, name: str, *more: str) -> Path:
        out = self.text
        for part in (name, *more):
            out = f"{out}.{part}" if out else part
        return Path(out)

    def index(self, i: int) -> Path:
        return Path(f"{self.text}[{i}]")

    def key(self, k: str) -> Path:
        return Path(f"{self.text}[{k}]")

    def __str__(self) -> str:
        return self.text


def new_path(name: str = "", *more: str) -> Path:
    """``field.NewPath(name, more...)``; the empty path renders as ``""``."""
    return Path("").child(name, *more) if name else Path("")


class GoLiteral(str):
    """A bad value printed verbatim (what Go's ``%#v`` would print for a struct)."""


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: double-quoted, with Go escapes for non-printable runes."""
    out = ['"']
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f",
               "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_value(value: Any) -> str:
    """Render a bad value as apimachinery's ``ErrorBody`` does."""
    if isinstance(value, GoLiteral):
        return str(value)
    if value is None:
        return go_quote("null")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        items = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{items}}}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: reason type, field path string, bad value and detail."""

    type: str
    field: str
    bad_value: Any = ""
    detail: str = ""

    def body(self) -> str:
        """``ErrorBody()``: the message without the field (the Status cause message)."""
        text = _TYPE_TEXT[self.type]
        if self.type not in _VALUE_HIDDEN and self.bad_value is not _OMIT:
            text = f"{text}: {go_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        """This error as a metav1.StatusCause dict."""
        return {"reason": self.type, "message": self.body(), "field": self.field}


ErrorList = list[FieldError]


def required(path: Path, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, str(path), "", detail)


def invalid(path: Path, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, str(path), value, detail)


def duplicate(path: Path, value: Any) -> FieldError:
    return FieldError(DUPLICATE, str(path), value)


def not_found(path: Path, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, str(path), value)


def forbidden(path: Path, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, str(path), "", detail)


def not_supported(path: Path, value: Any, valid: list[str]) -> FieldError:
    """``field.NotSupported``: detail lists the supported values, quoted, in the given order."""
    detail = "supported values: " + ", ".join(go_quote(v) for v in valid) if valid else ""
    return FieldError(NOT_SUPPORTED, str(path), value, detail)


def too_long(path: Path, max_bytes: int) -> FieldError:
    """``field.TooLong``; the value is never shown."""
    if max_bytes < 0:
        detail = "value is too long"
    else:
        detail = f"may not be more than {max_bytes} {'byte' if max_bytes == 1 else 'bytes'}"
    return FieldError(TOO_LONG, str(path), "", detail)


def too_many(path: Path, actual: int, maximum: int) -> FieldError:
    detail = f"must have at most {maximum} items" if maximum >= 0 else "has too many items"
    return FieldError(TOO_MANY, str(path), actual if actual >= 0 else _OMIT, detail)


def internal(path: Path, message: str) -> FieldError:
    return FieldError(INTERNAL, str(path), None, message)


def aggregate(errors: ErrorList) -> str:
    """The message of ``errs.ToAggregate()``: deduplicated, ``[a, b]`` when more than one."""
    seen: list[str] = []
    for err in errors:
        msg = str(err)
        if msg not in seen:
            seen.append(msg)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"
