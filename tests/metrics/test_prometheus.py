"""Prometheus for a run: the configuration it is given (promtool), start on 127.0.0.1 at a
free port, stop; and `--prometheus`'s refusals."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from rich.console import Console

from kubesim.metrics import prometheus as prometheus_module
from kubesim.metrics.prometheus import PrometheusNotFound, PrometheusServer
from kubesim.metrics.session import RunPrometheus, SessionError
from kubesim.specs import parse_spec
from tests.conftest import require_binary


def test_the_run_config_passes_promtool(tmp_path):
    promtool = require_binary("promtool")
    server = PrometheusServer(tmp_path, [str(tmp_path / "state/prometheus/targets*.json")], "my-run",
                              binary="/bin/true")
    config = server.write_config()
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replacement: my-run" in config.read_text()


def test_start_serves_on_loopback_and_stop_ends_the_process(tmp_path):
    require_binary("prometheus")
    server = PrometheusServer(tmp_path, [str(tmp_path / "targets*.json")], "t")
    url = server.start()
    process = server.process
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/-/ready", timeout=5) as response:
            assert response.status == 200
        assert (tmp_path / "prometheus/data").is_dir()
    finally:
        server.stop()
    assert process is not None and process.poll() is not None
    server.stop()  # a second stop is harmless


def test_a_prometheus_that_exits_at_once_is_an_error_with_its_log(tmp_path):
    server = PrometheusServer(tmp_path, [], "t", binary="/bin/false")
    with pytest.raises(RuntimeError, match="did not become ready"):
        server.start()


def test_no_prometheus_binary(monkeypatch, tmp_path):
    monkeypatch.setattr(prometheus_module.shutil, "which", lambda name: None)
    with pytest.raises(PrometheusNotFound, match="apt-get install prometheus"):
        PrometheusServer(tmp_path, [], "t")


def test_prometheus_needs_the_ray_runtime(tmp_path):
    spec = parse_spec({"kind": "Cluster", "name": "c", "runtime": {"type": "sim"}})
    with pytest.raises(SessionError, match="needs the ray runtime"):
        RunPrometheus.for_spec(spec, tmp_path, Console())


def test_targets_of_a_comparison_are_each_runs_own(tmp_path):
    require_binary("prometheus")
    spec = parse_spec({"kind": "ClusterComparison", "name": "cmp", "cluster": {"runtime": {"type": "ray"}},
                       "variants": [{"name": "a"}, {"name": "b"}], "scenarios": [{"name": "s", "faults": [
                           {"name": "k", "type": "killLeader", "component": "etcd", "at": "5s"}]}]})
    watch = RunPrometheus.for_spec(spec, tmp_path, Console())
    assert watch.server.targets == [str(tmp_path / f"{v}-s/state/prometheus/targets*.json") for v in "ab"]
    assert watch.server.cluster is None  # each run's cluster label comes from its directory


def test_a_cluster_runs_targets_are_in_its_state_directory(tmp_path):
    require_binary("prometheus")
    spec = parse_spec({"kind": "Cluster", "name": "c1", "runtime": {"type": "ray"}})
    watch = RunPrometheus.for_spec(spec, tmp_path, Console())
    assert watch.server.targets == [str(tmp_path / "state/prometheus/targets*.json")]
    assert watch.server.cluster == "c1" and watch.server.dir == tmp_path / "prometheus"
