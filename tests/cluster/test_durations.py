"""Go duration strings parse as time.ParseDuration does, and fail with its messages."""

import pytest

from kubesim.cluster.durations import DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("40s", 40.0),
        ("1m30s", 90.0),
        ("100ms", 0.1),
        ("1.5h", 5400.0),
        ("2us", 2e-6),
        ("2\u00b5s", 2e-6),
        ("300ns", 3e-7),
        ("0", 0.0),
        ("-10s", -10.0),
        ("+5m", 300.0),
        ("1.s", 1.0),
        (".5s", 0.5),
    ],
)
def test_valid(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10", 'time: missing unit in duration "10"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("abc", 'time: invalid duration "abc"'),
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        (".s", 'time: invalid duration ".s"'),
        ("1s2", 'time: missing unit in duration "1s2"'),
    ],
)
def test_invalid_with_go_messages(text, message):
    with pytest.raises(DurationError) as exc:
        parse_duration(text)
    assert str(exc.value) == message
