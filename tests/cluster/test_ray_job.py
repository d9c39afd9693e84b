"""A cluster spec on a Ray cluster: a local Ray head started here (`ray start --head
--node-ip-address=127.0.0.1`, dashboard on for the job server), `kubesim submit` runs the
spec as a Ray job and writes its report; a run interrupted with Ctrl-C leaves no actor
behind. The head is stopped by signalling its own process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SPEC = {
    "kind": "Cluster", "name": "ray-job", "controlPlane": {"machines": 1}, "duration": "15s",
    "probe": {"writesPerSecond": 5, "readsPerSecond": 5},
    "faults": [{"name": "kill", "type": "killLeader", "component": "etcd", "at": "5s", "restartAfter": "3s"}],
    "runtime": {"type": "ray", "seed": 1},
}
PORT_FLAGS = ("--port", "--dashboard-port", "--ray-client-server-port", "--node-manager-port",
              "--object-manager-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
              "--metrics-export-port", "--runtime-env-agent-port")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out["RAY_AUTH_MODE"] = "token"  # the job server asks for the token Ray keeps under ~/.ray
    return out


@pytest.fixture(scope="module")
def head():
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    temp = tempfile.mkdtemp(prefix="ksr", dir="/tmp")  # short: Ray's socket paths have a length limit
    args = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1", "--num-cpus=2", f"--temp-dir={temp}",
            *(f"{flag}={port}" for flag, port in ports.items())]
    proc = subprocess.Popen(args, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    dashboard = f"http://127.0.0.1:{ports['--dashboard-port']}"
    try:
        _wait_for_job_server(dashboard, proc)
        yield {"dashboard": dashboard, "gcs": f"127.0.0.1:{ports['--port']}"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the head drains, then stops what it started
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait_for_job_server(address: str, proc: subprocess.Popen) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    from ray.job_submission import JobSubmissionClient

    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}")
        try:
            JobSubmissionClient(address).list_jobs()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def alive_actors(dashboard: str) -> list[str]:
    from ray.util.state import list_actors

    return [a.class_name for a in list_actors(address=dashboard, filters=[("state", "=", "ALIVE")], limit=10_000)]


def test_submit_runs_the_spec_as_a_ray_job_and_writes_the_report(head, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    report_path = tmp_path / "out" / "report.json"
    out = subprocess.run([sys.executable, "-m", "kubesim.cli", "submit", str(spec), "--address", head["dashboard"],
                          "--report", str(report_path), "--python", sys.executable],
                         env=env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "submitted job" in out.stdout and "nodes Ready" in out.stdout  # the job's log, streamed
    report = json.loads(report_path.read_text())
    assert report["runtime"] == "ray" and report["bootstrap"]["nodes_ready"] == 1
    [fault] = report["faults"]
    assert fault["targets"] == ["etcd/etcd-0"] and fault["ended"] - fault["started"] == pytest.approx(3.0, abs=0.5)
    assert report["availability"]["writes"]["sent"] > 0
    assert report["etcd"]["leader_changes"] >= 1  # the restarted member saw a leader again
    assert alive_actors(head["dashboard"]) == []


def test_interrupted_run_stops_every_actor(head, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "duration": "10m"}))
    run_env = {**env(), "RAY_ADDRESS": head["gcs"]}
    proc = subprocess.Popen([sys.executable, "-m", "kubesim.cli", "run", str(spec), "--run-dir", str(tmp_path / "run")],
                            env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(alive_actors(head["dashboard"])) < 5:  # registry, etcd, apiserver, ... started
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the run's actors never started"
            time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output[-3000:]
    assert "interrupted" in output
    assert alive_actors(head["dashboard"]) == []
