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

from kubesim.cluster import names
from kubesim.cluster.addons import api
from kubesim.cluster.build import Placed, component_leader, etcd_leader
from kubesim.cluster.faults import Fault
from kubesim.cluster.topology import Plan
from kubesim.runtime.base import Runtime
from kubesim.runtime.seeding import stream

# metric families sampled when a fault starts and ends (the report shows their change)
FAULT_METRICS = ("etcd_server_leader_changes_seen", "etcd_disk_wal_fsync_duration_seconds",
                 "etcd_server_proposals_failed", "leader_election_master_status",
                 "node_collector_unhealthy_nodes_in_zone")
# how long the pod list of the report waits for one apiserver (kubectl's default is none;
# the probe's timeout, so a replica a fault froze cannot hold a fault's figures up)
LIST_TIMEOUT = 10.0
# fault types each runtime can carry out (the others need its network/disk model)
SUPPORTED = {
    "sim": frozenset({"crashMachine", "restartMachine", "partition", "slowDisk", "killLeader", "stopKubelets"}),
    "ray": frozenset({"crashMachine", "restartMachine", "killLeader", "stopKubelets"}),
}


def unsupported(spec: Any) -> tuple[str, str] | None:
    """(field path, why) of the first fault the spec's runtime cannot carry out."""
    runtime = spec.runtime.type
    for i, fault in enumerate(spec.faults):
        if fault.type not in SUPPORTED[runtime]:
            return (f"faults[{i}].type", f"{fault.type} needs the sim runtime's network and disk model "
                    f"(on {runtime}: {', '.join(sorted(SUPPORTED[runtime]))})")
    return None


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
    def __init__(self, runtime: Runtime, faults: list[Fault], placed: Placed, plan: Plan, t0: float,
                 runtime_type: str = "sim") -> None:
        unsupported = sorted({f.type for f in faults} - SUPPORTED[runtime_type])
        if unsupported:
            raise ValueError(f"fault types {', '.join(unsupported)} are not supported on the {runtime_type} runtime")
        self.runtime = runtime
        self.ops: FaultRuntime = runtime  # type: ignore[assignment]
        self.faults = faults
        self.placed = placed
        self.plan = plan
        self.t0 = t0
        self._node_names = {n.name for n in plan.nodes}
        self._workload_names: set[str] = set()
        self._workload_namespaces: set[str] = set()
        self._pods_at_start: dict[str, list[tuple[str, str, str, str, bool]]] = {}
        self.records: dict[str, FaultRecord] = {}
        self.events: list[tuple[float, str, str]] = []  # (time, event, fault or component)
        self._fired: set[str] = set()
        self._tasks: list[asyncio.Task[Any]] = []

    def watch_workloads(self, names_: list[str], namespaces: list[str]) -> None:
        """Count the pods of these Deployments (label app=<name>) on the nodes faults hit."""
        self._workload_names = set(names_)
        self._workload_namespaces = set(namespaces)

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

    def _later(self, record: FaultRecord, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` `delay` seconds after the fault started."""
        async def run() -> None:
            await self.runtime.sleep(max(0.0, self.t0 + record.started + delay - self.runtime.now()))
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

    # firing -------------------------------------------------------------------
    async def _fire(self, fault: Fault) -> None:
        self._fired.add(fault.name)
        handler = getattr(self, f"_do_{fault.type}")
        await handler(fault)

    async def _pods_before(self, *targets: list[str]) -> list[tuple[str, str, str, str, bool]] | None:
        """The workloads' pods, read before a fault that hits nodes acts (afterwards the
        apiserver asked first may be one the fault took down); None if it hits none."""
        if not self._nodes_in(*targets):
            return None
        return await self._workload_pods()

    async def _started(self, fault: Fault, targets: list[str],
                       pods: list[tuple[str, str, str, str, bool]] | None = None, **detail: Any) -> FaultRecord:
        record = FaultRecord(fault.name, fault.type, self.now(), targets, detail=detail)
        self.records[fault.name] = record
        self.event("faultStarted", fault.name)
        if pods is not None:
            self._pods_at_start[record.name] = pods
        record.metrics_at_start = await self.runtime.metric_samples(FAULT_METRICS)
        return record

    async def _ended(self, record: FaultRecord) -> None:
        record.ended = self.now()
        self.event("faultEnded", record.name)
        await self._close(record)

    async def _close(self, record: FaultRecord) -> None:
        record.metrics_at_end = await self.runtime.metric_samples(FAULT_METRICS)
        at_start = self._pods_at_start.get(record.name)
        if at_start is None:
            return
        nodes = self._nodes_hit(record)
        before = [p for p in at_start if p[2] in nodes]
        now = {uid: (name, node, phase, deleting) for uid, name, node, phase, deleting in await self._workload_pods()}
        lost = [uid for uid, *_ in before if uid not in now or now[uid][3]]
        started = {uid for uid, *_ in at_start}
        replaced = [v for uid, v in now.items() if uid not in started and v[1] and v[1] not in nodes
                    and v[2] == "Running" and not v[3]]
        record.detail["pods"] = {"on_nodes_hit": len(before), "lost": len(lost),
                                 "rescheduled_running": len(replaced)}

    async def sample_open_faults(self) -> None:
        """At the end of the run: the figures of faults still in force."""
        for record in self.records.values():
            if record.metrics_at_end is None:
                await self._close(record)

    def _nodes_hit(self, record: FaultRecord) -> set[str]:
        """The nodes a fault's targets name."""
        return self._nodes_in(record.targets, record.detail.get("machines", []))

    def _nodes_in(self, *targets: list[str]) -> set[str]:
        """The nodes among target names (a machine that is a node is that node)."""
        return {t for group in targets for t in group if t in self._node_names}

    async def _workload_pods(self) -> list[tuple[str, str, str, str, bool]]:
        """(uid, name, node, phase, being deleted) of the spec's workloads' pods."""
        reply = await self._first_list()
        if reply is None:
            return []
        return [(p["metadata"]["uid"], p["metadata"]["name"], p["spec"].get("nodeName") or "",
                 (p.get("status") or {}).get("phase") or "", bool(p["metadata"].get("deletionTimestamp")))
                for p in reply["body"]["items"]
                if p["metadata"].get("namespace") in self._workload_namespaces
                and (p["metadata"].get("labels") or {}).get("app") in self._workload_names]

    async def _first_list(self) -> dict[str, Any] | None:
        """GET /api/v1/pods?resourceVersion=0 (from the watch caches) of every apiserver at
        once; the first 200. A replica a fault took down must not hold the report up."""
        tasks = [asyncio.ensure_future(api(self.runtime, [replica], self.placed.token, "GET", "/api/v1/pods",
                                           query={"resourceVersion": "0"}, timeout=LIST_TIMEOUT))
                 for replica in self.placed.apiservers]
        try:
            for done in asyncio.as_completed(tasks):
                try:
                    reply = await done
                except RuntimeError:  # that replica did not answer
                    continue
                if reply["code"] == 200:
                    return reply
            return None
        finally:
            for task in tasks:
                task.cancel()

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
        pods = await self._pods_before(machines)
        for machine in machines:
            await _maybe(self.ops.crash_machine(machine))
        record = await self._started(fault, machines, pods, **({"etcd_leader": leader} if leader else {}))
        if fault.restart_after is not None:
            async def restart() -> None:
                for machine in machines:
                    await _maybe(self.ops.restart_machine(machine))
                await self._ended(record)

            self._later(record, fault.restart_after, restart)

    async def _do_restartMachine(self, fault: Any) -> None:  # noqa: N802
        machines, leader = await self._machines(fault)
        actors = [a for m in machines for a in self.runtime.actors_on(m)]
        pods = await self._pods_before(machines)
        for actor in actors:
            await self.runtime.stop_actor(actor)
        record = await self._started(fault, machines, pods, **({"etcd_leader": leader} if leader else {}))

        async def boot() -> None:
            for actor in actors:
                await self.runtime.restart_actor(actor)
            await self._ended(record)

        self._later(record, fault.down_for, boot)

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
        pods = await self._pods_before(targets, machines)
        partition_id = await _maybe(self.ops.partition(machines, others))
        record = await self._started(fault, targets, pods, machines=machines)
        if fault.heal_after is not None:
            async def heal() -> None:
                await _maybe(self.ops.heal(partition_id))
                await self._ended(record)

            self._later(record, fault.heal_after, heal)

    async def _do_slowDisk(self, fault: Any) -> None:  # noqa: N802
        machines, _ = await self._machines(fault)
        pods = await self._pods_before(machines)
        for machine in machines:
            await _maybe(self.ops.slow_disk(machine, fault.fsync_factor))
        record = await self._started(fault, machines, pods, fsync_factor=fault.fsync_factor)
        if fault.duration is not None:
            async def restore() -> None:
                for machine in machines:
                    await _maybe(self.ops.slow_disk(machine, 1.0))
                await self._ended(record)

            self._later(record, fault.duration, restore)

    async def _do_killLeader(self, fault: Any) -> None:  # noqa: N802
        leader = await component_leader(self.runtime, self.placed, fault.component)
        if leader is None:
            await self._started(fault, [], skipped=f"no {fault.component} leader when the fault fired")
            return
        await self.runtime.crash_actor(leader)
        record = await self._started(fault, [leader], component=fault.component,
                                     machine=self.placed.machine_of[leader])
        if fault.restart_after is not None:
            async def restart() -> None:
                await self.runtime.restart_actor(leader)
                await self._ended(record)

            self._later(record, fault.restart_after, restart)

    def kubelet_targets(self, fault: Any) -> list[str]:
        """The worker nodes a stopKubelets fault stops: `share` of those its pools and zones
        select (at least one), chosen with the run's seed and the fault's name."""
        nodes = [n.name for n in self.plan.nodes if n.pool != names.CONTROL_PLANE_POOL
                 and (fault.pools is None or n.pool in fault.pools)
                 and (fault.zones is None or n.zone in fault.zones)]
        count = min(len(nodes), max(1, round(fault.share * len(nodes))))
        rng = stream(self.runtime.seed, f"fault/{fault.name}")
        return sorted(rng.sample(nodes, count))

    async def _do_stopKubelets(self, fault: Any) -> None:  # noqa: N802
        nodes = self.kubelet_targets(fault)
        pods = await self._pods_before(nodes)
        await asyncio.gather(*(self.runtime.ask(f"{names.KUBELET}/{n}", {"op": "stop_kubelet"}) for n in nodes))
        record = await self._started(fault, nodes, pods)
        if fault.restart_after is not None:
            async def start() -> None:
                await asyncio.gather(*(self.runtime.ask(f"{names.KUBELET}/{n}", {"op": "start_kubelet"})
                                       for n in nodes))
                await self._ended(record)

            self._later(record, fault.restart_after, start)
