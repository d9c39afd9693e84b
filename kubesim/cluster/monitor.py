"""The driver's watch over a running cluster: who leads etcd, kube-scheduler and
kube-controller-manager, every half second.

For etcd it asks each member for its status and records the leader most of them name;
for the others, the replica that says it holds the Lease (None while there is none). A
leader other than the last one seen is a `leaderChanged` event for the fault executor.
The driver's asks do not cross the simulated network, so partitions do not blind it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubesim.cluster.build import ELECTED, Placed, component_leader
from kubesim.cluster.executor import FaultExecutor
from kubesim.runtime.base import Runtime


class Monitor:
    def __init__(self, runtime: Runtime, placed: Placed, executor: FaultExecutor, period: float = 0.5) -> None:
        self.runtime = runtime
        self.placed = placed
        self.executor = executor
        self.period = period
        self.components = ["etcd"] + [c for c, kind in ELECTED.items()
                                      if any(a.startswith(kind + "/") for a in placed.controllers)]
        self.leaders: dict[str, list[tuple[float, str | None]]] = {c: [] for c in self.components}
        self.current: dict[str, str | None] = {c: None for c in self.components}
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def observe(self) -> None:
        found = await asyncio.gather(*(component_leader(self.runtime, self.placed, c) for c in self.components))
        now = self.executor.now()
        for component, leader in zip(self.components, found, strict=True):
            self.leaders[component].append((now, leader))
            if leader is not None:
                changed = self.current[component] is not None and leader != self.current[component]
                self.current[component] = leader
                if changed:
                    self.executor.event("leaderChanged", component)

    async def _loop(self) -> None:
        while True:
            await self.observe()
            await self.runtime.sleep(self.period)

    def leader_at(self, component: str, t: float) -> str | None:
        """The last leader of `component` seen at or before `t`."""
        found = None
        for when, leader in self.leaders[component]:
            if when > t:
                break
            if leader is not None:
                found = leader
        return found

    def first_new_leader(self, component: str, start: float, before: str | None,
                         until: float) -> tuple[float, str] | None:
        """When (relative to `start`) a leader other than `before` was first seen in [start, until)."""
        for when, leader in self.leaders[component]:
            if start <= when < until and leader is not None and leader != before:
                return when - start, leader
        return None

    def leaderless_seconds(self, component: str) -> float:
        """Time the observations saw no leader (each observation stands for one period)."""
        return sum(self.period for _t, leader in self.leaders[component] if leader is None)
