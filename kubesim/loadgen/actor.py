"""The load worker as an actor on a runtime: the in-process fast path. It reaches the
apiserver replicas through the actor-message `ApiserverClient` as the cluster admin (bearer
token), tells time as the apiservers do (their epoch plus the runtime clock, so watch times
and API timestamps share one clock), and answers the driver's requests:

    ["phase", request] | ["namespaces", request] | ["measure", request] | ["progress"]

(see `worker.py` for the requests and replies).
"""

from __future__ import annotations

from typing import Any

from kubesim.components.apiserver.client import ApiserverClient
from kubesim.loadgen.worker import LoadWorker
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address


class LoadWorkerActor(Actor):
    def __init__(self, apiservers: list[str], token: str, epoch: float) -> None:
        self.apiservers = list(apiservers)
        self.token = token
        self.epoch = epoch
        self.worker: LoadWorker | None = None

    def on_start(self) -> None:
        client = ApiserverClient(self.ctx, self.apiservers, user_agent="kubesim-load", token=self.token)
        self.worker = LoadWorker(client, lambda: self.epoch + self.ctx.now(), self.ctx.sleep,
                                 self.ctx.random, self.ctx.spawn)

    def receive(self, sender: Address, message: Any) -> Any:
        assert self.worker is not None
        op = message[0]
        if op == "progress":
            return self.worker.progress()
        if op == "phase":
            return self.worker.phase(message[1])
        if op == "namespaces":
            return self.worker.namespaces(message[1])
        if op == "measure":
            return self.worker.measure(message[1])
        raise ValueError(f"load worker: unknown message {op!r}")
