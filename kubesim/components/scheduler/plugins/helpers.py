"""Shared plugin helpers: score normalisation, Go integer division and rounding."""

from __future__ import annotations

import math


def go_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def default_normalize_score(max_priority: int, reverse: bool, scores: list[int]) -> None:
    """``helper.DefaultNormalizeScore``: scale to [0, max_priority], optionally reversed."""
    max_count = max(scores, default=0)
    if max_count <= 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    for i, s in enumerate(scores):
        s = go_div(max_priority * s, max_count)
        scores[i] = max_priority - s if reverse else s


def go_round(x: float) -> int:
    """Go's ``math.Round``: halves away from zero (Python's ``round`` goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))
