"""Cluster planning benchmark: reading and checking the 5,000-node envelope spec and
building its plan (5,007 machines, 10,019 logical actors, 54 host groups), the work
`kubesim validate` and the bootstrap do before anything starts.

    python -m bench.cluster_bench
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from kubesim.cluster.topology import plan
from kubesim.specs import load_spec

SPEC = Path(__file__).parents[1] / "examples" / "cluster-envelope-5000.yaml"
ROUNDS = 7


def plan_5000() -> dict[str, Any]:
    load_seconds: list[float] = []
    plan_seconds: list[float] = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        spec = load_spec(SPEC)
        loaded = time.perf_counter()
        cluster = plan(spec)
        load_seconds.append(loaded - started)
        plan_seconds.append(time.perf_counter() - loaded)
    return {
        "spec": SPEC.name,
        "rounds": ROUNDS,
        "machines": len(cluster.machines),
        "actors": len(cluster.actors),
        "host_groups": len(cluster.hosts),
        "load_and_check_seconds_median": statistics.median(load_seconds),
        "plan_seconds_median": statistics.median(plan_seconds),
        "plan_seconds_max": max(plan_seconds),
    }


if __name__ == "__main__":
    print(json.dumps(plan_5000(), indent=2))
