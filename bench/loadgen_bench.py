"""Load generation: `kubesim load loadgen/configs/density.yaml` on its 100-node sim cluster
(30 pods per node, 3,000 saturation pods): how long the whole test takes on this machine,
how much simulated time it covers, and what it measured."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from kubesim.loadgen.run import run_sim

DENSITY = Path(__file__).resolve().parents[1] / "loadgen" / "configs" / "density.yaml"


def density_100() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = run_sim(DENSITY, {}, Path(tmp), None)
        wall = time.perf_counter() - started
    by_id = {m["identifier"]: m for m in result["measurements"]}
    calls = by_id["APIResponsivenessPrometheus"]["summary"]["calls"]
    usage = by_id["SimulatorResourceUsage"]["summary"]
    return {
        "nodes": result["target"]["nodes"],
        "pods": by_id["SchedulingThroughput"]["summary"]["pods_scheduled"],
        "wall_seconds": wall,
        "test_simulated_seconds": usage["simulated_seconds"],
        "test_wall_seconds": usage["wall_seconds"],
        "simulated_per_wall": usage["simulated_per_wall"],
        "peak_rss_bytes": usage["peak_rss_bytes"],
        "scheduling_throughput_max": by_id["SchedulingThroughput"]["summary"]["max"],
        "pod_startup_p99": by_id["PodStartupLatency"]["summary"]["pod_startup"]["perc99"],
        "mutating_p99_max": max((c["perc99"] or 0.0 for c in calls if c["mutating"]), default=None),
        "slos_passed": result["passed"],
    }
