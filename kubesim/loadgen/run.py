"""`kubesim load CONFIG`: check the config, bring up or reach the target, drive the test,
and write the JSON result and the HTML report.

Against the simulated cluster the config's `cluster` / `clusterSpec` (or `--cluster`) is
built on its runtime (`kubesim.cluster`: place, then bootstrap until nodes are Ready) and
the load worker runs as an actor beside it; with `--kubeconfig` the same config runs over
HTTP against whatever cluster the kubeconfig names. Nothing is created before the config
has passed every check (`config.py`). The verdict: every SLO of every measurement held
and no measurement failed -> exit 0; otherwise 1 (2 is a bad config).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from kubesim.loadgen import gotemplate
from kubesim.loadgen.config import ConfigError, LoadConfig, load_config
from kubesim.loadgen.driver import Driver, Outcome
from kubesim.runtime.seeding import stream

MAX_CALLS_IN_RESULT = 20_000  # client-side call samples kept in the result (evenly thinned)


def schedulable_nodes(spec: Any) -> int:
    """Worker nodes a pod can land on: pools without a NoSchedule/NoExecute taint (cl2 counts
    schedulable, untainted nodes)."""
    return sum(p.count for p in spec.node_pools
               if not any(t.effect in ("NoSchedule", "NoExecute") for t in p.taints))


def cluster_section(path: Path, params: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The raw `cluster` / `clusterSpec` of a config (read before `.Nodes` is known)."""
    try:
        data = yaml.safe_load(gotemplate.render(path.read_text(), {"Nodes": 1, **params}))
    except (OSError, gotemplate.TemplateError, yaml.YAMLError):
        return None, None  # load_config reports it
    if not isinstance(data, dict):
        return None, None
    return data.get("cluster"), data.get("clusterSpec")


def namespace_prefix(config: LoadConfig, seed: int) -> str:
    """cl2's automanaged namespace prefix: `test-` and six random characters unless set."""
    if config.model.namespace.prefix:
        return config.model.namespace.prefix
    rng = stream(seed, "loadgen-namespaces")
    return "test-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))


def resolve_cluster(config_path: Path, params: dict[str, Any], cluster: str | None) -> Any:
    """The ClusterSpec to run against (from --cluster, or the config's section)."""
    from kubesim.specs import SpecFileError, load_spec, parse_spec

    try:
        if cluster is not None:
            spec = load_spec(cluster)
        else:
            inline, ref = cluster_section(config_path, params)
            if inline is not None and ref is None and isinstance(inline, dict):
                spec = parse_spec({"kind": "Cluster", **inline}, f"{config_path}: cluster")
            elif ref is not None and inline is None:
                spec = load_spec(config_path.parent / str(ref))
            else:
                load_config(config_path, 1, params)  # reports a problem in the config itself first
                raise ConfigError(f"{config_path}: cluster: the config names no cluster (give cluster:, "
                                  "clusterSpec: or --cluster, or run against --kubeconfig)")
    except SpecFileError as exc:
        raise ConfigError(str(exc)) from None
    if getattr(spec, "kind", "") != "Cluster":
        raise ConfigError(f"{cluster or config_path}: a load test runs against a kind: Cluster spec, not {spec.kind}")
    return spec


def run_sim(config_path: Path, params: dict[str, Any], out_dir: Path, console: Console | None,
            cluster: str | None = None) -> dict[str, Any]:
    """Check the config, build its cluster on its runtime, run the test; the result."""
    from kubesim.runner import load_cost
    from kubesim.runtime.costmodel import CostModelError

    spec = resolve_cluster(config_path, params, cluster)
    nodes = schedulable_nodes(spec)
    config = load_config(config_path, nodes, params)
    try:
        load_cost(spec.cost_model)
    except CostModelError as exc:
        raise ConfigError(f"{config_path}: cluster.costModel: {exc}") from None
    state = out_dir / "state"
    if state.exists() and any(state.iterdir()):
        raise ConfigError(f"{out_dir} holds the state of an earlier run: give another output directory")
    from kubesim.cluster import names
    from kubesim.cluster.bootstrap import Bootstrap
    from kubesim.cluster.build import EPOCH, place
    from kubesim.cluster.run import make_runtime
    from kubesim.cluster.topology import plan
    from kubesim.loadgen.targets import RuntimeTarget

    state.mkdir(parents=True, exist_ok=True)
    rt = make_runtime(spec, state)
    wall = time.perf_counter()
    try:
        placed = place(rt, spec, plan(spec))
        worker = RuntimeTarget.spawn_worker(rt, names.LOAD_BALANCER_MACHINE, placed.apiservers, placed.token, EPOCH)
        target = RuntimeTarget(rt, worker, nodes, f"{spec.name} ({spec.runtime.type}, {nodes} nodes)")

        async def main(_rt: Any) -> tuple[dict[str, Any], Outcome]:
            boot = await Bootstrap(rt, spec, placed, console).run()
            prefix = namespace_prefix(config, spec.runtime.seed)
            return boot, await Driver(config, target, console, prefix).run()

        boot, outcome = rt.run(main)
    finally:
        rt.close()
    return result(config, target, outcome, time.perf_counter() - wall, {"bootstrap": boot,
                                                                         "cluster": spec.name,
                                                                         "runtime": spec.runtime.type,
                                                                         "seed": spec.runtime.seed})


def run_kubeconfig(config_path: Path, params: dict[str, Any], kubeconfig: Path, console: Console | None,
                   seed: int = 0) -> dict[str, Any]:
    """Check the config against the cluster the kubeconfig reaches, then run it over HTTP."""
    import asyncio

    from kubesim.components.client.http import HTTPClient, KubeconfigError
    from kubesim.loadgen.targets import KubeconfigTarget

    async def main() -> dict[str, Any]:
        try:
            client = HTTPClient.from_kubeconfig(kubeconfig)
        except KubeconfigError as exc:
            raise ConfigError(str(exc)) from None
        try:
            nodes = await _count_nodes(client)
            config = load_config(config_path, nodes, params)
            target = KubeconfigTarget(client, nodes, f"{client.server} ({nodes} schedulable nodes)", seed)
            wall = time.perf_counter()
            outcome = await Driver(config, target, console, namespace_prefix(config, seed)).run()
            return result(config, target, outcome, time.perf_counter() - wall, {"server": client.server})
        finally:
            await client.close()

    return asyncio.run(main())


async def _count_nodes(client: Any) -> int:
    nodes = (await client.list("nodes")).get("items") or []
    return sum(1 for n in nodes if not (n.get("spec") or {}).get("unschedulable")
               and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in (n.get("spec") or {}).get("taints") or []))


def _thin(calls: list[list[Any]], limit: int) -> list[list[Any]]:
    if len(calls) <= limit:
        return calls
    step = len(calls) / limit
    return [calls[int(i * step)] for i in range(limit)]


def result(config: LoadConfig, target: Any, outcome: Outcome, wall: float, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON result: what ran, every measurement, the SLO table and the verdict."""
    slos = []
    for m in outcome.measurements:
        for slo in m.get("slos") or []:
            slos.append({"measurement": m["identifier"], "method": m["method"], **slo})
    failed_measurements = [f"{m['identifier']}: {m['error']}" for m in outcome.measurements if m.get("error")]
    passed = all(s["pass"] for s in slos) and not failed_measurements
    calls = sorted(outcome.calls, key=lambda c: c[0])
    t0 = calls[0][0] if calls else 0.0
    return _finite({
        "kind": "LoadTestResult",
        "name": config.model.name,
        "config": str(config.source),
        "params": config.params,
        "target": {"kind": target.kind, "description": target.description, "nodes": target.nodes, **extra},
        "wall_seconds": wall,
        "steps": outcome.steps,
        "operations": {"ok": outcome.ops_ok, "failed": outcome.ops_failed, "error_samples": outcome.errors[:20]},
        "measurements": outcome.measurements,
        "slos": slos,
        "failed_measurements": failed_measurements,
        "passed": passed,
        "timeline": outcome.timeline,
        "calls": {"t0": t0, "columns": ["offset_seconds", "seconds", "verb", "resource", "code"],
                  "total": len(calls),
                  "rows": [[c[0] - t0, c[1], c[2], c[3], c[4]] for c in _thin(calls, MAX_CALLS_IN_RESULT)]},
    })


def write_outputs(res: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    from kubesim.loadgen.report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "result.json"
    json_path.write_text(json.dumps(res, indent=1, allow_nan=False) + "\n")
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(res))
    return json_path, html_path


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
