"""The `kubesim` command."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from kubesim import __version__


def _run(args: argparse.Namespace) -> int:
    from kubesim.runtime.costmodel import CostModelError
    from kubesim.specs import SpecFileError, load_spec

    console = Console(stderr=False)
    try:
        spec = load_spec(args.spec)
        if args.runtime:
            spec.runtime.type = args.runtime
        if args.seed is not None:
            spec.runtime.seed = args.seed
        from kubesim.runner import load_cost, run_pingpong

        load_cost(spec.cost_model)  # validate before anything starts
    except (SpecFileError, CostModelError) as exc:
        print(f"kubesim: error: {exc}", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_pingpong(spec, run_dir, console, hold=args.hold)
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"kubesim {__version__}")
        return 0
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
