"""What one pod costs on a sim cluster: CPU per pod after bootstrap, the messages a pod's life
takes (by sender, receiver and kind, with their mean encoded size) and, with a profile, how
that CPU splits between packages (issue 10, docs/scale.md).

It runs the scale bench's cluster and density test (`bench/scale_bench.py`: 3 etcd members,
3 apiservers, 3 schedulers and controller managers, a kubelet and a kube-proxy per node) in
this process and counts from the end of bootstrap: every pod is created, scheduled, started,
and deleted in that window, so CPU after bootstrap over the pods is the cost of a pod's life
plus the cluster's own upkeep over the same simulated time (small: `idle` in the scale
section). Two source trees compared back to back on the same scenario give a fix's ratio:

    python -m bench.pod_cost 500 4                       # nodes, pods per node
    python -m bench.pod_cost 500 4 --profile             # py-spy attached after bootstrap
    KUBESIM_TREE=/tmp/before python -m bench.pod_cost 500 4   # another checkout's kubesim
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOP = 40  # functions named in a profile
SAMPLE_RATE = 25  # py-spy samples per second


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def message_kind(env: Any) -> str:
    """`sender kind -> receiver kind ENVELOPE tag`, with the etcd operation or API verb."""
    payload = env.payload
    tag = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], str) else ""
    if tag in ("kv", "watch") and len(payload) > 1 and isinstance(payload[1], str):
        tag = f"{tag} {payload[1]}"
    elif tag == "request" and len(payload) > 1 and isinstance(payload[1], dict):
        tag = f"request {payload[1].get('verb', '')}"
    return f"{env.src.split('/')[0]}->{env.dst.split('/')[0]} {env.kind.name} {tag}".rstrip()


def measure(nodes: int, pods_per_node: int, profile: Path | None = None) -> dict[str, Any]:
    """Density on an N-node sim cluster; the figures counted from the end of bootstrap."""
    import yaml

    import kubesim.cluster.run as cluster_run
    from bench.scale_bench import DENSITY, cluster_spec, top_from_pyspy
    from kubesim.cluster.bootstrap import Bootstrap
    from kubesim.loadgen.run import run_sim
    from kubesim.runtime.envelope import pack

    runtimes: list[Any] = []
    make_runtime, bootstrap = cluster_run.make_runtime, Bootstrap.run
    after_boot: dict[str, float] = {}
    count: Counter[str] = Counter()
    size: Counter[str] = Counter()
    spy: list[subprocess.Popen[bytes]] = []

    def keep(spec: Any, run_dir: Path) -> Any:
        runtimes.append(make_runtime(spec, run_dir))
        return runtimes[-1]

    async def bootstrap_then_count(self: Bootstrap) -> dict[str, Any]:
        out = await bootstrap(self)
        after_boot.update(cpu=_cpu(), simulated=self.rt.now())
        transmit = self.rt.host.transmit

        def counted(env: Any) -> None:
            kind = message_kind(env)
            count[kind] += 1
            size[kind] += len(pack(env.payload))
            transmit(env)

        self.rt.host.transmit = counted
        if profile is not None:
            pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
            if pyspy is None:
                raise SystemExit("--profile needs py-spy")
            spy.append(subprocess.Popen([pyspy, "record", "-r", str(SAMPLE_RATE), "-f", "raw", "-o",
                                         str(profile), "--pid", str(os.getpid())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return out

    cluster_run.make_runtime = keep
    Bootstrap.run = bootstrap_then_count  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="kubesim-podcost-") as tmp:
            spec_path = Path(tmp) / "cluster.yaml"
            spec_path.write_text(yaml.safe_dump(cluster_spec(nodes)))
            cpu0 = _cpu()
            result = run_sim(DENSITY, {"PODS_PER_NODE": pods_per_node}, Path(tmp) / "out", None,
                             cluster=str(spec_path))
            cpu1 = _cpu()
    finally:
        cluster_run.make_runtime, Bootstrap.run = make_runtime, bootstrap  # type: ignore[method-assign]
        for p in spy:
            p.send_signal(signal.SIGINT)
            p.wait()
    rt = runtimes[0]
    by_id = {m["identifier"]: m for m in result["measurements"]}
    pods = by_id["SchedulingThroughput"]["summary"]["pods_scheduled"] + min(nodes, 100)  # + latency pods
    cpu = cpu1 - after_boot["cpu"]
    sent = sum(count.values())
    figures: dict[str, Any] = {
        "nodes": nodes, "pods_per_node": pods_per_node, "pods": pods,
        "bootstrap_cpu_seconds": after_boot["cpu"] - cpu0,
        "cpu_seconds": cpu, "simulated_seconds": rt.now() - after_boot["simulated"],
        "cpu_ms_per_pod": 1000 * cpu / pods,
        "messages_per_pod": sent / pods,
        "bytes_per_pod": sum(size.values()) / pods,
        "messages": [[kind, round(n / pods, 2), size[kind] // n] for kind, n in count.most_common()],
        "slos_passed": result["passed"], "actor_errors": len(rt.host.errors),
        "trace_hash": rt.trace_hash(), "load_average_1m": os.getloadavg()[0],
    }
    if profile is not None:
        figures["profile"] = top_from_pyspy(profile, TOP)
    return figures


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        raise SystemExit(__doc__)
    tree = os.environ.get("KUBESIM_TREE")
    if tree:  # measure another checkout's kubesim (the "before" of a ratio)
        sys.path.insert(0, tree)
        for name in [m for m in sys.modules if m == "kubesim" or m.startswith("kubesim.")]:
            del sys.modules[name]
    with tempfile.TemporaryDirectory(prefix="kubesim-podcost-") as tmp:
        profile = Path(tmp) / "profile" if "--profile" in sys.argv else None
        started = time.perf_counter()
        figures = measure(int(args[0]), int(args[1]), profile)
    figures["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
