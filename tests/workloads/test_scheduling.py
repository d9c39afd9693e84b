"""The scheduling workload behind the scheduler bench: a bench scheduler binds every pod it
is given, on sim (its Binding calls paced by the client rate limiter in virtual time) and
as a Ray actor."""

from __future__ import annotations

import pytest

from kubesim.runtime.ray.runtime import RayRuntime
from kubesim.runtime.sim import SimRuntime
from kubesim.workloads import scheduling


def test_bench_scheduler_binds_every_pod_over_the_nodes():
    rt = SimRuntime(seed=1)
    scheduling.place(rt)

    async def main(rt):
        await rt.ask(scheduling.ADDRESS, {"op": "nodes", "count": 30})
        reply = await rt.ask(scheduling.ADDRESS, {"op": "pods", "count": 120})
        while (progress := await rt.ask(scheduling.ADDRESS, {"op": "progress"}))["bound"] < 120:
            await rt.sleep(0.1)
        return reply, progress

    try:
        reply, progress = rt.run(main)
    finally:
        rt.close()
    assert reply["created"] == 120 and progress["nodes"] == 30 and progress["leading"]
    # 100 Binding calls fit the client's burst, the other 20 wait for tokens at 50 QPS.
    assert 0.35 <= progress["now"] - reply["now"] <= 1.0


@pytest.mark.ray
def test_bench_scheduler_on_ray(ray_local, tmp_path):
    rt = RayRuntime(seed=1, run_dir=tmp_path)
    scheduling.place(rt, {"clientConnection": {"qps": 1000, "burst": 1000}})

    async def main(rt):
        await rt.ask(scheduling.ADDRESS, {"op": "nodes", "count": 20}, timeout=60)
        await rt.ask(scheduling.ADDRESS, {"op": "pods", "count": 60}, timeout=60)
        while (progress := await rt.ask(scheduling.ADDRESS, {"op": "progress"}))["bound"] < 60:
            await rt.sleep(0.05)
        return progress

    try:
        progress = rt.run(main)
    finally:
        rt.close()
    assert progress["nodes"] == 20 and progress["leading"] and progress["bound"] == 60
