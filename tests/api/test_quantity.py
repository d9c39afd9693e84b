"""resource.Quantity: parsing, canonical form, arithmetic; a hypothesis round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubesim.api import quantity
from kubesim.api.quantity import Quantity, QuantityError, parse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("100m", "100m"),
        ("128Mi", "128Mi"),
        ("1.5Gi", "1536Mi"),
        ("1e3", "1e3"),
        ("0.5", "500m"),
        ("1000", "1k"),
        ("1.5", "1500m"),
        ("0.1", "100m"),
        ("1Ki", "1Ki"),
        ("1024Ki", "1Mi"),
        ("0.5Ki", "512"),
        ("1.5Ki", "1536"),
        ("1e-10", "1e-9"),
        ("-1.5Gi", "-1536Mi"),
        ("12e6", "12e6"),
        ("1.0", "1"),
        ("2000m", "2"),
        ("1000000000000000000000", "1000E"),
        ("0", "0"),
        ("00", "0"),
        ("+1", "+1"),  # kept verbatim: Go caches an already canonical input string
        ("1.5n", "2n"),  # rounded up to nano precision
    ],
)
def test_canonical_form(text, canonical):
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", quantity.ERR_FORMAT_WRONG),
        ("abc", quantity.ERR_FORMAT_WRONG),
        ("1.2.3", quantity.ERR_FORMAT_WRONG),
        ("1 Gi", quantity.ERR_FORMAT_WRONG),
        ("1ki", quantity.ERR_SUFFIX),
        ("1e", quantity.ERR_SUFFIX),
        ("1Gb", quantity.ERR_FORMAT_WRONG),
        ("1Mk", quantity.ERR_SUFFIX),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(QuantityError) as err:
        parse(text)
    assert str(err.value) == message


def test_error_text_is_apimachinery():
    assert quantity.ERR_FORMAT_WRONG == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_values_and_comparison():
    assert parse("100m").milli_value() == 100
    assert parse("1.5").value() == 2  # rounds up
    assert parse("128Mi").value() == 128 * 2**20
    assert parse("1n").milli_value() == 1
    assert parse("1Gi") > parse("1G")
    assert parse("1000m") == parse("1")
    assert parse("1k").cmp(parse("999")) == 1
    assert parse("500m").sign() == 1 and parse("-1").sign() == -1


def test_arithmetic_keeps_format():
    assert str(parse("1Gi") + parse("512Mi")) == "1536Mi"
    assert str(parse("100m") + parse("900m")) == "1"
    assert str(parse("0") + parse("1Gi")) == "1Gi"  # a zero takes the other's format
    assert str(parse("1") - parse("1500m")) == "-500m"
    assert str(-parse("2Ki")) == "-2Ki"
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity.from_int(4096, quantity.BINARY_SI)) == "4Ki"


def test_round_up_and_json_numbers():
    assert str(parse("100u").round_up(-3)) == "1m"
    assert str(parse("100m").round_up(-3)) == "100m"
    assert quantity.canonical(2) == "2"
    assert quantity.canonical(0.5) == "500m"
    assert quantity.canonical(" 1Gi ") == "1Gi"
    with pytest.raises(QuantityError):
        quantity.parse_json(True)


def test_binary_cap():
    assert parse("16Ei").nanos == (2**63 - 1) * quantity.NANO


_suffix = st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "n", "u", "e3", "E-2"])
_number = st.from_regex(r"[+-]?[0-9]{1,12}(\.[0-9]{1,6})?", fullmatch=True)


@given(_number, _suffix)
def test_round_trip(number, suffix):
    q = parse(number + suffix)
    text = str(q)
    again = parse(text)
    assert again == q
    assert str(again) == text
    if q.cached is None:
        assert str(parse(quantity.canonical_string(q.nanos, q.format))) == text


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(
    [quantity.DECIMAL_SI, quantity.BINARY_SI, quantity.DECIMAL_EXPONENT]))
def test_canonical_string_parses_back_to_the_same_value(nanos, fmt):
    assert parse(quantity.canonical_string(nanos, fmt)).nanos == nanos
