"""Cluster benchmarks:

- `plan_5000`: reading and checking the 5,000-node envelope spec and building its plan
  (5,007 machines, 10,019 logical actors, 54 host groups), the work `kubesim validate` and
  the bootstrap do before anything starts;
- `bootstrap_300`: a whole HA cluster of 300 workers bootstrapped on sim (etcd, three
  apiservers, schedulers, controller managers, 303 kubelets, the kube-proxy DaemonSet):
  nodes Ready per simulated and per wall second, and the simulated/wall ratio of the
  probed minute after it;
- `ha_study`: `examples/ha-stacked-vs-external.yaml` on sim (six cluster runs), its wall
  time and the side-by-side figures it reports.

    python -m bench.cluster_bench
"""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kubesim.cluster.comparison import run_comparison
from kubesim.cluster.run import run_cluster
from kubesim.cluster.topology import plan
from kubesim.specs import load_spec, parse_spec

SPEC = Path(__file__).parents[1] / "examples" / "cluster-envelope-5000.yaml"
STUDY = Path(__file__).parents[1] / "examples" / "ha-stacked-vs-external.yaml"
BOOTSTRAP_NODES = 300
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


def bootstrap_300() -> dict[str, Any]:
    spec = parse_spec({"kind": "Cluster", "name": "bench-bootstrap", "zones": ["zone-a", "zone-b", "zone-c"],
                       "controlPlane": {"topology": "stacked", "machines": 3},
                       "nodePools": [{"name": "pool-a", "count": BOOTSTRAP_NODES}], "duration": "60s",
                       "runtime": {"type": "sim", "seed": 1}})
    with tempfile.TemporaryDirectory(prefix="kubesim-bench-") as tmp:
        started = time.perf_counter()
        report = run_cluster(spec, Path(tmp) / "run")
        wall = time.perf_counter() - started
    stages = {s["stage"]: s for s in report["bootstrap"]["stages"]}
    ready = stages["nodes Ready"]
    boot_wall = report["bootstrap"]["wall_seconds"]
    return {
        "nodes": report["nodes"],
        "bootstrap_simulated_seconds": report["bootstrap_seconds"],
        "bootstrap_wall_seconds": boot_wall,
        "nodes_ready_per_simulated_second": ready["per_simulated_second"],
        "nodes_ready_per_wall_second": ready["count"] / ready["wall_seconds"] if ready["wall_seconds"] else None,
        "probed_simulated_seconds": report["duration"],
        "run_wall_seconds": wall,
        "simulated_per_wall_after_bootstrap": report["duration"] / max(wall - boot_wall, 1e-9),
        "writes_ok_share": report["availability"]["writes"]["share"],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def ha_study() -> dict[str, Any]:
    study = load_spec(STUDY)
    with tempfile.TemporaryDirectory(prefix="kubesim-bench-") as tmp:
        started = time.perf_counter()
        report = run_comparison(study, Path(tmp), None)
        wall = time.perf_counter() - started
    return {
        "spec": STUDY.name,
        "runs": len(report["runs"]),
        "wall_seconds": wall,
        "side_by_side": [
            {k: row.get(k) for k in ("scenario", "variant", "targets", "writes_ok_during",
                                     "writes_unavailable_seconds", "writes_time_to_recover",
                                     "reads_ok_during", "serving_writes_at_end")}
            for row in report["comparison"]],
    }


if __name__ == "__main__":
    print(json.dumps({"plan_5000": plan_5000(), "bootstrap_300": bootstrap_300(), "ha_study": ha_study()},
                     indent=2))
