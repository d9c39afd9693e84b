"""A real Prometheus (Debian's) scrapes the ray runtime through the file_sd targets file."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from kubesim.runtime.ray.runtime import RayRuntime
from kubesim.workloads import pingpong
from tests.conftest import require_binary

pytestmark = pytest.mark.ray


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_reads_kubesim_metrics_back(ray_local, tmp_path):
    prometheus = require_binary("prometheus")
    rt = RayRuntime(seed=2, run_dir=tmp_path / "run")
    pingpong.place(rt, members=100, rounds=2, hosts=2, zones=1)
    port = free_port()

    async def main(r):
        await r.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=60)
        targets = await r.write_targets()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: kubesim\n"
            "    honor_labels: true\n"
            f"    file_sd_configs: [{{files: ['{targets}'], refresh_interval: 1s}}]\n"
        )
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "prometheus.log", "wb"),
        )
        try:
            deadline = time.monotonic() + 90
            while True:  # until every target has been scraped once (or the deadline)
                try:
                    up = query(port, "up == 1")
                except OSError:
                    up = []
                if len(up) == 3 or time.monotonic() > deadline:
                    break
                await r.sleep(0.5)
            result = query(port, 'kubesim_messages_received_total{kubesim_host="pool-0"}')
            rounds = query(port, "kubesim_pingpong_rounds_total")
            return result, rounds, up
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    try:
        received, rounds, up = rt.run(main)
    finally:
        rt.close()
    assert received, (tmp_path / "prometheus.log").read_text()[-2000:]
    assert float(received[0]["value"][1]) > 0
    assert received[0]["metric"]["host"] == "pool-0"
    assert [float(s["value"][1]) for s in rounds] == [2.0]
    assert len(up) == 3
