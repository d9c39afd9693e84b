"""The load prober: clients that write and read through the apiserver load balancer at a
steady rate while faults run, and record every request's fate.

It is an actor on the load balancer's machine, so partitions and crashes reach it as they
would reach clients coming through the LB. It health-checks the replicas as the LB does
(`balancer.py`) and sends each request to the replica the LB would pick, over the
apiserver's message protocol (["request", req], server.py). Writes are merge PATCHes of
ConfigMaps, reads GETs of them (quorum reads), over a ring of as many objects as writes
can be in flight (rate x timeout), so the probe's own writes do not conflict (the
apiserver gives up a PATCH after 5 conflicts, endpoints/handlers/patch.go). A request
that gets no 2xx answer within the timeout counts as failed; the LB answers 503 when no
replica passes its checks.

Messages:
    ["start"]   create the probed ConfigMaps (retrying until the API takes them), then probe
    ["stop"]    stop sending; answers once every request in flight has finished
    ["results"] {"requests": [[kind, sent, finished, code, replica], ...],
                 "backend_changes": [[t, replica, up], ...]} (kind 0 = write, 1 = read)
    ["summary"] [[writes sent, writes ok], [reads sent, reads ok]] so far (finished ones)
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from kubesim.cluster.balancer import Balancer
from kubesim.components.apiserver.rest.requestinfo import request_info
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.context import Timer
from kubesim.runtime.errors import CallTimeout, RemoteError

WRITE, READ = 0, 1
NO_BACKEND = 503  # HAProxy's answer when no server is available
NO_ANSWER = 0  # timed out, or the connection died with the replica
NAMESPACE = "default"
OBJECT = "kubesim-probe"
PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps"


class LoadProber(Actor):
    def __init__(self, apiservers: list[str], token: str, writes_per_second: float,
                 reads_per_second: float, timeout: float, check_path: str, check_interval: float,
                 rise: int, fall: int) -> None:
        self.apiservers = list(apiservers)
        self.token = token
        self.write_period = 1.0 / writes_per_second
        self.read_period = 1.0 / reads_per_second if reads_per_second > 0 else None
        self.timeout = timeout
        self.check_path = check_path
        self.check_interval = check_interval
        self.balancer = Balancer(self.apiservers, rise, fall)
        self.requests: list[list[Any]] = []
        self.backend_changes: list[list[Any]] = []
        self.timers: list[Timer] = []
        self.in_flight = 0
        self.counts = [[0, 0], [0, 0]]  # per kind: finished, succeeded
        self.seq = 0
        self.reads = 0
        self.ring = math.ceil(writes_per_second * timeout) + 1

    def receive(self, sender: Address, message: Any) -> Any:
        op = message[0]
        if op == "start":
            return self._start()
        if op == "stop":
            return self._stop()
        if op == "summary":
            return self.counts
        if op == "results":
            return {"requests": self.requests, "backend_changes": self.backend_changes}
        raise ValueError(f"load prober: unknown message {op!r}")

    def _request(self, method: str, path: str, body: Any = None,
                 content_type: str = "application/json") -> dict[str, Any]:
        req = request_info(method, path, {})
        req.update(token=self.token, accept="application/json", content_type=content_type)
        if body is not None:
            req["body"] = json.dumps(body).encode()
        return req

    async def _send(self, replica: str, req: dict[str, Any], timeout: float) -> int:
        try:
            reply = await self.ctx.call(replica, ["request", req], timeout=timeout)
        except (CallTimeout, RemoteError):
            return NO_ANSWER
        return int(reply["code"])

    async def _start(self) -> None:
        await asyncio.gather(*(self._create(f"{OBJECT}-{i}") for i in range(self.ring)))
        ctx = self.ctx
        self.timers.append(ctx.call_every(self.check_interval, self._check_all))
        self.timers.append(ctx.call_every(self.write_period, self._probe, WRITE, first=0.0))
        if self.read_period is not None:
            self.timers.append(ctx.call_every(self.read_period, self._probe, READ, first=self.read_period / 2))

    async def _create(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": NAMESPACE}, "data": {"seq": "0"}}
        while True:
            replica = self.balancer.pick() or self.apiservers[0]
            code = await self._send(replica, self._request("POST", PATH, body), self.timeout)
            if 200 <= code < 300 or code == 409:  # 409: created by an attempt that timed out
                return
            await self.ctx.sleep(1.0)

    async def _stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers = []
        while self.in_flight:
            await self.ctx.sleep(0.1)

    def _check_all(self) -> None:
        for replica in self.apiservers:
            self.ctx.spawn(self._check(replica))

    async def _check(self, replica: str) -> None:
        req = self._request("GET", self.check_path)
        code = await self._send(replica, req, self.check_interval)
        flipped = self.balancer.check_result(replica, code == 200)
        if flipped is not None:
            self.backend_changes.append([self.ctx.now(), replica, flipped])

    def _probe(self, kind: int) -> None:
        self.ctx.spawn(self._one(kind))

    async def _one(self, kind: int) -> None:
        sent = self.ctx.now()
        replica = self.balancer.pick()
        if replica is None:
            self._record(kind, sent, NO_BACKEND, "")
            return
        if kind == WRITE:
            self.seq += 1
            req = self._request("PATCH", f"{PATH}/{OBJECT}-{self.seq % self.ring}", {"data": {"seq": str(self.seq)}},
                                content_type="application/merge-patch+json")
        else:
            self.reads += 1
            req = self._request("GET", f"{PATH}/{OBJECT}-{self.reads % self.ring}")
        self.in_flight += 1
        try:
            code = await self._send(replica, req, self.timeout)
        finally:
            self.in_flight -= 1
        self._record(kind, sent, code, replica)

    def _record(self, kind: int, sent: float, code: int, replica: str) -> None:
        self.requests.append([kind, sent, self.ctx.now(), code, replica])
        self.counts[kind][0] += 1
        self.counts[kind][1] += 200 <= code < 300
