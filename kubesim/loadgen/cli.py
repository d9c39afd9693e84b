"""The `kubesim load` command: argument handling, exit codes and the summary it prints."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kubesim.loadgen.config import ConfigError, parse_params


def run_load(args: argparse.Namespace) -> int:
    from kubesim.loadgen.run import run_kubeconfig, run_sim, write_outputs

    console = Console(stderr=False)
    if not console.is_terminal:
        console = Console(stderr=False, width=160)
    config = Path(args.config)
    out = Path(args.out) if args.out else Path("runs") / f"load-{config.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        params = parse_params(args.param)
        if (out / "result.json").exists():
            raise ConfigError(f"--out {out}: holds an earlier result; give another directory")
        if args.kubeconfig:
            result = run_kubeconfig(config, params, Path(args.kubeconfig), console, seed=args.seed)
        else:
            result = run_sim(config, params, out, console, cluster=args.cluster)
    except ConfigError as exc:
        print(f"kubesim: error: {exc}", file=sys.stderr)
        return 2
    json_path, html_path = write_outputs(result, out)
    print_summary(console, result)
    console.print(f"result: {json_path}\nreport: {html_path}")
    return 0 if result["passed"] else 1


def print_summary(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"SLOs of {result['name']}")
    for column in ("measurement", "SLO", "threshold", "value", "verdict"):
        table.add_column(column)
    for slo in result["slos"]:
        value = slo["value"]
        table.add_row(slo["measurement"], slo["name"], f"{slo['threshold']:g}",
                      "-" if value is None else f"{value:.4g}",
                      "[green]PASS[/green]" if slo["pass"] else "[red]FAIL[/red]")
    console.print(table)
    for failure in result["failed_measurements"]:
        console.print(f"[red]measurement failed[/red]: {failure}")
    ops = result["operations"]
    console.print(f"operations: {ops['ok']} ok, {ops['failed']} failed; "
                  f"verdict: {'[green]SLOs held[/green]' if result['passed'] else '[red]SLOs violated[/red]'}")
