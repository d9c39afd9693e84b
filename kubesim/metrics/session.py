"""`--prometheus` for `kubesim run` and `kubesim up`: Debian's Prometheus scraping the run
while it goes on, its URL printed, the dashboards' panels rendered as static HTML into
the run directory when the run ends, and Prometheus stopped.

Where a run's targets are: each ray runtime keeps `<its run dir>/prometheus/targets.json`
current; a pingpong run's runtime directory is the run directory, a cluster run's is
`<run>/state`, and each run of a comparison is `<run>/<variant>-<scenario>/state`. The
`cluster` label is the run's name (for a comparison, each run's own).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console

from kubesim.metrics.prometheus import PrometheusNotFound, PrometheusServer
from kubesim.metrics.static import render_panels

PANELS_DIR = "dashboards"  # the static pages, inside the run directory
TARGETS = "prometheus/targets*.json"


class SessionError(ValueError):
    """--prometheus cannot watch this run."""


def _seconds(interval: str) -> float:
    return float(interval.removesuffix("s"))


class RunPrometheus:
    """Prometheus for one run (a context manager around the run)."""

    def __init__(self, server: PrometheusServer, run_dir: Path, console: Console, render: bool = True) -> None:
        self.server = server
        self.run_dir = run_dir
        self.console = console
        self.render = render
        self.started = 0.0
        self.pages: list[Path] = []

    @classmethod
    def for_runtime_dir(cls, run_dir: Path, runtime_dir: Path, name: str, console: Console,
                        render: bool = True) -> RunPrometheus:
        """A run whose (one) ray runtime keeps its files in `runtime_dir`."""
        return cls(_server(run_dir, [str(runtime_dir / TARGETS)], name), run_dir, console, render)

    @classmethod
    def for_spec(cls, spec: Any, run_dir: Path, console: Console) -> RunPrometheus:
        """A `kubesim run` of a PingPong, Cluster or ClusterComparison spec on ray."""
        from kubesim.cluster.comparison import ClusterComparison
        from kubesim.cluster.spec import ClusterSpec

        if isinstance(spec, ClusterComparison):
            runs = spec.runs()
            for _variant, _scenario, run in runs:
                _require_ray(run.runtime.type)
            targets = [str(run_dir / run.name / "state" / TARGETS) for _v, _s, run in runs]
            server = _server(run_dir, targets, None, cluster_from_path=r".*/([^/]+)/state/prometheus/[^/]+")
            return cls(server, run_dir, console)
        _require_ray(spec.runtime.type)
        runtime_dir = run_dir / "state" if isinstance(spec, ClusterSpec) else run_dir
        return cls.for_runtime_dir(run_dir, runtime_dir, spec.name, console)

    def __enter__(self) -> RunPrometheus:
        self.server.start()
        self.started = time.time()
        self.console.print(f"Prometheus is running at [bold]{self.server.url}[/bold] "
                           f"(config {self.server.dir / 'prometheus.yml'})")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.render and (exc_type is None or issubclass(exc_type, KeyboardInterrupt)):
                self.pages = render_panels(self.server.url, self.started, time.time(), self.run_dir / PANELS_DIR,
                                           scrape_interval=_seconds(self.server.scrape_interval),
                                           title=f"kubesim: {self.run_dir.name}")
                self.console.print(f"dashboard panels written to {self.pages[0]}")
        finally:
            self.server.stop()
            self.console.print("Prometheus stopped")


def _require_ray(runtime: str) -> None:
    if runtime != "ray":
        raise SessionError("--prometheus needs the ray runtime (--runtime ray): a sim run's clock is "
                           "virtual, while Prometheus scrapes and stamps samples on the wall clock")


def _server(run_dir: Path, targets: list[str], cluster: str | None, **kwargs: Any) -> PrometheusServer:
    try:
        return PrometheusServer(run_dir, targets, cluster, **kwargs)
    except PrometheusNotFound as exc:
        raise SessionError(str(exc)) from exc
