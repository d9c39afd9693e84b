"""`kubesim run --prometheus`: Prometheus for the run on 127.0.0.1, its URL printed, the
panels rendered into the run directory, Prometheus stopped; refused on sim."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from kubesim.cli import main
from tests.conftest import require_binary

SPEC = """kind: PingPong
name: pp-prometheus
runtime: {type: ray, seed: 1}
workload: {actors: 100, rounds: 2, hosts: 2, zones: 1}
"""


def test_prometheus_is_refused_on_sim_before_anything_starts(tmp_path, capsys):
    spec = tmp_path / "pp.yaml"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--runtime", "sim", "--prometheus", "--run-dir", str(tmp_path / "run")]) == 2
    assert "--prometheus needs the ray runtime" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.ray
def test_run_with_prometheus_prints_its_url_renders_panels_and_stops_it(ray_local, tmp_path, capsys):
    require_binary("prometheus")
    spec = tmp_path / "pp.yaml"
    spec.write_text(SPEC)
    run_dir = tmp_path / "run"
    assert main(["run", str(spec), "--prometheus", "--hold", "10", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    url = re.search(r"Prometheus is running at (http://127\.0\.0\.1:\d+)", out).group(1)
    assert "Prometheus stopped" in out
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/-/ready", timeout=2)
    assert (run_dir / "prometheus/prometheus.yml").exists() and (run_dir / "prometheus/data").is_dir()
    simulator = (run_dir / "dashboards/simulator.html").read_text()
    # the run holds its endpoints 10 s: long enough for file_sd (5 s refresh) and a few scrapes
    assert simulator.count("<svg") >= 8
