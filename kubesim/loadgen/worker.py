"""The load worker: runs a phase's object operations under its tuning set and the
pod-watching measurements, against any `APIClient`. It is what clusterloader2's
`simpleTestExecutor.ExecutePhase` and its informer-based measurements do.

Requests (plain data, so the same calls go over actor messages on a runtime or straight
to a local worker for a kubeconfig target):

    namespaces({"create": [...]} | {"delete": [...]})   -> {"ok", "errors", "error_samples"}
    phase({"tuning": TuningSet.spec(), "ops": [op, ...]}) -> {"ok", "errors", "error_samples", "calls"}
        op: {"verb": "create"|"patch"|"delete", "resource", "namespace", "name", "object"}
    measure({"method", "identifier", "action", "params"})  -> None (start) | gather result
    progress()                                          -> {"ok", "errors", "in_flight", "last_error"}

`calls` are the worker's own view of every request: [start (Unix s), seconds, verb,
resource, HTTP code]. Failed operations are counted and sampled, never retried blindly:
clusterloader2 fails the phase on errors, kubesim reports them and goes on.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from kubesim.api import status
from kubesim.components.client.api import APIClient
from kubesim.loadgen import tuning
from kubesim.loadgen.measurements.pods import WORKER_MEASUREMENTS, Clock

MERGE_PATCH = "application/merge-patch+json"
ERROR_SAMPLES = 5


class LoadWorker:
    def __init__(self, client: APIClient, now: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 rng: random.Random, spawn: Callable[[Any], asyncio.Task[Any]]) -> None:
        self.client = client
        self.clock = Clock(now, sleep, spawn)
        self.rng = rng
        self.ok = 0
        self.errors = 0
        self.in_flight = 0
        self.last_error = ""
        self.measurements: dict[str, Any] = {}

    def progress(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "in_flight": self.in_flight, "last_error": self.last_error}

    async def _do(self, op: dict[str, Any], result: dict[str, Any]) -> None:
        verb, resource, ns, name = op["verb"], op["resource"], op.get("namespace", ""), op["name"]
        started = self.clock.now()
        code = 200
        self.in_flight += 1
        try:
            if verb == "create":
                await self.client.create(resource, op["object"], ns)
                code = 201
            elif verb == "patch":
                await self.client.patch(resource, ns, name, op["object"], MERGE_PATCH)
            elif verb == "delete":
                await self.client.delete(resource, ns, name, propagation_policy=op.get("propagation"))
            else:
                raise ValueError(f"unknown operation {verb!r}")
            self.ok += 1
            result["ok"] += 1
        except status.APIError as exc:
            code = exc.code
            self.errors += 1
            result["errors"] += 1
            self.last_error = f"{verb} {resource} {ns}/{name}: {exc.code} {exc}"
            if len(result["error_samples"]) < ERROR_SAMPLES:
                result["error_samples"].append(self.last_error)
        finally:
            self.in_flight -= 1
        result["calls"].append([started, self.clock.now() - started, verb, resource, code])

    async def phase(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"ok": 0, "errors": 0, "error_samples": [], "calls": []}
        actions = [lambda op=op: self._do(op, result) for op in request["ops"]]
        await tuning.execute(request["tuning"], actions, self.clock.sleep, self.rng)
        return result

    async def namespaces(self, request: dict[str, Any]) -> dict[str, Any]:
        ops = [{"verb": "create", "resource": "namespaces", "name": n,
                "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}}
               for n in request.get("create", [])]
        ops += [{"verb": "delete", "resource": "namespaces", "name": n} for n in request.get("delete", [])]
        return await self.phase({"tuning": {"kind": "parallelismLimitedLoad", "parallelismLimit": 10}, "ops": ops})

    async def measure(self, request: dict[str, Any]) -> dict[str, Any] | None:
        identifier, method, action = request["identifier"], request["method"], request["action"]
        params = request.get("params") or {}
        if action == "start":
            m = WORKER_MEASUREMENTS[method](self.client, self.clock)
            self.measurements[identifier] = m
            await m.start(params)
            return None
        m = self.measurements.get(identifier)  # cl2 lets a measurement gather more than once
        if m is None:
            return {"summary": {}, "slos": [], "error": f"{identifier}: gather without start"}
        return await m.gather(params)
