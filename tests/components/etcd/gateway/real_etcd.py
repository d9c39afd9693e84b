"""A pytest fixture: a real etcd 3.4 (/usr/bin/etcd) on free 127.0.0.1 ports."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_binary

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as resp:
            return json.load(resp).get("health") == "true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def start_etcd(binary: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start etcd and wait for /health; returns the process and its client URL."""
    client, peer = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
    log = open(data_dir / "etcd.log", "wb")  # the child keeps its own copy
    proc = subprocess.Popen(
        [
            binary,
            "--name",
            "default",
            "--data-dir",
            str(data_dir / "data"),
            "--listen-client-urls",
            client,
            "--advertise-client-urls",
            client,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"default={peer}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(client):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_etcd(proc)
            raise RuntimeError(
                f"etcd did not become healthy; log:\n{(data_dir / 'etcd.log').read_text()[-3000:]}"
            )
        time.sleep(0.05)
    return proc, client


def stop_etcd(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def real_etcd(tmp_path: Path) -> Iterator[str]:
    """The client URL of a fresh single-member etcd, killed afterwards."""
    proc, url = start_etcd(require_binary("etcd"), tmp_path)
    try:
        yield url
    finally:
        stop_etcd(proc)
