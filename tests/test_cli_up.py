"""`kubesim up` as a user runs it: a subprocess that starts its own local Ray, writes a
kubeconfig that kubectl uses as is, and on Ctrl-C (SIGINT) stops, leaving no Ray process
(and so no Ray actor) behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_binary

pytestmark = pytest.mark.ray

START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


def session_processes(sid: int) -> list[str]:
    """The processes of session `sid` besides its leader (the Ray that `kubesim up`
    starts, its GCS, raylet and actor workers, live in its session)."""
    out = subprocess.run(["ps", "-e", "-ww", "-o", "sid=,pid=,args="], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [" ".join(row[1:]) for row in rows
            if len(row) >= 2 and row[0] == str(sid) and row[1] != str(sid)]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_kubesim_up_serves_kubectl_and_stops_on_sigint(tmp_path: Path):
    kubectl = require_binary("kubectl")
    kubeconfig = tmp_path / "kubeconfig"
    log = (tmp_path / "up.log").open("w")
    # a Ray of its own even when another one runs on this machine (`ray start` would be joined)
    env = {**os.environ, "RAY_ADDRESS": "local"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim.cli", "up", "--etcd", "1", "--kubeconfig", str(kubeconfig),
         "--run-dir", str(tmp_path / "run")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for(lambda: kubeconfig.exists() or proc.poll() is not None, START_TIMEOUT,
                 "the kubeconfig")
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"

        def run(*args: str) -> str:
            out = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), *args],
                                 capture_output=True, text=True, timeout=60,
                                 env={**env, "HOME": str(tmp_path)})
            assert out.returncode == 0, out.stderr
            return out.stdout

        namespaces = run("get", "namespaces", "-o", "name").split()
        assert {"namespace/default", "namespace/kube-system"} <= set(namespaces)
        manifest = tmp_path / "hello.yaml"
        manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n"
                            "data: {a: b}\n")
        assert run("apply", "-f", str(manifest)).strip() == "configmap/hello created"
        assert json.loads(run("get", "configmap", "hello", "-o", "json"))["data"] == {"a": "b"}
        running = session_processes(proc.pid)
        assert any("raylet" in p for p in running), running  # its own Ray, in its session
        assert sum("ray::HostActor" in p for p in running) >= 2, running  # etcd, apiserver

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        output = (tmp_path / "up.log").read_text()
        assert "kube-apiserver is running at https://127.0.0.1:" in output
        assert "stopping" in output
        wait_for(lambda: not session_processes(proc.pid), STOP_TIMEOUT, "Ray to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
        leftover = session_processes(proc.pid)
        if leftover:  # do not leave a stray Ray behind even when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
