"""The apiserver load workload: one actor drives the apiserver replicas through several
ApiserverClients (each sticks to a replica it picked at random, so the load spreads as
in-cluster clients' does) and measures requests/s and latency per verb, and how fast watch
events reach watchers. `bench/apiserver_bench.py` runs it on the ray runtime.

Messages:
    ["phase", verb, seconds] -> figures: `workers` concurrent loops of one verb (create,
        get, list, update, patch, delete) for `seconds`; each worker reads and writes only
        ConfigMaps it created itself, so writes do not conflict with each other
    ["watch", watchers, events, timeout] -> figures: `watchers` watches of one namespace
        spread over the clients, then `events` creates into it; the latency of an event is
        from the create being sent to the event reaching a watcher; watchers that have not
        seen every event `timeout` seconds after the writes are given up (`complete` false)
    ["replicas"] -> the replica each client is connected to

Figures: {"requests", "errors", "seconds", "requests_per_second", "p50_ms", "p99_ms"}.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import ApiserverClient
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address

VERBS = ("create", "get", "list", "update", "patch", "delete")
NAMESPACE = "load"
LIST_NAMESPACE = "load-list"  # holds `list_objects` ConfigMaps for the list phase
WATCH_NAMESPACE = "load-watch"
MERGE_PATCH = "application/merge-patch+json"


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    return {"requests": len(latencies), "errors": errors, "seconds": round(seconds, 3),
            "requests_per_second": round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2)}


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}


class ApiLoad(Actor):
    """See the module docstring; `client_options` are ApiserverClient keyword arguments."""

    def __init__(self, replicas: list[str], clients: int = 8, workers_per_client: int = 4,
                 list_objects: int = 100, client_options: dict[str, Any] | None = None) -> None:
        self.replicas = replicas
        self.client_count = clients
        self.workers_per_client = workers_per_client
        self.list_objects = list_objects
        self.client_options = dict(client_options or {})
        self.owned: dict[int, dict[str, dict[str, Any]]] = {}  # worker -> name -> latest object
        self.next_name = 0
        self.prepared = False

    def on_start(self) -> None:
        self.clients = [ApiserverClient(self.ctx, self.replicas, user_agent="kubesim-apiload",
                                        **self.client_options)
                        for _ in range(self.client_count)]
        self.workers = self.client_count * self.workers_per_client

    def receive(self, sender: Address, message: Any) -> Any:
        if message[0] == "phase":
            return self._phase(str(message[1]), float(message[2]))
        if message[0] == "watch":
            return self._watch(int(message[1]), int(message[2]), float(message[3]))
        if message[0] == "replicas":
            return [c.replica for c in self.clients]
        raise ValueError(f"apiload: unknown message {message[0]!r}")

    def _client(self, worker: int) -> ApiserverClient:
        return self.clients[worker % self.client_count]

    async def _prepare(self) -> None:
        if self.prepared:
            return
        client = self.clients[0]
        for ns in (NAMESPACE, LIST_NAMESPACE, WATCH_NAMESPACE):
            try:
                await client.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": ns}})
            except APIError as err:
                if err.code != 409:
                    raise
        for i in range(self.list_objects):
            await client.create("configmaps", configmap(f"listed-{i}", LIST_NAMESPACE, v="x" * 64))
        self.prepared = True

    async def _phase(self, verb: str, seconds: float) -> dict[str, Any]:
        if verb not in VERBS:
            raise ValueError(f"apiload: unknown verb {verb!r}")
        await self._prepare()
        latencies: list[float] = []
        errors = [0]
        started = self.ctx.now()
        deadline = started + seconds

        async def worker(w: int) -> None:
            client = self._client(w)
            owned = self.owned.setdefault(w, {})
            names = list(owned)
            i = 0
            while self.ctx.now() < deadline:
                if verb in ("get", "update", "patch", "delete") and not names:
                    return
                t0 = self.ctx.now()
                try:
                    if verb == "create":
                        self.next_name += 1
                        obj = await client.create("configmaps", configmap(
                            f"obj-{w}-{self.next_name}", NAMESPACE, v="0"))
                        owned[obj["metadata"]["name"]] = obj
                    elif verb == "get":
                        await client.get("configmaps", NAMESPACE, names[i % len(names)])
                    elif verb == "list":
                        await client.list("configmaps", LIST_NAMESPACE)
                    elif verb == "update":
                        name = names[i % len(names)]
                        obj = owned[name]
                        owned[name] = await client.update("configmaps", dict(obj, data={"v": str(i)}))
                    elif verb == "patch":
                        name = names[i % len(names)]
                        owned[name] = await client.patch("configmaps", NAMESPACE, name,
                                                         {"data": {"p": str(i)}}, MERGE_PATCH)
                    else:
                        name = names.pop()
                        del owned[name]
                        await client.delete("configmaps", NAMESPACE, name)
                except APIError:
                    errors[0] += 1
                    continue
                finally:
                    i += 1
                latencies.append(self.ctx.now() - t0)

        await asyncio.gather(*(worker(w) for w in range(self.workers)))
        return figures(latencies, errors[0], self.ctx.now() - started)

    async def _watch(self, watchers: int, events: int, timeout: float) -> dict[str, Any]:
        await self._prepare()
        writer = self.clients[0]
        rv = (await writer.list("configmaps", WATCH_NAMESPACE, limit=1))["metadata"]["resourceVersion"]
        streams = [await self._client(i).watch("configmaps", WATCH_NAMESPACE, resource_version=rv,
                                               allow_watch_bookmarks=False)
                   for i in range(watchers)]
        latencies: list[float] = []
        last = [0.0]

        async def consume(stream: Any) -> None:
            seen = 0
            while seen < events:
                event = await stream.next()
                if event is None:
                    raise RuntimeError("a watch ended during the watch phase")
                if event["type"] == "ADDED":
                    seen += 1
                    latencies.append(self.ctx.now() - float(event["object"]["data"]["t"]))
                    last[0] = self.ctx.now()

        consumers = [self.ctx.spawn(consume(s)) for s in streams]
        started = self.ctx.now()
        base = self.next_name
        self.next_name += events
        writers = min(self.workers, events)

        async def write(w: int) -> None:
            for k in range(w, events, writers):
                await self._client(w).create("configmaps", configmap(
                    f"watched-{base + k}", WATCH_NAMESPACE, t=repr(self.ctx.now())))

        await asyncio.gather(*(write(w) for w in range(writers)))
        done, late = await asyncio.wait(consumers, timeout=timeout)
        for task in late:
            task.cancel()
        for stream in streams:
            await stream.stop()
        for task in consumers:
            if task in done and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        out = figures(latencies, 0, last[0] - started)
        out.update(watchers=watchers, events_written=events,
                   events_delivered=len(latencies), complete=not late)
        out["events_per_second"] = out.pop("requests_per_second")
        del out["requests"], out["errors"]
        return out
