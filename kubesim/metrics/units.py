"""Value formatting by Grafana unit id, for the static plots' axes and stat values."""

from __future__ import annotations

import math

_BYTES = ("B", "KiB", "MiB", "GiB", "TiB")


def _scaled(value: float, steps: tuple[tuple[float, str], ...]) -> str:
    for factor, suffix in steps:
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    factor, suffix = steps[-1]
    return f"{value / factor:.3g}{suffix}"


def format_value(value: float, unit: str, decimals: int | None = None) -> str:
    """`value` as Grafana shows it in `unit` (s, bytes, percent, percentunit, ops, reqps, x, short)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if decimals is not None and unit in ("short", "x", ""):
        return f"{value:.{decimals}f}"
    if unit == "s":
        if value == 0:
            return "0 s"
        return _scaled(value, ((3600.0, " h"), (60.0, " min"), (1.0, " s"), (1e-3, " ms"), (1e-6, " µs")))
    if unit == "bytes":
        index = 0
        while abs(value) >= 1024 and index < len(_BYTES) - 1:
            value /= 1024
            index += 1
        return f"{value:.3g} {_BYTES[index]}"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if unit == "percent":
        return f"{value:.3g}%"
    suffix = {"ops": " ops/s", "reqps": " req/s", "x": "x"}.get(unit, "")
    if value == 0:
        return f"0{suffix}"
    return _scaled(value, ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"))) + suffix
