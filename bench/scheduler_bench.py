"""Scheduler throughput: pods scheduled per second on 100, 1,000 and 5,000 nodes, by one
kube-scheduler actor (default profile, adaptive percentageOfNodesToScore) whose apiserver
is in-memory in the same actor (kubesim.workloads.scheduling; scheduler_perf's
SchedulingBasic node and pod shapes; no pods placed beforehand).

Per run: nodes are created and cached first; then all pods are created at once and the
clock runs from the moment they are stored until the last one is bound.
- ``sim``: ``pods_per_second_wall`` is how fast the simulator computes the decisions;
  ``pods_per_second_simulated`` is what the modelled cluster does in virtual time, bound
  by the modelled filter/score CPU and the scheduler's default client QPS (50, burst 100)
  its Binding calls wait for.
- ``ray``: the same actor on a RayRuntime in wall-clock time, with the client QPS lifted
  (``clientConnection.qps``) so that the figure is the scheduler's own throughput.

    python -m bench.scheduler_bench
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from kubesim.runtime.base import Runtime
from kubesim.runtime.ray.runtime import RayRuntime
from kubesim.runtime.sim import SimRuntime
from kubesim.workloads import scheduling

#: (nodes, pods) per run; fewer pods on big clusters keep the section within ~3 minutes.
SIZES = ((100, 2000), (1000, 1000), (5000, 500))
RAY_CONFIG = {"clientConnection": {"qps": 1_000_000, "burst": 1_000_000}}
POLL_SECONDS = 0.05


async def _wait(rt: Runtime, done: Any, timeout: float) -> dict[str, Any]:
    """Poll the bench scheduler until ``done(progress)``."""
    started = time.perf_counter()
    while True:
        progress = await rt.ask(scheduling.ADDRESS, {"op": "progress"}, timeout=600)
        if done(progress):
            return progress
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"bench scheduler stuck at {progress}")
        await rt.sleep(POLL_SECONDS)


def _run(runtime: Runtime, nodes: int, pods: int) -> dict[str, Any]:
    async def main(rt: Runtime) -> dict[str, Any]:
        started = time.perf_counter()
        await rt.ask(scheduling.ADDRESS, {"op": "nodes", "count": nodes}, timeout=600)
        await _wait(rt, lambda p: p["leading"] and p["nodes"] == nodes, 600)
        setup = time.perf_counter() - started
        created_wall = time.perf_counter()
        reply = await rt.ask(scheduling.ADDRESS, {"op": "pods", "count": pods}, timeout=600)
        stored = time.perf_counter()
        last = await _wait(rt, lambda p: p["bound"] >= pods, 1200)
        wall = time.perf_counter() - stored
        simulated = last["now"] - reply["now"]
        return {"nodes": nodes, "pods": pods, "setup_wall_seconds": setup,
                "create_pods_wall_seconds": stored - created_wall,
                "schedule_wall_seconds": wall, "pods_per_second_wall": pods / wall,
                "schedule_runtime_seconds": simulated,
                "pods_per_second_runtime_clock": pods / simulated if simulated > 0 else None}

    try:
        return runtime.run(main)
    finally:
        runtime.close()


def sim_run(nodes: int, pods: int) -> dict[str, Any]:
    rt = SimRuntime(seed=1)
    scheduling.place(rt)
    out = _run(rt, nodes, pods)
    out["pods_per_second_simulated"] = out.pop("pods_per_second_runtime_clock")
    out["schedule_simulated_seconds"] = out.pop("schedule_runtime_seconds")
    return out


def ray_run(nodes: int, pods: int) -> dict[str, Any]:
    rt = RayRuntime(seed=1)
    scheduling.place(rt, RAY_CONFIG)
    out = _run(rt, nodes, pods)
    del out["pods_per_second_runtime_clock"], out["schedule_runtime_seconds"]
    return out


def scheduler() -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    sim = {f"{n}_nodes": sim_run(n, p) for n, p in SIZES}
    ray = {f"{n}_nodes": ray_run(n, p) for n, p in SIZES}
    return {
        # wall figures shrink when other work shares the CPUs: the 1-minute load average
        "load_average_1m": {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()},
        "workload": "scheduler_perf SchedulingBasic shapes: nodes 4 CPU / 32Gi / 110 pods in 3 zones, "
                    "pods 100m / 500Mi; default profile; in-actor apiserver",
        "sim": sim,
        "ray": ray,
        "ray_over_sim_wall_5000_nodes": ray["5000_nodes"]["pods_per_second_wall"]
        / sim["5000_nodes"]["pods_per_second_wall"],
    }


if __name__ == "__main__":
    print(json.dumps(scheduler(), indent=2))
