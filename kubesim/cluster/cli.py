"""`kubesim run` for cluster specs: run a Cluster or a ClusterComparison, print the report,
write it as JSON into the run directory (and where `--report` says)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from kubesim.cluster.comparison import ClusterComparison, print_comparison, run_comparison
from kubesim.cluster.report import print_report
from kubesim.cluster.run import run_cluster
from kubesim.cluster.spec import ClusterSpec


def check_runnable(spec: ClusterSpec | ClusterComparison, source: str) -> None:
    """Raise SpecFileError when the spec's runtime cannot run one of its faults."""
    from kubesim.cluster.executor import unsupported
    from kubesim.specs import SpecFileError

    runs = [(f"scenarios[{spec.scenarios.index(sc)}].", run) for _v, sc, run in spec.runs()] if isinstance(
        spec, ClusterComparison) else [("", spec)]
    for prefix, run in runs:
        problem = unsupported(run)
        if problem is not None:
            raise SpecFileError(f"{source}: {prefix}{problem[0]}: {problem[1]}")


def run_cluster_spec(spec: ClusterSpec | ClusterComparison, run_dir: Path, console: Console,
                     report_path: Path | None = None, emit: bool = False) -> int:
    if isinstance(spec, ClusterComparison):
        report = run_comparison(spec, run_dir, console)
        print_comparison(console, report)
    else:
        report = run_cluster(spec, run_dir, console)
        print_report(console, report)
    write_report(report, run_dir / "report.json")
    console.print(f"report written to {run_dir / 'report.json'}")
    if report_path is not None:
        write_report(report, report_path)
        console.print(f"report written to {report_path}")
    if emit:
        from kubesim.cluster.submit import emit_report

        emit_report(report)
    return 0


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
