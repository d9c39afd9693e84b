"""JSON as Go's `encoding/json` reads and writes it, for byte-exact etcd gateway errors.

etcd 3.4's gateway decodes each request body with a `json.Decoder` (one value, trailing
bytes ignored, empty body = empty request) and reports syntax errors with Go's scanner
messages ("invalid character '}' looking for beginning of object key string",
"unexpected EOF"); int64 fields given as strings are re-parsed with `json.Unmarshal`
("unexpected end of JSON input", "... after top-level value"). `decode_next` and
`unmarshal` reproduce the two modes and keep each value's raw bytes, which jsonpb's
rules need. `dumps_string`
encodes a string as Go does (HTML characters escaped, Go 1.19 control escapes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_WS = re.compile(rb"[ \t\r\n]*")
_PLAIN = re.compile(rb'[^"\\\x00-\x1f]*')
_DIGITS = re.compile(rb"[0-9]*")
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = {
    b'"': '"',
    b"\\": "\\",
    b"/": "/",
    b"b": "\b",
    b"f": "\f",
    b"n": "\n",
    b"r": "\r",
    b"t": "\t",
}
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}


class GoJSONError(ValueError):
    """A syntax error, with Go's message."""


class NeedMore(Exception):
    """The input ended inside a value (Go: unexpected EOF / end of JSON input)."""


@dataclass(slots=True)
class Node:
    """A parsed value: kind is object|array|string|number|true|false|null; value is a
    dict (duplicate keys: last wins), a list, the decoded str, or the number's text."""

    kind: str
    value: Any
    raw: bytes


def quote_char(c: int) -> str:
    """Go's scanner `quoteChar`."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(c))[1:-1] + "'"


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(s: str) -> str:
    """strconv.Quote: Go escapes for quotes, backslash and unprintable characters."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o >= 0x80 and not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class _Parser:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def _ws(self) -> None:
        self.pos = _WS.match(self.data, self.pos).end()  # type: ignore[union-attr]

    def _peek(self) -> int:
        if self.pos >= len(self.data):
            raise NeedMore
        return self.data[self.pos]

    def _fail(self, context: str) -> GoJSONError:
        return GoJSONError(f"invalid character {quote_char(self._peek())} {context}")

    def value(self) -> Node:
        self._ws()
        start = self.pos
        c = self._peek()
        if c == ord("{"):
            kind, value = "object", self._object()
        elif c == ord("["):
            kind, value = "array", self._array()
        elif c == ord('"'):
            kind, value = "string", self._string()
        elif c == ord("-") or ord("0") <= c <= ord("9"):
            kind, value = "number", self._number()
        elif c in _LITERALS:
            self._literal(_LITERALS[c])
            kind, value = _LITERALS[c].decode(), None
        else:
            raise self._fail("looking for beginning of value")
        return Node(kind, value, self.data[start : self.pos])

    def _object(self) -> dict[str, Node]:
        self.pos += 1
        out: dict[str, Node] = {}
        self._ws()
        if self._peek() == ord("}"):
            self.pos += 1
            return out
        while True:
            self._ws()
            if self._peek() != ord('"'):
                raise self._fail("looking for beginning of object key string")
            key = self._string()
            self._ws()
            if self._peek() != ord(":"):
                raise self._fail("after object key")
            self.pos += 1
            out[key] = self.value()
            self._ws()
            c = self._peek()
            self.pos += 1
            if c == ord("}"):
                return out
            if c != ord(","):
                self.pos -= 1
                raise self._fail("after object key:value pair")

    def _array(self) -> list[Node]:
        self.pos += 1
        out: list[Node] = []
        self._ws()
        if self._peek() == ord("]"):
            self.pos += 1
            return out
        while True:
            out.append(self.value())
            self._ws()
            c = self._peek()
            self.pos += 1
            if c == ord("]"):
                return out
            if c != ord(","):
                self.pos -= 1
                raise self._fail("after array element")

    def _string(self) -> str:
        self.pos += 1
        parts: list[str] = []
        while True:
            end = _PLAIN.match(self.data, self.pos).end()  # type: ignore[union-attr]
            parts.append(self.data[self.pos : end].decode("utf-8", errors="replace"))
            self.pos = end
            c = self._peek()
            if c == ord('"'):
                self.pos += 1
                return "".join(parts)
            if c < 0x20:
                raise self._fail("in string literal")
            self.pos += 1
            esc = bytes([self._peek()])
            self.pos += 1
            if esc in _ESCAPES:
                parts.append(_ESCAPES[esc])
            elif esc == b"u":
                parts.append(self._unicode_escape())
            else:
                self.pos -= 1
                raise self._fail("in string escape code")

    def _hex4(self) -> int:
        for _ in range(4):
            if self._peek() not in _HEX:
                raise self._fail("in \\u hexadecimal character escape")
            self.pos += 1
        return int(self.data[self.pos - 4 : self.pos], 16)

    def _unicode_escape(self) -> str:
        """After `\\u`: one code point; a valid surrogate pair is joined, any other
        surrogate becomes U+FFFD (Go's unquote)."""
        unit = self._hex4()
        if not 0xD800 <= unit < 0xE000:
            return chr(unit)
        low = self.data[self.pos + 2 : self.pos + 6]
        if (
            unit < 0xDC00
            and self.data[self.pos : self.pos + 2] == b"\\u"
            and re.fullmatch(rb"[dD][c-fC-F][0-9a-fA-F]{2}", low)
        ):
            self.pos += 6
            return chr(0x10000 + ((unit - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        return "\ufffd"

    def _number(self) -> str:
        start = self.pos
        if self._peek() == ord("-"):
            self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._fail("in numeric literal")
        if self.data[self.pos] == ord("0"):
            self.pos += 1
        else:
            self.pos = _DIGITS.match(self.data, self.pos).end()  # type: ignore[union-attr]
        if self.pos < len(self.data) and self.data[self.pos] == ord("."):
            self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._fail("after decimal point in numeric literal")
            self.pos = _DIGITS.match(self.data, self.pos).end()  # type: ignore[union-attr]
        if self.pos < len(self.data) and self.data[self.pos] in b"eE":
            self.pos += 1
            if self._peek() in b"+-":
                self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._fail("in exponent of numeric literal")
            self.pos = _DIGITS.match(self.data, self.pos).end()  # type: ignore[union-attr]
        return self.data[start : self.pos].decode()

    def _literal(self, word: bytes) -> None:
        for expected in word:
            if self._peek() != expected:
                raise self._fail(f"in literal {word.decode()} (expecting {quote_char(expected)})")
            self.pos += 1


def decode_next(data: bytes, pos: int, *, final: bool) -> tuple[Node, int] | None:
    """json.Decoder.Decode: the value starting at `pos` and the offset after it, or None
    if only whitespace is left. Raises NeedMore if the value is incomplete and more
    input may come (`final` false), GoJSONError("unexpected EOF") if not."""
    parser = _Parser(data, pos)
    parser._ws()
    if parser.pos >= len(data):
        if final:
            return None
        raise NeedMore
    try:
        node = parser.value()
        if node.kind == "number" and parser.pos >= len(data) and not final:
            raise NeedMore  # a number might continue in the next chunk
    except NeedMore:
        if final:
            raise GoJSONError("unexpected EOF") from None
        raise
    return node, parser.pos


def unmarshal(data: bytes) -> Node:
    """json.Unmarshal's parse: exactly one value, only whitespace around it."""
    parser = _Parser(data, 0)
    try:
        node = parser.value()
        parser._ws()
    except NeedMore:
        raise GoJSONError("unexpected end of JSON input") from None
    if parser.pos < len(data):
        raise parser._fail("after top-level value")
    return node


_GO_ESCAPE = re.compile('[\\x00-\\x1f"\\\\<>&\u2028\u2029]')
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def dumps_string(s: str) -> str:
    """A JSON string as Go 1.19's encoder writes it."""
    return (
        '"'
        + _GO_ESCAPE.sub(lambda m: _SHORT.get(m.group(0)) or f"\\u{ord(m.group(0)):04x}", s)
        + '"'
    )
