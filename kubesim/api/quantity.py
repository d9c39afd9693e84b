"""resource.Quantity: parsing, canonical formatting, comparison and arithmetic.

Follows apimachinery's ``api/resource`` package:

* ``<signedNumber><suffix>`` where the suffix is binary (``Ki`` .. ``Ei``), decimal SI
  (``n u m "" k M G T P E``) or a decimal exponent (``e3``, ``E-2``);
* values are rounded up (away from zero) to nano precision; binary values are capped at
  2^63-1; a binary value below 1 becomes decimal;
* :meth:`Quantity.__str__` is the canonical form: an integer mantissa and an exponent that
  is a multiple of 3 (``"0.5"`` -> ``"500m"``, ``"1.5Gi"`` -> ``"1536Mi"``, ``"1000"`` -> ``"1k"``),
  except that a string already canonical when parsed is kept as written, as Go caches it.

Values are held exactly as an integer count of nano-units, so nothing here loses precision.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

ERR_FORMAT_WRONG = ("quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

NANO = 10**9
_MAX_INT64 = 2**63 - 1
_MAX_ALLOWED_NANOS = _MAX_INT64 * NANO
# Exponents beyond this would make the exact value absurdly large (Go would spin on them).
_MAX_EXPONENT = 1000

_DEC_SUFFIX_TO_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                      "P": 15, "E": 18}
_DEC_EXP_TO_SUFFIX = {e: s for s, e in _DEC_SUFFIX_TO_EXP.items()}
_BIN_SUFFIX_TO_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_EXP_TO_SUFFIX = {0: "", **{e: s for s, e in _BIN_SUFFIX_TO_EXP.items()}}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")


class QuantityError(ValueError):
    """A string that is not a quantity; the message is apimachinery's error text."""


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """A quantity: exact value in nano-units plus the format it prints in."""

    nanos: int
    format: str = DECIMAL_SI
    cached: str | None = field(default=None, compare=False)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """``resource.ParseQuantity``; raises :class:`QuantityError`."""
        return parse(text)

    @classmethod
    def from_int(cls, value: int, fmt: str = DECIMAL_SI) -> Quantity:
        """``resource.NewQuantity``."""
        return cls(value * NANO, fmt)

    @classmethod
    def from_milli(cls, milli: int, fmt: str = DECIMAL_SI) -> Quantity:
        """``resource.NewMilliQuantity``."""
        return cls(milli * 10**6, fmt)

    # -- values ---------------------------------------------------------------------------

    def scaled_value(self, scale: int) -> int:
        """``ScaledValue``: the value in units of 10**scale, rounded up away from zero."""
        return _div_away(self.nanos, 10 ** (scale + 9)) if scale >= -9 else self.nanos * 10 ** (-9 - scale)

    def value(self) -> int:
        """``Value()``: whole units, rounded up."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """``MilliValue()``: thousandths, rounded up."""
        return self.scaled_value(-3)

    def as_fraction(self) -> Fraction:
        return Fraction(self.nanos, NANO)

    def is_zero(self) -> bool:
        return self.nanos == 0

    def sign(self) -> int:
        return (self.nanos > 0) - (self.nanos < 0)

    def round_up(self, scale: int) -> Quantity:
        """``RoundUp(scale)``: round away from zero to a multiple of 10**scale (scale >= -9)."""
        unit = 10 ** (scale + 9)
        nanos = _div_away(self.nanos, unit) * unit
        return Quantity(nanos, self.format, self.cached if nanos == self.nanos else None)

    # -- arithmetic -----------------------------------------------------------------------

    def __add__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.nanos == 0 else self.format
        return Quantity(self.nanos + other.nanos, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        fmt = other.format if self.nanos == 0 else self.format
        return Quantity(self.nanos - other.nanos, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.nanos, self.format)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.nanos == other.nanos

    def __lt__(self, other: Quantity) -> bool:
        return self.nanos < other.nanos

    def __hash__(self) -> int:
        return hash(self.nanos)

    def cmp(self, other: Quantity) -> int:
        """``Cmp``: -1, 0 or 1."""
        return (self.nanos > other.nanos) - (self.nanos < other.nanos)

    # -- formatting -----------------------------------------------------------------------

    def __str__(self) -> str:
        if self.cached is not None:
            return self.cached
        return canonical_string(self.nanos, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _div_away(n: int, d: int) -> int:
    """n / d rounded away from zero (inf.RoundUp)."""
    q = -(-abs(n) // d)
    return q if n >= 0 else -q


def canonical_string(nanos: int, fmt: str) -> str:
    """``CanonicalizeBytes``: the canonical text of a value in the given format."""
    if nanos == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 * NANO < nanos < 1024 * NANO or nanos % NANO:
            fmt = DECIMAL_SI
        else:
            mantissa, times = nanos // NANO, 0
            while times < 6 and mantissa % 1024 == 0:
                mantissa //= 1024
                times += 1
            return f"{mantissa}{_BIN_EXP_TO_SUFFIX[times * 10]}"
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    if exponent > 18:
        mantissa *= 10 ** (exponent - 18)
        exponent = 18
    return f"{mantissa}{_DEC_EXP_TO_SUFFIX[exponent]}"


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(text)
    if text[0] in "+-":
        positive = text[0] != "-"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix; raises on an unknown one."""
    if suffix in _DEC_SUFFIX_TO_EXP:
        return 10, _DEC_SUFFIX_TO_EXP[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIX_TO_EXP:
        return 2, _BIN_SUFFIX_TO_EXP[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and set(body) <= _DIGITS:
            return 10, int(digits), DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def parse(text: str) -> Quantity:
    """``resource.ParseQuantity``: raises :class:`QuantityError` with apimachinery's message."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, DECIMAL_SI, "0")
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    if abs(exponent) > _MAX_EXPONENT:
        raise QuantityError(ERR_NUMERIC)

    # Go's int64 fast path: exact, and keeps the input string when it is already canonical.
    precision, scale, multiplier = -1, 0, 1
    if fmt == BINARY_SI:
        if not denom:
            multiplier = 1 << exponent
            precision = 15 - len(num) - int(exponent * 3 / 10) - 1
    else:
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    if precision >= 0:
        scale -= len(denom)
        shifted = num + denom
        amount = int(shifted) * multiplier
        if scale >= -9 and amount <= _MAX_INT64:
            nanos = amount * 10 ** (scale + 9) if positive else -amount * 10 ** (scale + 9)
            if fmt == BINARY_SI:
                keep = exponent % 10 == 0 and int(shifted) & 0x07 != 0
            else:
                keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
            return Quantity(nanos, fmt, text if keep else None)

    digits = value.lstrip("+-")
    whole, _, frac = digits.partition(".")
    exact = Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))
    exact *= Fraction(10) ** exponent if base == 10 else 2**exponent
    nanos = math.ceil(exact * NANO)
    if fmt == BINARY_SI:
        nanos = min(nanos, _MAX_ALLOWED_NANOS)
        if 0 < nanos < NANO:
            fmt = DECIMAL_SI
    return Quantity(nanos if positive else -nanos, fmt)


def parse_json(value: object) -> Quantity:
    """Decode a quantity as ``Quantity.UnmarshalJSON`` does: a string or a bare JSON number."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(ERR_FORMAT_WRONG)
    text = value if isinstance(value, str) else repr(value)
    return parse(text.strip())


def canonical(value: object) -> str:
    """The string the apiserver serves back for a quantity it was sent."""
    return str(parse_json(value))
