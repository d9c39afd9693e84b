"""The same density config against `kubesim up`'s kubeconfig, over HTTP: `kubesim up
--nodes 3` (etcd, an apiserver behind its load balancer, a scheduler, a controller manager
and kubelets on local Ray, HTTPS with a bearer token) in its own session, and `kubesim load
--kubeconfig` driving it through the HTTP APIClient and scraping the apiserver's /metrics.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kubesim.cli import main
from tests.test_cli_up import STOP_TIMEOUT, wait_for

pytestmark = pytest.mark.ray

DENSITY = Path(__file__).resolve().parents[2] / "loadgen" / "configs" / "density.yaml"
START_TIMEOUT = 300.0


def test_density_over_http_against_kubesim_up(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    log = (tmp_path / "up.log").open("w")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim.cli", "up", "--etcd", "1", "--nodes", "3", "--kubeconfig", str(kubeconfig),
         "--run-dir", str(tmp_path / "run")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for(lambda: kubeconfig.exists() or proc.poll() is not None, START_TIMEOUT, "the kubeconfig")
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        out = tmp_path / "out"
        code = main(["load", str(DENSITY), "--kubeconfig", str(kubeconfig), "--param", "PODS_PER_NODE=5",
                     "--out", str(out)])
        result = json.loads((out / "result.json").read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0

    assert result["target"]["kind"] == "kubeconfig" and result["target"]["nodes"] == 3
    assert result["target"]["server"].startswith("https://127.0.0.1:")
    assert result["operations"]["failed"] == 0
    by_id = {m["identifier"]: m for m in result["measurements"]}
    assert not by_id["WaitForSaturationRunning"]["error"] and not by_id["WaitForLatencyRunning"]["error"]
    assert by_id["SchedulingThroughput"]["summary"]["pods_scheduled"] == 15
    assert by_id["PodStartupLatency"]["pods_measured"] == 3
    calls = by_id["APIResponsivenessPrometheus"]["summary"]["calls"]  # from the apiserver's /metrics over HTTPS
    created = sum(1 for c in result["calls"]["rows"] if c[2] == "create" and c[3] == "deployments.apps")
    assert created == 4
    assert next(c for c in calls if c["verb"] == "POST" and c["resource"] == "deployments")["count"] == created
    # etcd is not reachable through a kubeconfig: no samples, and the measurement says so by its counts
    assert by_id["EtcdMetrics"]["summary"]["etcd_disk_wal_fsync_duration_seconds"]["count"] == 0
    assert code == (0 if result["passed"] else 1)
    assert (out / "report.html").exists()
