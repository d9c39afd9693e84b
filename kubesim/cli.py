"""The `kubesim` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from kubesim import __version__


def _run(args: argparse.Namespace) -> int:
    from kubesim.metrics.session import RunPrometheus, SessionError
    from kubesim.runtime.costmodel import CostModelError
    from kubesim.specs import PingPongSpec, SpecFileError, load_spec

    console = Console(stderr=False)
    if not console.is_terminal:  # a log or a pipe: wide enough for the report tables
        console = Console(stderr=False, width=160)
    try:
        spec = _with_overrides(load_spec(args.spec), args)
        from kubesim.runner import load_cost, run_pingpong

        for cost in _cost_settings(spec):
            load_cost(cost)  # validate before anything starts
        if not isinstance(spec, PingPongSpec):
            from kubesim.cluster.cli import check_runnable

            check_runnable(spec, args.spec)
        run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        if (run_dir / "report.json").exists():
            raise SpecFileError(f"--run-dir {run_dir}: holds an earlier run's report; give another directory")
        watch = RunPrometheus.for_spec(spec, run_dir, console) if args.prometheus else contextlib.nullcontext()
    except (SpecFileError, CostModelError, SessionError) as exc:
        print(f"kubesim: error: {exc}", file=sys.stderr)
        return 2
    with watch:
        if isinstance(spec, PingPongSpec):
            run_pingpong(spec, run_dir, console, hold=args.hold)
            return 0
        from kubesim.cluster.cli import run_cluster_spec

        _stop_on_signals()
        try:
            return run_cluster_spec(spec, run_dir, console, Path(args.report) if args.report else None,
                                    emit=args.emit_report)
        except KeyboardInterrupt:
            print("kubesim: interrupted; every actor the run started is stopped", file=sys.stderr)
            return 130


def _submit(args: argparse.Namespace) -> int:
    """Check a spec here, then run it on a Ray cluster as a Ray job."""
    from kubesim.cluster.cli import check_runnable
    from kubesim.cluster.submit import submit
    from kubesim.runner import load_cost
    from kubesim.runtime.costmodel import CostModelError
    from kubesim.specs import PingPongSpec, SpecFileError, load_spec

    try:
        spec = load_spec(args.spec)
        if isinstance(spec, PingPongSpec):
            raise SpecFileError(f"{args.spec}: kind: submit runs Cluster and ClusterComparison specs")
        for cost in _cost_settings(spec):
            load_cost(cost)
        check_runnable(_with_overrides(spec, argparse.Namespace(runtime="ray", seed=None, spec=args.spec)),
                       args.spec)
    except (SpecFileError, CostModelError) as exc:
        print(f"kubesim: error: {exc}", file=sys.stderr)
        return 2
    return submit(args.spec, spec.name, args.address, Path(args.report) if args.report else None,
                  Console(stderr=False), python=args.python)


def _with_overrides(spec: Any, args: argparse.Namespace) -> Any:
    """The spec with --runtime / --seed applied (validated again)."""
    from kubesim.cluster.comparison import ClusterComparison
    from kubesim.specs import parse_spec

    changes = {k: v for k, v in (("type", args.runtime), ("seed", args.seed)) if v is not None}
    if not changes:
        return spec
    if isinstance(spec, ClusterComparison):
        data = spec.model_dump(by_alias=True, exclude_unset=True)
        data["cluster"] = {**data.get("cluster", {})}
        data["cluster"]["runtime"] = {**data["cluster"].get("runtime", {}), **changes}
        return parse_spec(data, args.spec)
    for key, value in changes.items():
        setattr(spec.runtime, key, value)
    return spec


def _cost_settings(spec: Any) -> list[Any]:
    from kubesim.cluster.comparison import ClusterComparison

    if isinstance(spec, ClusterComparison):
        return [run.cost_model for _v, _s, run in spec.runs()]
    return [spec.cost_model]


def _validate(args: argparse.Namespace) -> int:
    """Load a spec and print what it would build (a cluster's plan) without starting anything."""
    from kubesim.cluster.comparison import ClusterComparison
    from kubesim.cluster.spec import ClusterSpec
    from kubesim.runner import load_cost
    from kubesim.runtime.costmodel import CostModelError
    from kubesim.specs import SpecFileError, load_spec

    try:
        spec = load_spec(args.spec)
        for cost in _cost_settings(spec):
            load_cost(cost)
    except (SpecFileError, CostModelError) as exc:
        print(f"kubesim: error: {exc}", file=sys.stderr)
        return 2
    console = Console(stderr=False)
    if isinstance(spec, ClusterSpec):
        from kubesim.cluster.summary import print_plan
        from kubesim.cluster.topology import plan

        print_plan(console, spec, plan(spec))
    elif isinstance(spec, ClusterComparison):
        from kubesim.cluster.summary import print_runs

        print_runs(console, spec)
    else:
        console.print(f"{args.spec}: a valid {spec.kind} spec")
    return 0


def _up(args: argparse.Namespace) -> int:
    """Start a control plane on local Ray, write a kubeconfig, serve until interrupted."""
    from kubesim.components.apiserver import certs
    from kubesim.components.apiserver.cluster import (
        admin_token_entry,
        kubeconfig,
        place_control_plane,
        wait_ready,
    )
    from kubesim.metrics.session import RunPrometheus, SessionError
    from kubesim.runtime.ray.local import ensure_ray
    from kubesim.runtime.ray.runtime import RayRuntime

    console = Console(stderr=False)
    _stop_on_signals()
    token = secrets.token_urlsafe(32)
    ca = certs.new_ca(time.time())
    serving = certs.new_serving_cert(ca, time.time())
    with console.status("starting local Ray"):
        ensure_ray()
    # the apiservers' clock starts when the runtime starts, a moment from now
    settings = {"port": 0, "tokens": [admin_token_entry(token)], "epoch": time.time(),
                "tls_cert": serving.cert_pem, "tls_key": serving.key_pem}
    runtime = RayRuntime(seed=args.seed, run_dir=args.run_dir)
    watch: Any = contextlib.nullcontext()
    if args.prometheus:  # panels are rendered only into a run directory that outlives the run
        try:
            watch = RunPrometheus.for_runtime_dir(runtime.run_dir, runtime.run_dir, "kubesim-up", console,
                                                  render=args.run_dir is not None)
        except SessionError as exc:
            runtime.close()
            print(f"kubesim: error: {exc}", file=sys.stderr)
            return 2
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(watch)
        plane = place_control_plane(runtime, apiservers=args.apiservers, etcd_members=args.etcd,
                                    settings=settings, load_balancer_port=args.port)
        kubelets = _place_nodes(runtime, plane.apiservers, args.nodes, settings["epoch"]) if args.nodes else 0
        with console.status(f"starting etcd ({args.etcd}) and {args.apiservers} apiserver(s)"):
            runtime.start()
            url = runtime.run(lambda rt: wait_ready(rt, plane))
        if kubelets:
            with console.status(f"waiting for {kubelets} node(s) to be Ready"):
                runtime.run(lambda rt: _nodes_ready(rt, plane.apiservers, token, kubelets))
        path = Path(args.kubeconfig).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kubeconfig(url, token, ca.cert_pem))
        os.chmod(path, 0o600)
        console.print(f"kube-apiserver is running at [bold]{url}[/bold]")
        console.print(f"kubeconfig written to {path}\n")
        console.print(f"  export KUBECONFIG={path}\n  kubectl get namespaces\n")
        console.print("Press Ctrl-C to stop.")
        runtime.run(_forever)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stack.close()
        runtime.close()
    return 0


def _place_nodes(runtime: Any, apiservers: list[str], nodes: int, epoch: float) -> int:
    """With `up --nodes N`: a kube-scheduler, a kube-controller-manager and kubelets as
    `kubesim run` places them for a cluster spec with one control-plane machine (a tainted
    node) and a pool of N worker nodes; etcd and the apiservers are the ones `up` placed.
    The number of kubelets."""
    from kubesim.cluster.agents import place_controllers, place_node_agents
    from kubesim.cluster.spec import ClusterSpec
    from kubesim.cluster.topology import plan

    spec = ClusterSpec.model_validate({"kind": "Cluster", "name": "kubesim-up",
                                       "nodePools": [{"name": "pool", "count": nodes}]})
    cluster = plan(spec)
    for planned in cluster.machines:
        if planned.machine.name not in runtime.machines:
            runtime.add_machine(planned.machine)
    place_controllers(runtime, spec, cluster, apiservers, epoch)
    return len(place_node_agents(runtime, cluster, apiservers, epoch, kube_proxies=False))


async def _nodes_ready(runtime: Any, apiservers: list[str], token: str, count: int) -> None:
    from kubesim.cluster.addons import api

    async def ready() -> bool:
        reply = await api(runtime, apiservers, token, "GET", "/api/v1/nodes")
        nodes = reply["body"].get("items") or [] if reply["code"] == 200 else []
        return sum(1 for n in nodes for c in (n.get("status") or {}).get("conditions") or []
                   if c.get("type") == "Ready" and c.get("status") == "True") >= count

    await runtime.wait_until(ready, 300.0, poll=1.0)


def _load(args: argparse.Namespace) -> int:
    """Run a clusterloader2-style load test; exit 0 when every SLO held, 1 when not, 2 on a bad config."""
    from kubesim.loadgen.cli import run_load

    return run_load(args)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """SIGINT (Ctrl-C) and SIGTERM (`ray job stop`, a pod's termination) stop the run. SIGINT
    explicitly: a process started with it ignored (a background job of a script) would
    otherwise keep Python from installing its handler, and ignore `kill -INT` too."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


async def _forever(_runtime: object) -> None:
    import asyncio

    await asyncio.Event().wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubesim", description="Simulate a whole Kubernetes cluster as actors.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    run = sub.add_parser("run", help="run a spec file")
    run.add_argument("spec", help="the spec YAML file")
    run.add_argument("--runtime", choices=["sim", "ray"], help="override the spec's runtime.type")
    run.add_argument("--seed", type=int, help="override the spec's runtime.seed")
    run.add_argument("--run-dir", help="where the run writes its files (default: runs/NAME-TIME)")
    run.add_argument("--hold", type=float, default=0.0, help="keep serving metrics this many seconds after the run")
    run.add_argument("--report", help="also write the report (JSON) to this file")
    run.add_argument("--emit-report", action="store_true",
                     help="print the report as one 'KUBESIM-REPORT <json>' line (for `kubesim submit`)")
    submit = sub.add_parser("submit", help="run a cluster spec on a Ray cluster as a Ray job")
    submit.add_argument("spec", help="the spec YAML file")
    submit.add_argument("--address", required=True, help="the Ray job server, e.g. http://HEAD:8265")
    submit.add_argument("--report", help="where to write the report (JSON)")
    submit.add_argument("--python", default="python", help="the Python that has kubesim on the cluster")
    run.add_argument("--prometheus", action="store_true",
                     help="start Debian's Prometheus for the run (ray runtime) on 127.0.0.1, print its URL, "
                          "render the dashboards' panels into RUN_DIR/dashboards/ and stop it after")
    validate = sub.add_parser("validate", help="check a spec and print the cluster it describes; starts nothing")
    validate.add_argument("spec", help="the spec YAML file")
    up = sub.add_parser("up", help="start etcd and kube-apiservers on local Ray and write a kubeconfig")
    up.add_argument("--apiservers", type=int, default=1, help="apiserver replicas (default 1)")
    up.add_argument("--etcd", type=int, default=3, help="etcd members (default 3)")
    up.add_argument("--port", type=int, default=0,
                    help="port of the load balancer in front of the replicas (default: any free port)")
    up.add_argument("--kubeconfig", default="kubesim.kubeconfig", help="where to write the kubeconfig")
    up.add_argument("--seed", type=int, default=0, help="the run's random seed")
    up.add_argument("--nodes", type=int, default=0,
                    help="also run a scheduler, a controller manager and this many worker nodes (kubelets)")
    up.add_argument("--run-dir", help="where the run keeps its files (default: a temporary directory)")
    up.add_argument("--prometheus", action="store_true",
                    help="start Debian's Prometheus scraping the control plane on 127.0.0.1 and print its URL")
    load = sub.add_parser("load", help="run a clusterloader2-style load test and report its SLOs")
    load.add_argument("config", help="the load-test config YAML (clusterloader2 format)")
    load.add_argument("--kubeconfig", help="run against the cluster this kubeconfig reaches (over HTTP) "
                                           "instead of the config's simulated cluster")
    load.add_argument("--cluster", help="a kind: Cluster spec to run against (overrides the config's cluster)")
    load.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                      help="a test override (the config's template parameters, e.g. PODS_PER_NODE=30)")
    load.add_argument("--out", help="where the result and report go (default: runs/load-NAME-TIME)")
    load.add_argument("--seed", type=int, default=0, help="random seed of the load worker (kubeconfig targets)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"kubesim {__version__}")
        return 0
    if args.command == "validate":
        return _validate(args)
    if args.command == "up":
        return _up(args)
    if args.command == "submit":
        return _submit(args)
    if args.command == "load":
        return _load(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
