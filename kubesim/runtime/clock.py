"""Clocks: virtual time for the `sim` runtime, scaled wall time for the `ray` runtime."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Simulated seconds since the run started."""
        ...

    def to_loop(self, delay: float) -> float:
        """The event-loop delay that lets `delay` simulated seconds pass."""
        ...


class LoopClock:
    """Simulated time is the event loop's own time (the virtual clock of the sim loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.time()

    def to_loop(self, delay: float) -> float:
        return delay


class ScaledWallClock:
    """Wall time since `epoch` (a `time.time()` value shared by all processes), times `scale`.

    scale 2.0 runs the simulated cluster twice as fast as real time: every modelled delay
    is halved on the wall clock.
    """

    def __init__(self, epoch: float, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be > 0")
        self.epoch = epoch
        self.scale = scale

    def now(self) -> float:
        return (time.time() - self.epoch) * self.scale

    def to_loop(self, delay: float) -> float:
        return max(0.0, delay) / self.scale
