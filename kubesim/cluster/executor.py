"""The fault executor: fires a cluster spec's faults on a running cluster, at their times
or on their events, undoes them when they say so, and keeps the timeline the report reads.

Times are relative to `t0`, when the cluster became ready. Events: `faultStarted` /
`faultEnded` of another fault, and `leaderChanged` of a component (the monitor reports
those). Each fault fires once, on the first occurrence of its trigger. What a fault does
is carried out through the runtime: machine crash and restart, actor stop/crash/restart,
network partitions and disk slowdown (`FaultRuntime`); who leads is asked of the cluster
when the fault fires.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubesim.cluster.build import Placed, etcd_leader
from kubesim.cluster.faults import Fault
from kubesim.runtime.base import Runtime

# etcd metric families sampled when a fault starts and ends (the report shows their change)
FAULT_METRICS = ("etcd_server_leader_changes_seen", "etcd_disk_wal_fsync_duration_seconds",
                 "etcd_server_proposals_failed")
# fault types each runtime can carry out (the others need its network/disk model)
SUPPORTED = {
    "sim": frozenset({"crashMachine", "restartMachine", "partition", "slowDisk", "killLeader"}),
    "ray": frozenset({"crashMachine", "restartMachine", "killLeader"}),
}


class FaultRuntime(Protocol):
    """The runtime operations faults use (the sim runtime has them all)."""

    def crash_machine(self, name: str) -> Any: ...
    def restart_machine(self, name: str) -> Any: ...
    def partition(self, side_a: list[str], side_b: list[str] | None = None) -> Any: ...
    def heal(self, partition_id: int | None = None) -> Any: ...
    def slow_disk(self, machine: str, factor: float) -> Any: ...


@dataclass
class FaultRecord:
    """One fault as it happened: when, and on what."""

    name: str
    type: str
    started: float
    targets: list[str]
    ended: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    metrics_at_start: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    metrics_at_end: list[tuple[str, dict[str, str], float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "started": self.started, "ended": self.ended,
                "targets": self.targets, **self.detail}


async def _maybe(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


class FaultExecutor:
    def __init__(self, runtime: Runtime, faults: list[Fault], placed: Placed, t0: float,
                 runtime_type: str = "sim") -> None:
        unsupported = sorted({f.type for f in faults} - SUPPORTED[runtime_type])
        if unsupported:
            raise ValueError(f"fault types {', '.join(unsupported)} are not supported on the {runtime_type} runtime")
        self.runtime = runtime
        self.ops: FaultRuntime = runtime  # type: ignore[assignment]
        self.faults = faults
        self.placed = placed
        self.t0 = t0
        self.records: dict[str, FaultRecord] = {}
        self.events: list[tuple[float, str, str]] = []  # (time, event, fault or component)
        self._fired: set[str] = set()
        self._tasks: list[asyncio.Task[Any]] = []

    def now(self) -> float:
        return self.runtime.now() - self.t0

    def start(self) -> None:
        """Schedule the timed faults (call from the driver coroutine, on the runtime's loop)."""
        for fault in self.faults:
            if fault.at is not None:
                self._after(fault.at - self.now(), fault)

    def _after(self, delay: float, fault: Fault) -> None:
        async def fire() -> None:
            if delay > 0:
                await self.runtime.sleep(delay)
            await self._fire(fault)

        self._tasks.append(asyncio.ensure_future(fire()))

    def _later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await self.runtime.sleep(delay)
            await action()

        self._tasks.append(asyncio.ensure_future(run()))

    def event(self, event: str, subject: str) -> None:
        """An event happened: fire the faults waiting on it."""
        self.events.append((self.now(), event, subject))
        for fault in self.faults:
            on = fault.on
            if on is None or fault.name in self._fired or on.event != event:
                continue
            if (on.fault if event != "leaderChanged" else on.component) == subject:
                self._fired.add(fault.name)
                self._after(on.delay, fault)

    async def stop(self) -> None:
        """Cancel what has not happened yet (the run is over)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def pending(self) -> bool:
        return any(not t.done() for t in self._tasks)

    # firing -------------------------------------------------------------------
    async def _fire(self, fault: Fault) -> None:
        self._fired.add(fault.name)
        handler = getattr(self, f"_do_{fault.type}")
        await handler(fault)

    async def _started(self, fault: Fault, targets: list[str], **detail: Any) -> FaultRecord:
        record = FaultRecord(fault.name, fault.type, self.now(), targets, detail=detail)
        self.records[fault.name] = record
        self.event("faultStarted", fault.name)
        record.metrics_at_start = await self.runtime.metric_samples(FAULT_METRICS)
        return record

    async def _ended(self, record: FaultRecord) -> None:
        record.ended = self.now()
        self.event("faultEnded", record.name)
        record.metrics_at_end = await self.runtime.metric_samples(FAULT_METRICS)

    async def sample_open_faults(self) -> None:
        """At the end of the run: the metrics of faults still in force."""
        for record in self.records.values():
            if record.metrics_at_end is None:
                record.metrics_at_end = await self.runtime.metric_samples(FAULT_METRICS)

    async def _machines(self, fault: Any) -> tuple[list[str], str | None]:
        """The machines a machine fault names (etcdMachines: the leader's first), and the
        etcd leader when it was asked."""
        if fault.machines is not None:
            return list(fault.machines), None
        leader = await etcd_leader(self.runtime, self.placed)
        order = ([leader] if leader else []) + [m for m in self.placed.etcd if m != leader]
        return [self.placed.machine_of[m] for m in order[: fault.etcd_machines]], leader

    async def _do_crashMachine(self, fault: Any) -> None:  # noqa: N802 - named after the fault type
        machines, leader = await self._machines(fault)
        for machine in machines:
            await _maybe(self.ops.crash_machine(machine))
        record = await self._started(fault, machines, **({"etcd_leader": leader} if leader else {}))
        if fault.restart_after is not None:
            async def restart() -> None:
                for machine in machines:
                    await _maybe(self.ops.restart_machine(machine))
                await self._ended(record)

            self._later(fault.restart_after, restart)

    async def _do_restartMachine(self, fault: Any) -> None:  # noqa: N802
        machines, leader = await self._machines(fault)
        actors = [a for m in machines for a in self.runtime.actors_on(m)]
        for actor in actors:
            await self.runtime.stop_actor(actor)
        record = await self._started(fault, machines, **({"etcd_leader": leader} if leader else {}))

        async def boot() -> None:
            for actor in actors:
                await self.runtime.restart_actor(actor)
            await self._ended(record)

        self._later(fault.down_for, boot)

    async def _do_partition(self, fault: Any) -> None:
        if fault.zones is not None:
            zones = set(fault.zones)
            machines = sorted(m.name for m in self.runtime.machines.values() if m.zone in zones)
            targets = list(fault.zones)
        else:
            machines, _ = await self._machines(fault)
            targets = machines
        others = sorted(name for name, m in self.runtime.machines.items()
                        if name not in machines and m.role != "driver")
        partition_id = await _maybe(self.ops.partition(machines, others))
        record = await self._started(fault, targets, machines=machines)
        if fault.heal_after is not None:
            async def heal() -> None:
                await _maybe(self.ops.heal(partition_id))
                await self._ended(record)

            self._later(fault.heal_after, heal)

    async def _do_slowDisk(self, fault: Any) -> None:  # noqa: N802
        machines, _ = await self._machines(fault)
        for machine in machines:
            await _maybe(self.ops.slow_disk(machine, fault.fsync_factor))
        record = await self._started(fault, machines, fsync_factor=fault.fsync_factor)
        if fault.duration is not None:
            async def restore() -> None:
                for machine in machines:
                    await _maybe(self.ops.slow_disk(machine, 1.0))
                await self._ended(record)

            self._later(fault.duration, restore)

    async def _do_killLeader(self, fault: Any) -> None:  # noqa: N802
        if fault.component != "etcd":
            raise ValueError(f"killLeader of {fault.component} needs the component placed (not built yet)")
        leader = await etcd_leader(self.runtime, self.placed)
        if leader is None:
            await self._started(fault, [], skipped="no etcd leader when the fault fired")
            return
        await self.runtime.crash_actor(leader)
        record = await self._started(fault, [leader], machine=self.placed.machine_of[leader])
        if fault.restart_after is not None:
            async def restart() -> None:
                await self.runtime.restart_actor(leader)
                await self._ended(record)

            self._later(fault.restart_after, restart)
