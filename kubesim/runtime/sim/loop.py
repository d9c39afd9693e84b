"""An asyncio event loop on a virtual clock.

Time never passes by itself: when nothing is ready, the loop jumps straight to the
next timer. Everything asyncio offers (tasks, futures, `sleep`, `wait_for`, queues,
locks) works unchanged and runs as fast as the CPU allows. With one thread and a
deterministic callback order, the same inputs give the same run.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

from kubesim.runtime.errors import SimulationStalled


class _VirtualSelector(selectors.SelectSelector):
    """A selector that never waits: asked to block for `timeout`, it advances the clock."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._vloop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise SimulationStalled(
                "the simulation has nothing left to run (no timers, no ready callbacks) "
                "while the driver is still waiting"
            )
        deadline = self._vloop.deadline
        if deadline is not None and self._vloop.time() + timeout > deadline:
            raise TimeoutError(
                f"the run is still going at its limit of {deadline:g} simulated seconds"
            )
        if timeout > 0:
            self._vloop.advance(timeout)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """The `sim` runtime's loop: `time()` is virtual seconds since the run started."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        self.deadline: float | None = None  # time may not pass beyond this (None: no limit)
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds
