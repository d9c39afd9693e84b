"""Debian's Prometheus, started for one run: a configuration in the run directory that
scrapes the run's file_sd targets and loads the SLO recording rules, its TSDB in the run
directory, its web server on 127.0.0.1 at a free port; stopped (SIGTERM, then SIGKILL)
when the run is over.

    with PrometheusServer(run_dir, targets=[...], cluster="my-run") as prometheus:
        print(prometheus.url)   # http://127.0.0.1:PORT
        ...                     # the run

`targets` are file_sd paths; the last path segment may hold a `*` (Prometheus' pattern),
so a targets file that does not exist yet is no error.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kubesim.metrics import prometheus_config, rules
from kubesim.metrics.promapi import PrometheusAPI

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SCRAPE_INTERVAL = "2s"


class PrometheusNotFound(RuntimeError):
    """No `prometheus` binary on PATH."""


def find_binary(name: str = "prometheus") -> str:
    path = shutil.which(name)
    if path is None:
        raise PrometheusNotFound(f"{name} is not installed: apt-get install prometheus (or `make system-deps`)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """One Prometheus process for one run; its files live in `<run_dir>/prometheus/`."""

    def __init__(self, run_dir: Path, targets: Sequence[str], cluster: str | None, *,
                 cluster_from_path: str = prometheus_config.CLUSTER_FROM_FILE_NAME,
                 scrape_interval: str = SCRAPE_INTERVAL, binary: str | None = None) -> None:
        self.dir = Path(run_dir) / "prometheus"
        self.targets = list(targets)
        self.cluster = cluster
        self.cluster_from_path = cluster_from_path
        self.scrape_interval = scrape_interval
        self.binary = binary or find_binary()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "prometheus.log"

    def api(self) -> PrometheusAPI:
        return PrometheusAPI(self.url)

    def write_config(self) -> Path:
        """prometheus.yml and the rules file, in the run's prometheus directory."""
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / prometheus_config.RULES_FILE).write_text(rules.rules_yaml())
        data = prometheus_config.config(self.targets, [prometheus_config.RULES_FILE], cluster=self.cluster,
                                        scrape_interval=self.scrape_interval,
                                        evaluation_interval=self.scrape_interval,
                                        cluster_from_path=self.cluster_from_path)
        path = self.dir / "prometheus.yml"
        path.write_text(prometheus_config.config_yaml(data, "# written by kubesim for this run\n"))
        return path

    def start(self) -> str:
        """Start Prometheus and wait until it is ready; returns its URL."""
        if self.process is not None:
            raise RuntimeError("Prometheus is already running")
        config = self.write_config()
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        api = self.api()
        deadline = time.monotonic() + READY_TIMEOUT
        while not api.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Prometheus did not become ready; its log:\n{self._log_tail()}")
            time.sleep(0.1)
        return self.url

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
