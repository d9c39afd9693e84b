"""Go duration strings (`40s`, `1m30s`, `100ms`) as Kubernetes flags and config files take them.

`parse_duration` follows Go's `time.ParseDuration` (src/time/format.go): an optional sign,
then one or more decimal numbers each with a unit (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`,
`h`); a bare `0` needs no unit. Its errors are worded as Go's. The value is in seconds.
"""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # U+00B5 micro sign
    "\u03bcs": 1e-6,  # U+03BC Greek small letter mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d*(?:\.\d*)?)([^\d.]*)")


class DurationError(ValueError):
    """Not a Go duration; the message is Go's."""


def parse_duration(text: str) -> float:
    """Seconds in `text`, a Go duration string; raises `DurationError` as Go would fail."""
    quoted = '"' + text + '"'
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        match = _PART.match(rest)
        assert match is not None  # the pattern also matches the empty string
        number, unit = match.group(1), match.group(2)
        if number in ("", "."):
            raise DurationError(f"time: invalid duration {quoted}")
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _UNITS[unit]
        rest = rest[match.end():]
    return sign * total

