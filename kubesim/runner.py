"""Running a spec: build the runtime it names, place its workload, show progress, report."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kubesim.runtime.base import Runtime
from kubesim.runtime.costmodel import CostModel
from kubesim.specs import CostSettings, PingPongSpec, RuntimeSettings
from kubesim.workloads import pingpong


def load_cost(settings: CostSettings) -> CostModel:
    return CostModel.load(settings.profile, settings.overrides or None)


def make_runtime(settings: RuntimeSettings, cost: CostModel, run_dir: Path) -> Runtime:
    """The runtime a spec asks for (ray is imported only when asked for)."""
    if settings.type == "sim":
        from kubesim.runtime.sim import SimRuntime

        return SimRuntime(settings.seed, cost, run_dir, call_timeout=settings.call_timeout)
    from kubesim.runtime.ray.runtime import RayRuntime

    return RayRuntime(
        settings.seed,
        cost,
        run_dir,
        address=settings.address,
        time_scale=settings.time_scale,
        max_batch=settings.batch.max_messages,
        max_delay=settings.batch.max_delay_ms / 1000.0,
        call_timeout=settings.call_timeout,
        host_per_machine=getattr(settings, "control_plane_hosts", "component") == "machine",
    )


async def _save_metrics(runtime: Runtime, run_dir: Path) -> tuple[Path, list[str]]:
    """Write the file_sd targets and a snapshot of every endpoint's exposition."""
    targets = await runtime.write_targets(run_dir / "prometheus" / "targets.json")
    urls: list[str] = []
    snapshots = run_dir / "metrics"
    snapshots.mkdir(parents=True, exist_ok=True)
    for group in json.loads(targets.read_text()):
        for target in group["targets"]:
            url = f"http://{target}/metrics"
            urls.append(f"{group['labels']['kubesim_host']}: {url}")
            # a blocking read: the sim loop's virtual clock cannot wait on a worker thread
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
            (snapshots / f"{group['labels']['kubesim_host']}.prom").write_bytes(body)
    return targets, urls


def run_pingpong(spec: PingPongSpec, run_dir: Path, console: Console, hold: float = 0.0) -> dict[str, Any]:
    """Run the ping-pong workload; returns the report (also written to run_dir/report.json)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    w = spec.workload
    runtime = make_runtime(spec.runtime, load_cost(spec.cost_model), run_dir)
    wall_start = time.perf_counter()
    try:
        pingpong.place(runtime, members=w.actors, rounds=w.rounds, hosts=w.hosts, zones=w.zones)
        total = w.actors * w.rounds

        async def main(rt: Runtime) -> dict[str, Any]:
            run_started = time.perf_counter()
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task(f"{w.actors} actors, {w.rounds} rounds", total=total)
                run = asyncio.ensure_future(rt.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=3600))
                while not run.done():
                    status = await rt.ask(pingpong.COORDINATOR, {"op": "status"})
                    done = max(0, status["round"]) * w.actors + status["reported"]
                    progress.update(task, completed=min(done, total))
                    await asyncio.wait([run], timeout=0.2) if spec.runtime.type == "ray" else await rt.sleep(0.01)
                result = run.result()
                progress.update(task, completed=total)
            wall = time.perf_counter() - run_started
            report: dict[str, Any] = {
                "spec": spec.name,
                "runtime": spec.runtime.type,
                "seed": spec.runtime.seed,
                **result,
                "startup_seconds": run_started - wall_start,
                "wall_seconds": wall,
                "messages_per_wall_second": result["messages"] / wall if wall > 0 else 0.0,
            }
            targets, urls = await _save_metrics(rt, run_dir)
            report["metrics"] = {"file_sd": str(targets), "endpoints": urls, "snapshots": str(run_dir / "metrics")}
            if hold > 0:
                console.print(f"holding for {hold:g}s so Prometheus can scrape {targets}")
                await asyncio.sleep(hold)
            return report

        report = runtime.run(main)
        trace = getattr(runtime, "trace_hash", None)
        if trace is not None:
            report["trace_hash"] = trace()
    finally:
        runtime.close()
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _print_report(console, report, run_dir)
    return report


def _print_report(console: Console, report: dict[str, Any], run_dir: Path) -> None:
    table = Table(title=f"{report['spec']} on {report['runtime']}", show_header=False)
    for key in ("members", "rounds", "messages", "simulated_seconds", "startup_seconds", "wall_seconds",
                "messages_per_wall_second", "rtt_p50", "rtt_p99", "trace_hash"):
        if key in report:
            value = report[key]
            table.add_row(key, f"{value:,.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    metrics = report["metrics"]
    console.print(f"metrics: Prometheus file_sd targets in [bold]{metrics['file_sd']}[/bold]")
    for url in metrics["endpoints"]:
        console.print(f"  {url}")
    console.print(f"  final expositions saved in {metrics['snapshots']}; report in {run_dir / 'report.json'}")
