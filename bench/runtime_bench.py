"""Runtime benchmarks: transport throughput (sim; ray batched and unbatched between two host
actors) and the 10,000-actor ping-pong on both runtimes. Figures are measured in one run,
so ratios between them hold even on a noisy shared machine."""

from __future__ import annotations

import time
from typing import Any

from kubesim.runtime.base import Runtime
from kubesim.runtime.ray.runtime import RayRuntime
from kubesim.runtime.sim import SimRuntime
from kubesim.workloads import blast, pingpong


def _blast(runtime: Runtime, n: int) -> dict[str, Any]:
    blast.place(runtime)
    try:

        async def main(rt: Runtime) -> dict[str, Any]:
            await rt.ask(blast.SOURCE, {"n": 1000, "sinks": 4}, timeout=600)  # warm-up
            started = time.perf_counter()
            result = await rt.ask(blast.SOURCE, {"n": n, "sinks": 4}, timeout=600)
            wall = time.perf_counter() - started
            return {"messages": n, "wall_seconds": wall, "messages_per_second": n / wall,
                    "simulated_seconds": result["simulated_seconds"]}

        return runtime.run(main)
    finally:
        runtime.close()


def transport(n_sim: int = 200_000, n_batched: int = 500_000, n_unbatched: int = 20_000) -> dict[str, Any]:
    sim_encoded = _blast(SimRuntime(seed=1), n_sim)
    sim_raw = _blast(SimRuntime(seed=1, encode_messages=False), n_sim)
    batched = _blast(RayRuntime(seed=1, max_batch=1000, max_delay=0.002), n_batched)
    unbatched = _blast(RayRuntime(seed=1, max_batch=1, max_delay=0.0), n_unbatched)
    return {
        "sim": {"encoded": sim_encoded, "unencoded": sim_raw},
        "ray": {
            "batched": batched,
            "unbatched": unbatched,
            "batched_over_unbatched": batched["messages_per_second"] / unbatched["messages_per_second"],
        },
        "target": "ray batched >= 100,000 small messages/s between two host actors",
        "target_met": batched["messages_per_second"] >= 100_000,
    }


def _pingpong(runtime: Runtime, members: int, rounds: int) -> dict[str, Any]:
    pingpong.place(runtime, members=members, rounds=rounds, hosts=8, zones=2)
    try:
        started = time.perf_counter()
        result = runtime.run(lambda rt: rt.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=3600))
        wall = time.perf_counter() - started
        return {**result, "wall_seconds": wall, "messages_per_second": result["messages"] / wall}
    finally:
        runtime.close()


def pingpong_10k() -> dict[str, Any]:
    return {
        "sim": _pingpong(SimRuntime(seed=1), 10_000, 3),
        "ray": _pingpong(RayRuntime(seed=1), 10_000, 3),
    }
