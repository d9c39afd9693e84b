"""`python -m bench.run --out bench/results.json`: run the benchmarks, merge their figures
into the results file (other sections are kept), and print them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    apiserver_bench,
    cluster_bench,
    etcd_bench,
    kube_proxy_bench,
    loadgen_bench,
    node_bench,
    runtime_bench,
    scheduler_bench,
)

SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "runtime_transport": runtime_bench.transport,
    "runtime_pingpong_10k": runtime_bench.pingpong_10k,
    "etcd": etcd_bench.etcd,
    "apiserver": apiserver_bench.apiserver,
    "cluster_plan_5000": cluster_bench.plan_5000,
    "cluster_bootstrap_300": cluster_bench.bootstrap_300,
    "cluster_ha_study": cluster_bench.ha_study,
    "nodes": node_bench.nodes_memory,
    "scheduler": scheduler_bench.scheduler,
    "kube_proxy": kube_proxy_bench.kube_proxy,
    "loadgen_density_100": loadgen_bench.density_100,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench/results.json")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run these sections only")
    args = parser.parse_args()
    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    from kubesim.runtime.ray.local import ensure_ray

    ensure_ray()
    for name in args.only or list(SECTIONS):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures = SECTIONS[name]()
        figures["bench_wall_seconds"] = time.perf_counter() - started
        results[name] = figures
        print(json.dumps(figures, indent=2), flush=True)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
