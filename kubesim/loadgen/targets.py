"""Where a load test runs: the simulated cluster in-process, or any cluster a kubeconfig
reaches. The driver sees one interface:

    target.nodes                       schedulable nodes (the config's `.Nodes`)
    await target.worker(op, request)   the load worker's `phase` / `namespaces` / `measure` / `progress`
    await target.samples(names)        current Prometheus samples (name, labels, value)
    target.now(), await target.sleep(s)  the target's clock (simulated seconds on `sim`)

`RuntimeTarget` hosts the worker as an actor beside the simulated components (its client
speaks actor messages to the apiserver replicas) and reads metrics from every actor's
registry; `KubeconfigTarget` runs the worker in this process over HTTP
(`kubesim/components/client/http.py`) and scrapes the apiserver's /metrics (etcd and
kube-proxy metrics are not reachable through a kubeconfig, so those measurements report
no data there).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

from kubesim.loadgen.histogram import Sample
from kubesim.loadgen.worker import LoadWorker
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address
from kubesim.runtime.base import Runtime

WORKER_TIMEOUT = 24 * 3600.0  # a phase may run for simulated hours


class RuntimeTarget:
    kind = "sim"

    def __init__(self, runtime: Runtime, address: str, nodes: int, description: str) -> None:
        self.rt = runtime
        self.address = address
        self.nodes = nodes
        self.description = description

    @staticmethod
    def spawn_worker(runtime: Runtime, machine: str, apiservers: list[str], token: str, epoch: float) -> str:
        """Place the load worker actor (before the run starts); its address."""
        from kubesim.loadgen.actor import LoadWorkerActor

        address = Address("load-worker", machine)
        runtime.spawn(ActorSpec(address=address, factory=LoadWorkerActor, machine=machine,
                                kwargs={"apiservers": apiservers, "token": token, "epoch": epoch},
                                metric_labels={"instance": "load-worker", "job": "loadgen"}))
        return str(address)

    async def worker(self, op: str, request: Any = None) -> Any:
        message = [op] if request is None else [op, request]
        return await self.rt.ask(self.address, message, timeout=WORKER_TIMEOUT)

    async def samples(self, names: Sequence[str]) -> list[Sample]:
        return await self.rt.metric_samples(list(names))

    def now(self) -> float:
        return self.rt.now()

    async def sleep(self, seconds: float) -> None:
        await self.rt.sleep(seconds)


class KubeconfigTarget:
    kind = "kubeconfig"

    def __init__(self, client: Any, nodes: int, description: str, seed: int = 0) -> None:
        self.client = client
        self.nodes = nodes
        self.description = description
        self.started = time.monotonic()
        self._worker = LoadWorker(client, time.time, asyncio.sleep, random.Random(seed), asyncio.ensure_future)

    async def worker(self, op: str, request: Any = None) -> Any:
        method = getattr(self._worker, op)
        result = method() if request is None else method(request)
        return await result if asyncio.iscoroutine(result) else result

    async def samples(self, names: Sequence[str]) -> list[Sample]:
        return await self.client.metric_samples(names)

    def now(self) -> float:
        return time.monotonic() - self.started

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
