"""A virtual clock the tests advance by hand."""

from __future__ import annotations

import pytest


class FakeClock:
    """Callable returning the current virtual time; `advance` moves it on."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
