"""The driver's watch over a running cluster: who leads etcd, second by second.

Every `period` it asks each etcd member for its status and records the leader most of
them name (None while there is none); a leader other than the last one seen is a
`leaderChanged` event for the fault executor. The driver's asks do not cross the
simulated network, so partitions do not blind it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubesim.cluster.build import Placed, etcd_leader
from kubesim.cluster.executor import FaultExecutor
from kubesim.runtime.base import Runtime


class Monitor:
    def __init__(self, runtime: Runtime, placed: Placed, executor: FaultExecutor, period: float = 0.5) -> None:
        self.runtime = runtime
        self.placed = placed
        self.executor = executor
        self.period = period
        self.leaders: list[tuple[float, str | None]] = []
        self.current: str | None = None
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def observe(self) -> str | None:
        leader = await etcd_leader(self.runtime, self.placed)
        self.leaders.append((self.executor.now(), leader))
        if leader is not None:
            changed = self.current is not None and leader != self.current
            self.current = leader
            if changed:
                self.executor.event("leaderChanged", "etcd")
        return leader

    async def _loop(self) -> None:
        while True:
            await self.observe()
            await self.runtime.sleep(self.period)

    def leader_at(self, t: float) -> str | None:
        """The last leader seen at or before `t`."""
        found = None
        for when, leader in self.leaders:
            if when > t:
                break
            if leader is not None:
                found = leader
        return found

    def first_new_leader(self, start: float, before: str | None, until: float) -> tuple[float, str] | None:
        """When (relative to `start`) a leader other than `before` was first seen in [start, until)."""
        for when, leader in self.leaders:
            if start <= when < until and leader is not None and leader != before:
                return when - start, leader
        return None

    def leaderless_seconds(self) -> float:
        """Time the observations saw no leader (each observation stands for one period)."""
        return sum(self.period for _t, leader in self.leaders if leader is None)
