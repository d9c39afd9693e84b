"""Scale: how the cost of a whole simulated cluster grows with its size (issue 10).

At each size a fresh process builds an N-node cluster on the `sim` runtime (3 etcd members
running Raft, 3 apiservers, schedulers and controller managers leader-elected: the
stacked HA control plane kubeadm builds) and runs clusterloader2's density test on it
(`loadgen/configs/density.yaml`: saturation Deployments to PODS_PER_NODE pods per node,
then latency pods, then deletion). Recorded per size: wall and CPU seconds, simulated
seconds per wall second, peak RSS, messages (envelopes) sent per wall second, saturation
pods created -> Running per simulated and per wall second, pod startup p99, the worst
mutating API p99, and the top functions of a sampling profile of that same process
(py-spy if installed, else cProfile) -- the bottleneck at each size named from a profile.
An SVG plots wall seconds, CPU seconds per node and peak RSS against node count.

    python -m bench.scale_bench                       # sizes 500,1000,2000,5000; 30 pods/node;
                                                      # merged into bench/results.json ("scale")
    SCALE_SIZES=500,1000 SCALE_PODS_PER_NODE=5 python -m bench.scale_bench
    python -m bench.scale_bench --child 500 OUT.json  # one size, in this process
    SCALE_RUNTIME=ray SCALE_SIZES=500 python -m bench.scale_bench   # the same on a local Ray

On `ray` (SCALE_RUNTIME=ray; SCALE_NODES_PER_HOST node agents per host actor, default 250;
SCALE_TIME_SCALE simulated seconds per wall second, default 1) the cluster is a tree of
processes under the benchmark's own (GCS, raylet, a Ray actor per control-plane component
and per node-agent host): CPU seconds and peak memory are that tree's (bench/proctree.py:
CPU summed over every process, memory as the summed PSS), CPU is also split by Ray actor,
and py-spy follows the subprocesses, so the profile covers every actor.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.proctree import TreeSampler

ROOT = Path(__file__).resolve().parents[1]
DENSITY = ROOT / "loadgen" / "configs" / "density.yaml"
PLOT = ROOT / "bench" / "scale.svg"
DEFAULT_SIZES = (500, 1000, 2000, 5000)
DEFAULT_PODS_PER_NODE = 30
CONTROL_PLANE_MACHINES = 3
TOP = 15  # functions named per size
SAMPLE_RATE = 25  # py-spy samples per second
RAY_SAMPLE_RATE = 10  # per process, on ray (a run has 20-30 processes)
MESSAGES = "kubesim_messages_sent_total"
IDLE_SECONDS = 60.0  # the cluster at rest, measured between bootstrap and the density test
IDLE_TOP = 8  # message kinds named for the idle window
AGENT_HOST = re.compile(r"-h\d+$")  # a node-agent host actor (cluster.names.host_name)
RAY_NODES_PER_HOST = 250  # 5,000 nodes -> 20 node-agent host processes on 2 cores


def cluster_spec(nodes: int, control_plane_machines: int = CONTROL_PLANE_MACHINES) -> dict[str, Any]:
    """The cluster measured at each size: density's own cluster, grown to `nodes` workers with
    an HA stacked control plane."""
    return {"kind": "Cluster", "name": f"scale-{nodes}", "zones": ["zone-a", "zone-b", "zone-c"],
            "controlPlane": {"topology": "stacked", "machines": control_plane_machines},
            "controllerManager": {"kube-api-qps": 100, "kube-api-burst": 100},
            "nodePools": [{"name": "pool", "count": nodes, "machine": {"cpu": "8", "memory": "32Gi"}}],
            "runtime": {"type": "sim", "seed": 1}}


def ray_settings() -> dict[str, Any]:
    """The spec's runtime section for SCALE_RUNTIME=ray: a control-plane machine's
    components share a host actor (SCALE_CONTROL_PLANE_HOSTS=component: one each)."""
    return {"type": "ray", "seed": 1,
            "controlPlaneHosts": os.environ.get("SCALE_CONTROL_PLANE_HOSTS", "machine"),
            "nodesPerHost": int(os.environ.get("SCALE_NODES_PER_HOST", RAY_NODES_PER_HOST)),
            "timeScale": float(os.environ.get("SCALE_TIME_SCALE", 1.0))}


def measure(nodes: int, pods_per_node: int, control_plane_machines: int, runtime: str = "sim") -> dict[str, Any]:
    """Run density on an N-node cluster (sim in this process, or ray under it); the figures of that run."""
    import yaml

    import kubesim.cluster.run as cluster_run
    from kubesim.cluster.bootstrap import Bootstrap
    from kubesim.loadgen.run import run_sim

    on_ray = runtime == "ray"
    tree = TreeSampler().start() if on_ray else None
    make_runtime = cluster_run.make_runtime
    bootstrap = Bootstrap.run
    idle: dict[str, Any] = {}
    last: dict[str, Any] = {}  # read from the runtime before it closes

    def keep(spec: Any, run_dir: Path) -> Any:
        rt = make_runtime(spec, run_dir)
        close = rt.close

        def read_then_close() -> None:
            if on_ray:
                import asyncio

                async def read() -> None:
                    last["samples"] = await rt.metric_samples([MESSAGES])
                    last["hosts"] = await rt.host_info()

                asyncio.run(read())
                assert tree is not None
                last["cpu"] = tree.cpu_seconds()
                last["cpu_by_pid"] = dict(tree.cpu)  # the driver's without the sampler's own
                last["cpu_by_pid"][os.getpid()] -= tree.own_cpu
                last["sampler_cpu"] = tree.own_cpu
            else:
                last["samples"] = rt.metrics.samples([MESSAGES])
                last["errors"] = len(rt.host.errors)
            last["simulated"] = rt.now()
            close()

        rt.close = read_then_close
        return rt

    async def bootstrap_then_rest(self: Bootstrap) -> dict[str, Any]:
        out = await bootstrap(self)
        rest = _at_rest_ray(self.rt, nodes, IDLE_SECONDS, tree) if tree else _at_rest(self.rt, nodes, IDLE_SECONDS)
        idle.update(await rest)
        return out

    cluster_run.make_runtime = keep
    Bootstrap.run = bootstrap_then_rest  # type: ignore[method-assign]
    spec = cluster_spec(nodes, control_plane_machines)
    if on_ray:
        spec["runtime"] = ray_settings()
    try:
        with tempfile.TemporaryDirectory(prefix="kubesim-scale-") as tmp:
            spec_path = Path(tmp) / "cluster.yaml"
            spec_path.write_text(yaml.safe_dump(spec))
            cpu0, wall0 = (tree.cpu_seconds() if tree else _cpu()), time.perf_counter()
            result = run_sim(DENSITY, {"PODS_PER_NODE": pods_per_node}, Path(tmp) / "out", None,
                             cluster=str(spec_path))
            wall = time.perf_counter() - wall0
            cpu = (last["cpu"] if tree else _cpu()) - cpu0
    finally:
        cluster_run.make_runtime = make_runtime
        Bootstrap.run = bootstrap  # type: ignore[method-assign]
        if tree:
            tree.stop()
    messages = _messages(last["samples"])
    by_id = {m["identifier"]: m for m in result["measurements"]}
    steps = {s["name"]: s for s in result["steps"]}
    saturation = steps["Creating saturation pods"], steps["Waiting for saturation pods to be running"]
    sat_sim = sum(s["seconds"] for s in saturation)
    sat_wall = sum(s["wall_seconds"] for s in saturation)
    sat_pods = by_id["SchedulingThroughput"]["summary"]["pods_scheduled"]
    calls = by_id["APIResponsivenessPrometheus"]["summary"]["calls"]
    simulated = last["simulated"]
    figures = {
        "runtime": runtime,
        "nodes": nodes,
        "pods_per_node": pods_per_node,
        "saturation_pods": sat_pods,
        "control_plane_machines": control_plane_machines,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_seconds_per_node": cpu / nodes,
        "simulated_seconds": simulated,
        "simulated_per_wall": simulated / wall,
        "simulated_per_cpu": simulated / cpu,
        "bootstrap_wall_seconds": sum(s["wall_seconds"] for s in result["target"]["bootstrap"]["stages"]),
        "bootstrap_simulated_seconds": sum(s["simulated_seconds"] for s in result["target"]["bootstrap"]["stages"]),
        "peak_rss_bytes": tree.peak_pss if tree else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "messages": int(messages),
        "messages_per_wall_second": messages / wall,
        "messages_per_cpu_second": messages / cpu,
        "pods_running_per_simulated_second": sat_pods / sat_sim if sat_sim else None,
        "pods_running_per_wall_second": sat_pods / sat_wall if sat_wall else None,
        "scheduling_throughput_max": by_id["SchedulingThroughput"]["summary"]["max"],
        "pod_startup_p99": by_id["PodStartupLatency"]["summary"]["pod_startup"]["perc99"],
        "api_mutating_p99_max": max((c["perc99"] or 0.0 for c in calls if c["mutating"]), default=None),
        "api_readonly_p99_max": max((c["perc99"] or 0.0 for c in calls if not c["mutating"]), default=None),
        "slos_passed": result["passed"],
        "actor_errors": (sum(len(h["errors"]) for h in last["hosts"].values()) if on_ray else last["errors"]),
        "idle": idle,
    }
    if on_ray:
        figures["memory"] = "peak of the summed PSS of every process of the Ray run"
        figures["sampler_cpu_seconds"] = last["sampler_cpu"]  # left out of cpu_seconds
        figures["nodes_per_host"] = spec["runtime"]["nodesPerHost"]
        figures["time_scale"] = spec["runtime"]["timeScale"]
        figures["cpu_by_process"] = _cpu_by_process(last["cpu_by_pid"], last["hosts"], tree.commands)
    return figures


def _cpu_by_process(cpu_by_pid: dict[int, float], hosts: dict[str, dict[str, Any]],
                    commands: dict[int, str]) -> dict[str, float]:
    """CPU seconds of the Ray run by what a process is: each control-plane actor's host by
    name, the node-agent hosts together (and their busiest), the benchmark's driver, and
    Ray's own processes by command (gcs_server, raylet, idle workers, agents)."""
    names = {info["pid"]: name for name, info in hosts.items()}
    out: Counter[str] = Counter()
    agents: dict[str, float] = {}
    for pid, seconds in cpu_by_pid.items():
        name = names.get(pid)
        if name is None:
            out["driver" if pid == os.getpid() else f"ray: {commands.get(pid, '?')}"] += seconds
        elif AGENT_HOST.search(name):
            agents[name] = seconds
        else:
            out[name] += seconds
    if agents:
        out[f"node-agent hosts ({len(agents)})"] = sum(agents.values())
        busiest = max(agents, key=agents.__getitem__)
        out[f"busiest node-agent host ({busiest})"] = agents[busiest]
    return {k: round(v, 2) for k, v in out.most_common()}


async def _at_rest(rt: Any, nodes: int, seconds: float) -> dict[str, Any]:
    """The bootstrapped cluster left alone for `seconds` simulated seconds (leases, node
    status, watches, etcd heartbeats): CPU per node per simulated second, and the messages
    sent, by (sender kind, receiver kind, message tag), the busiest first."""
    kinds: Counter[str] = Counter()
    transmit = rt.host.transmit

    def counted(env: Any) -> None:
        payload = env.payload
        tag = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], str) else ""
        if tag in ("kv", "watch") and len(payload) > 1 and isinstance(payload[1], str):
            tag = f"{tag} {payload[1]}"  # the etcd operation
        elif tag == "request" and len(payload) > 1 and isinstance(payload[1], dict):
            tag = f"request {payload[1].get('verb', '')}"  # the API verb
        kinds[f"{env.src.split('/')[0]}->{env.dst.split('/')[0]} {env.kind.name} {tag}".rstrip()] += 1
        transmit(env)

    rt.host.transmit = counted
    cpu0, start = _cpu(), rt.now()
    try:
        await rt.sleep(seconds)
    finally:
        rt.host.transmit = transmit
    cpu, simulated = _cpu() - cpu0, rt.now() - start
    sent = sum(kinds.values())
    return {"simulated_seconds": simulated, "cpu_seconds": cpu,
            "cpu_ms_per_node_per_simulated_second": 1000 * cpu / simulated / nodes,
            "messages": sent, "messages_per_node_per_simulated_second": sent / simulated / nodes,
            "top_messages": [[k, n] for k, n in kinds.most_common(IDLE_TOP)]}


async def _at_rest_ray(rt: Any, nodes: int, seconds: float, tree: TreeSampler) -> dict[str, Any]:
    """The same window on ray: CPU of every process of the run over `seconds` of its clock,
    and the messages the hosts sent meanwhile."""
    before = _messages(await rt.metric_samples([MESSAGES]))
    cpu0, start = tree.cpu_seconds(), rt.now()
    await rt.sleep(seconds)
    cpu, simulated = tree.cpu_seconds() - cpu0, rt.now() - start
    sent = _messages(await rt.metric_samples([MESSAGES])) - before
    return {"simulated_seconds": simulated, "cpu_seconds": cpu,
            "cpu_ms_per_node_per_simulated_second": 1000 * cpu / simulated / nodes,
            "messages": int(sent), "messages_per_node_per_simulated_second": sent / simulated / nodes}


def _messages(samples: list[tuple[str, dict[str, str], float]]) -> float:
    """Envelopes sent, summed over the hosts' counters."""
    return sum(v for n, _l, v in samples if n == MESSAGES)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(nodes: int, out: Path, profile: str | None) -> None:
    """One size in this process (the bench runs each size in its own, so peak RSS is its own)."""
    pods = int(os.environ.get("SCALE_PODS_PER_NODE", DEFAULT_PODS_PER_NODE))
    cp = int(os.environ.get("SCALE_CONTROL_PLANE_MACHINES", CONTROL_PLANE_MACHINES))
    if profile is None:
        figures = measure(nodes, pods, cp, runtime_name())
    else:  # cProfile (no py-spy): its own overhead inflates wall and CPU time; on ray it sees the driver only
        profiler = cProfile.Profile()
        figures = profiler.runcall(measure, nodes, pods, cp, runtime_name())
        profiler.dump_stats(profile)
    out.write_text(json.dumps(figures))


def top_from_pyspy(raw: Path, top: int = TOP) -> dict[str, Any]:
    """Self and inclusive shares of the busiest functions from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    components: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        components[_component(stack)] += n
    project = {f: n for f, n in inclusive.items() if "kubesim/" in f and not f.startswith("<module>")}
    return {"profiler": "py-spy", "samples": total,
            "by_component": {c: round(n / total, 4) for c, n in components.most_common()},
            "self": [[f, round(n / total, 4)] for f, n in own.most_common(top)],
            "inclusive_kubesim": [[f, round(n / total, 4)]
                                  for f, n in sorted(project.items(), key=lambda kv: -kv[1])[:top]]}


def _component(stack: str) -> str:
    """Whose work a sample is: the innermost kubesim package on the stack (components/etcd,
    runtime, loadgen, ...), or `other` (the interpreter, imports)."""
    parts = [f.split("(", 1)[-1].split("kubesim/", 1)[1] for f in stack.split(";")
             if "kubesim/" in f.split("(", 1)[-1]]
    if not parts:
        return "other"
    path = parts[-1].split("/")
    return "/".join(path[:2]) if path[0] == "components" and len(path) > 2 else path[0].rsplit(".", 1)[0]


def _frame(frame: str) -> str:
    """`func (path/to/file.py:123)` as `func (file path from the package root)`, line dropped."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/kubesim/", "/site-packages/", "/lib/python3"):
        if marker in path:
            path = marker.strip("/") + "/" + path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def top_from_cprofile(stats_path: Path, top: int = TOP) -> dict[str, Any]:
    stats = pstats.Stats(str(stats_path))
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in rows.values()) or 1.0

    def name(key: tuple[str, int, str]) -> str:
        return _frame(f"{key[2]} ({key[0]}:{key[1]})")

    by_self = sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]
    by_cum = sorted(((k, v) for k, v in rows.items() if "kubesim/" in k[0]), key=lambda kv: -kv[1][3])[:top]
    return {"profiler": "cProfile", "total_seconds": total,
            "self": [[name(k), round(v[2] / total, 4)] for k, v in by_self],
            "inclusive_kubesim": [[name(k), round(v[3] / total, 4)] for k, v in by_cum]}


def run_size(nodes: int) -> dict[str, Any]:
    """One size in a child process under the profiler; its figures with the profile's top."""
    with tempfile.TemporaryDirectory(prefix="kubesim-scale-") as tmp:
        out, prof = Path(tmp) / "figures.json", Path(tmp) / "profile"
        cmd = [sys.executable, "-m", "bench.scale_bench", "--child", str(nodes), str(out)]
        pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if pyspy:  # on ray, every process of the run is sampled (py-spy follows subprocesses) while it
            # holds the GIL (Python work; Ray's own threads show in cpu_by_process), without pausing it
            follow = ["--subprocesses", "--gil", "--nonblocking"] if runtime_name() == "ray" else []
            rate = RAY_SAMPLE_RATE if follow else SAMPLE_RATE
            cmd = [pyspy, "record", "-r", str(rate), "-f", "raw", *follow, "-o", str(prof), "--", *cmd]
        else:
            cmd.append(str(prof))
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        figures = json.loads(out.read_text())
        figures["profile"] = top_from_pyspy(prof) if pyspy else top_from_cprofile(prof)
    return figures


def runtime_name() -> str:
    """SCALE_RUNTIME: sim (default) or ray."""
    name = os.environ.get("SCALE_RUNTIME", "sim")
    if name not in ("sim", "ray"):
        raise SystemExit(f"SCALE_RUNTIME={name!r}: expected sim or ray")
    return name


def plot(rows: list[dict[str, Any]], path: Path = PLOT) -> None:
    """Cost against size: wall and CPU seconds, CPU ms per node and peak RSS (GiB), one panel each."""
    panels = [("wall seconds", "wall_seconds", 1.0), ("CPU seconds", "cpu_seconds", 1.0),
              ("peak RSS (GiB)", "peak_rss_bytes", 1 / 2**30), ("messages / CPU second", "messages_per_cpu_second", 1.0)]
    width, height, pad = 300, 220, 45
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * len(panels)}" height="{height + 30}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="8" y="16" font-size="13">kubesim {rows[0].get("runtime", "sim")} runtime, density test: cost vs cluster size '
           f'({rows[0]["pods_per_node"]} pods/node)</text>']
    xs = [r["nodes"] for r in rows]
    for i, (title, key, scale) in enumerate(panels):
        ys = [r[key] * scale for r in rows]
        x0, y0 = i * width + pad, 30
        w, h = width - pad - 15, height - 60
        top = max(ys) * 1.1 or 1.0
        right = max(xs) * 1.05

        def px(x: float, y: float, x0: float = x0, y0: float = y0, w: float = w, h: float = h,
               top: float = top, right: float = right) -> tuple[float, float]:
            return x0 + w * x / right, y0 + h - h * y / top

        svg.append(f'<text x="{x0}" y="{y0 - 4}" font-weight="bold">{title}</text>')
        svg.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#444"/>')
        svg.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + h}" stroke="#444"/>')
        svg.append(f'<text x="{x0 - 4}" y="{y0 + 4}" text-anchor="end">{top:.3g}</text>')
        svg.append(f'<text x="{x0 - 4}" y="{y0 + h}" text-anchor="end">0</text>')
        points = " ".join("{:.1f},{:.1f}".format(*px(x, y)) for x, y in zip(xs, ys, strict=True))
        svg.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
        for x, y in zip(xs, ys, strict=True):
            cx, cy = px(x, y)
            svg.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#1f77b4"/>')
            svg.append(f'<text x="{cx:.1f}" y="{y0 + h + 14}" text-anchor="middle">{x:,}</text>')
            svg.append(f'<text x="{cx:.1f}" y="{cy - 6:.1f}" text-anchor="middle">{y:.3g}</text>')
        svg.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 28}" text-anchor="middle">nodes</text>')
    svg.append("</svg>")
    path.write_text("\n".join(svg) + "\n")


def scale(results: Path | None = None) -> dict[str, Any]:
    """The bench/run.py section ("scale" on sim, "scale_ray" on ray): every size
    (SCALE_SIZES), each in its own profiled process; with `results`, the section is merged
    into that file after each size (a long run that stops part-way keeps the sizes it
    measured). A row replaces the earlier one of the same size and pods per node; the plot
    draws the rows at this run's pods per node."""
    runtime = runtime_name()
    key, path = ("scale", PLOT) if runtime == "sim" else ("scale_ray", PLOT.with_name("scale-ray.svg"))
    sizes = [int(s) for s in os.environ.get("SCALE_SIZES", ",".join(map(str, DEFAULT_SIZES))).split(",")]
    pods = int(os.environ.get("SCALE_PODS_PER_NODE", DEFAULT_PODS_PER_NODE))
    section: dict[str, Any] = {"workload": str(DENSITY.relative_to(ROOT)), "sizes": [],
                               "plot": str(path.relative_to(ROOT))}
    if results is not None and results.exists():
        earlier = json.loads(results.read_text()).get(key, {})
        section["sizes"] = [r for r in earlier.get("sizes", [])
                            if not (r["pods_per_node"] == pods and r["nodes"] in sizes)]
    for nodes in sizes:
        print(f"-- {nodes} nodes ({runtime})", flush=True)
        started = time.perf_counter()
        row = run_size(nodes)
        row["load_average_1m"] = os.getloadavg()[0]
        row["bench_wall_seconds"] = time.perf_counter() - started
        section["sizes"] = sorted([*section["sizes"], row], key=lambda r: (r["pods_per_node"], r["nodes"]))
        print(json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)
        plot([r for r in section["sizes"] if r["pods_per_node"] == pods], path)
        if results is not None:
            merged = json.loads(results.read_text()) if results.exists() else {}
            merged[key] = section
            results.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return section


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
        return
    scale(ROOT / "bench" / "results.json")


if __name__ == "__main__":
    main()
