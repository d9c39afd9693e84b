"""etcd clusters to compare against each other over the v3 JSON gateway: a real etcd 3.4
(processes of the `etcd` binary on 127.0.0.1) and a kubesim etcd on the ray runtime with
every member serving the gateway. Used by the differential tests and by `make bench`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


# ---------------------------------------------------------------------------- real etcd
def free_ports(n: int) -> list[int]:
    """`n` distinct free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as resp:
            return json.load(resp).get("health") == "true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextmanager
def real_etcd_cluster(
    binary: str, size: int = 1, workdir: Path | None = None, timeout: float = START_TIMEOUT
) -> Iterator[list[str]]:
    """A `size`-member real etcd on 127.0.0.1 (default flags, own ports and data dirs);
    its client URLs once every member reports healthy; every process stopped afterwards."""
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="kubesim-etcd-")) if workdir is None else workdir
    ports = free_ports(2 * size)
    names = [f"m{i}" for i in range(size)]
    clients = [f"http://127.0.0.1:{ports[2 * i]}" for i in range(size)]
    peers = [f"http://127.0.0.1:{ports[2 * i + 1]}" for i in range(size)]
    initial = ",".join(f"{n}={p}" for n, p in zip(names, peers, strict=True))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, client, peer in zip(names, clients, peers, strict=True):
            with open(root / f"{name}.log", "wb") as log:  # the child keeps its own copy
                procs.append(
                    subprocess.Popen(
                        [binary, "--name", name, "--data-dir", str(root / name),
                         "--listen-client-urls", client, "--advertise-client-urls", client,
                         "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                         "--initial-cluster", initial, "--initial-cluster-state", "new",
                         "--initial-cluster-token", f"kubesim-{os.getpid()}"],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + timeout
        while not all(healthy(c) for c in clients):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                logs = "\n".join((root / f"{n}.log").read_text()[-1500:] for n in names)
                raise RuntimeError(f"real etcd did not become healthy:\n{logs}")
            time.sleep(0.05)
        yield clients
    finally:
        _stop(procs)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def etcd_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "etcd"


# ---------------------------------------------------------------------------- kubesim on ray
@dataclass
class GatewayCluster:
    runtime: Any  # the RayRuntime
    endpoints: list[str]  # member actor addresses
    urls: list[str]  # each member's gateway, in the same order
    leader: int  # the index of the leader when the cluster came up

    @property
    def leader_url(self) -> str:
        return self.urls[self.leader]

    @property
    def follower_url(self) -> str:
        return self.urls[(self.leader + 1) % len(self.urls)]


async def wait_for_leader(rt: Any, endpoints: list[str], timeout: float = START_TIMEOUT) -> int:
    """Poll every member's status (wall clock) until all agree on a leader; its index."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        replies = await asyncio.gather(
            *(rt.ask(e, ["kv", "status", {}], timeout=5.0) for e in endpoints),
            return_exceptions=True,
        )
        ok = [r[1] for r in replies if isinstance(r, list) and r and r[0] == "ok"]
        leaders = {s["leader"] for s in ok}
        ids = {s["header"]["member_id"]: i for i, s in enumerate(ok)}
        if len(ok) == len(endpoints) and len(leaders) == 1 and 0 not in leaders:
            return ids[leaders.pop()]
        if loop.time() > deadline:
            raise TimeoutError(f"no etcd leader after {timeout} s: {replies!r}")
        await asyncio.sleep(0.1)


@contextmanager
def ray_gateway_cluster(
    run_dir: Path | None = None, size: int = 3, seed: int = 1
) -> Iterator[GatewayCluster]:
    """A `size`-member kubesim etcd on the ray runtime (Ray must be initialised), every
    member serving the v3 JSON gateway on a free 127.0.0.1 port; closed afterwards."""
    from kubesim.components.etcd.cluster import place_etcd
    from kubesim.runtime.ray.runtime import RayRuntime

    rt = RayRuntime(seed=seed, run_dir=run_dir)
    try:
        endpoints = place_etcd(rt, size, settings={"gateway_port": 0})

        async def up(r: Any) -> tuple[int, list[int]]:
            leader = await wait_for_leader(r, endpoints)
            ports = await asyncio.gather(*(r.ask(e, ["gateway"], timeout=10.0) for e in endpoints))
            return leader, list(ports)

        leader, ports = rt.run(up)
        if not all(isinstance(p, int) and p > 0 for p in ports):
            raise RuntimeError(f"a member serves no gateway: {ports}")
        yield GatewayCluster(rt, endpoints, [f"http://127.0.0.1:{p}" for p in ports], leader)
    finally:
        rt.close()
