"""Running a `kind: Cluster` spec: build it on its runtime, wait until it serves, probe it
while the faults run, and turn what happened into the report (`report.py`).

The driver coroutine: place the plan (`build.py`), bootstrap (an etcd leader, apiservers
ready), start the load prober, then for `duration` seconds run the fault executor and the
leader monitor, with a progress line of simulated time, probe results and faults. Every
figure of the report comes from this run: the prober's requests, the monitor's leader
observations, the executor's fault timeline and the members' own metrics.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kubesim.cluster import report as reports
from kubesim.cluster.bootstrap import Bootstrap
from kubesim.cluster.build import Placed, place
from kubesim.cluster.executor import FaultExecutor
from kubesim.cluster.monitor import Monitor
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.topology import Plan, plan
from kubesim.runtime.base import Runtime

LEADER_CHANGES = "etcd_server_leader_changes_seen"
TICK = 1.0  # simulated seconds between progress updates


def make_runtime(spec: ClusterSpec, run_dir: Path) -> Runtime:
    """The spec's runtime. On sim, an actor that raises is reported, not fatal: in a real
    cluster a component whose process dies is restarted and the cluster goes on."""
    from kubesim.runner import load_cost
    from kubesim.runner import make_runtime as runtime_for

    cost = load_cost(spec.cost_model)
    if spec.runtime.type == "sim":
        from kubesim.runtime.sim import SimRuntime

        return SimRuntime(spec.runtime.seed, cost, run_dir, call_timeout=spec.runtime.call_timeout, strict=False)
    return runtime_for(spec.runtime, cost, run_dir)


def run_cluster(spec: ClusterSpec, run_dir: Path, console: Console | None = None,
                runtime: Runtime | None = None) -> dict[str, Any]:
    """Run `spec` and return its report (the caller writes and prints it)."""
    state = run_dir / "state"
    if runtime is None and state.exists() and any(state.iterdir()):
        raise FileExistsError(f"{run_dir} holds the state of an earlier run: give another run directory")
    state.mkdir(parents=True, exist_ok=True)
    cluster = plan(spec)
    rt = runtime if runtime is not None else make_runtime(spec, state)
    wall_start = time.perf_counter()
    try:
        placed = place(rt, spec, cluster)
        result = rt.run(lambda r: _drive(r, spec, cluster, placed, console))
    finally:
        if runtime is None:
            rt.close()
    result["wall_seconds"] = time.perf_counter() - wall_start
    return reports.build(spec, cluster, result)


async def _drive(rt: Runtime, spec: ClusterSpec, cluster: Plan, placed: Placed,
                 console: Console | None) -> dict[str, Any]:
    boot_start, boot_wall = rt.now(), time.perf_counter()
    boot = await Bootstrap(rt, spec, placed, console).run()
    boot["wall_seconds"] = time.perf_counter() - boot_wall
    await rt.ask(placed.prober, ["start"], timeout=600.0)
    t0 = rt.now()
    executor = FaultExecutor(rt, spec.faults, placed, cluster, t0, spec.runtime.type)
    executor.watch_workloads([w.name for w in spec.workloads], [w.namespace for w in spec.workloads])
    monitor = Monitor(rt, placed, executor)
    before = await rt.metric_samples([LEADER_CHANGES])
    await monitor.observe()
    executor.start()
    monitor.start()
    duration = spec.run_duration()
    try:
        await _watch(rt, spec, placed, executor, monitor, duration, console)
        await executor.sample_open_faults()
    finally:
        await executor.stop()
        await monitor.stop()
    await rt.ask(placed.prober, ["stop"], timeout=spec.probe.timeout + 60.0)
    probe = await rt.ask(placed.prober, ["results"], timeout=60.0)
    after = await rt.metric_samples([LEADER_CHANGES])
    errors = await actor_errors(rt)
    return {
        "bootstrap_seconds": t0 - boot_start,
        "bootstrap": boot,
        "t0": t0,
        "duration": duration,
        "placed": placed,
        "probe": probe,
        "faults": [{**r.to_dict(), "metrics": reports.metric_changes(r.metrics_at_start, r.metrics_at_end or [])}
                   for r in executor.records.values()],
        "events": executor.events,
        "monitor": monitor,
        "leader_changes": _counter_deltas(before, after),
        "actor_errors": errors,
    }


async def _watch(rt: Runtime, spec: ClusterSpec, placed: Placed, executor: FaultExecutor, monitor: Monitor,
                 duration: float, console: Console | None) -> None:
    if console is None:
        await rt.sleep(duration)
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[state]}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{spec.name} ({spec.control_plane.topology})", total=duration, state="")
        ticks = max(1, round(duration / TICK))
        for tick in range(1, ticks + 1):
            # sleep to absolute tick times: float steps must not leave a remainder too
            # small for the clock to advance
            await rt.sleep(max(0.0, executor.t0 + min(tick * TICK, duration) - rt.now()))
            (writes, ok), _reads = await rt.ask(placed.prober, ["summary"], timeout=60.0)
            leader = (monitor.current["etcd"] or "none").split("/")[-1]
            progress.update(task, completed=executor.now(),
                            state=f"t={executor.now():.0f}s writes ok {ok}/{writes} "
                                  f"etcd leader {leader} faults {len(executor.records)}/{len(spec.faults)}")
    await asyncio.sleep(0)


async def actor_errors(runtime: Runtime) -> list[str]:
    """The exceptions actors raised during the run, as their hosts recorded them."""
    host = getattr(runtime, "host", None)
    if host is not None:  # sim: one host
        return [f"{where}: {exc!r}" for where, exc in host.errors]
    host_info = getattr(runtime, "host_info", None)  # ray: every host actor
    if host_info is None:
        return []
    return [error for info in (await host_info()).values() for error in info["errors"]]


def _counter_deltas(before: list[tuple[str, dict[str, str], float]],
                    after: list[tuple[str, dict[str, str], float]]) -> dict[str, float]:
    """Per instance, how much a counter grew between two samplings."""
    start = {labels.get("instance", ""): value for name, labels, value in before if name.endswith("_total")}
    return {labels.get("instance", ""): reports.counter_increase(start.get(labels.get("instance", ""), 0.0), value)
            for name, labels, value in after if name.endswith("_total")}
