"""The Ray actor that hosts logical actors: one per control-plane component (or machine),
or one per pool of node agents. It owns an `ActorHost`, a batching transport whose batches
travel on stream links to its peers (links.py), and a Prometheus endpoint on 127.0.0.1.
Ray restarts it when its process dies; the new process restarts its logical actors from
their disks, with `ctx.incarnation` raised."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from pathlib import Path
from typing import Any

import ray

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.clock import ScaledWallClock
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.envelope import Envelope, unpack_batch
from kubesim.runtime.host import ActorHost
from kubesim.runtime.metrics import SIMULATED_SECONDS, SIMULATED_SECONDS_HELP, MetricsRegistry
from kubesim.runtime.ray.links import StreamLinks
from kubesim.runtime.ray.transport import BatchingTransport

DRAIN_SLICE = 500  # envelopes dispatched before yielding to timers and other tasks


def actor_name(run_id: str, host: str) -> str:
    return f"kubesim-{run_id}-{host}"


def registry_name(run_id: str) -> str:
    return f"kubesim-{run_id}-registry"


class _Proxy(Actor):
    """The host's stand-in for the driver: asks from the driver are calls from here."""

    def receive(self, sender: Address, message: Any) -> Any:
        raise RuntimeError(f"the driver proxy takes no messages (got one from {sender})")


class RegistryImpl:
    """Where every actor lives, what each host runs and where each host listens for
    links: the source a (re)started host reads.

    Kept in a Ray actor rather than on a disk, so hosts on any node of a Ray cluster see it.
    """

    def __init__(self) -> None:
        self.directory: dict[str, str] = {}
        self.specs: dict[str, list[ActorSpec]] = {}
        self.endpoints: dict[str, tuple[str, int]] = {}

    def set_endpoint(self, host: str, address: str, port: int) -> None:
        self.endpoints[host] = (address, port)

    def endpoint(self, host: str) -> tuple[str, int] | None:
        return self.endpoints.get(host)

    def add(self, host: str, specs: list[ActorSpec]) -> None:
        self.directory[f"driver/{host}"] = host
        for spec in specs:
            self.directory[str(spec.address)] = host
        self.specs.setdefault(host, []).extend(specs)

    def directory_entries(self) -> dict[str, str]:
        return self.directory

    def host_specs(self, host: str) -> list[ActorSpec]:
        return self.specs.get(host, [])


Registry = ray.remote(RegistryImpl)


class HostActorImpl:
    """Body of the Ray host actor (wrapped by `ray.remote` below)."""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config
        self.run_dir = Path(config["run_dir"])
        self.loop = asyncio.get_running_loop()
        state_dir = self.run_dir / "hosts"
        state_dir.mkdir(parents=True, exist_ok=True)
        self.incarnation = _bump(state_dir / f"{name}.incarnation")
        self.metrics = MetricsRegistry(process_metrics=True)
        self.port = self.metrics.serve(0)
        machines = {m["name"]: Machine(**m) for m in config["machines"]}
        machines.setdefault("driver", Machine("driver", zone="driver", role="driver"))
        self.directory: dict[str, str] = {}
        self._registry_handle: Any = None
        self.host = ActorHost(
            name,
            loop=self.loop,
            clock=ScaledWallClock(config["epoch"], config["time_scale"]),
            transmit=self._transmit,
            run_dir=self.run_dir,
            metrics=self.metrics,
            seed=config["seed"],
            cost=CostModel.from_dict(config["cost"]),
            machines=machines,
            call_timeout=config["call_timeout"],
        )
        runtime_metrics = self.metrics.handle({"host": name})
        self.links = StreamLinks(self._endpoint_of, self._receive, runtime_metrics)
        self.transport = BatchingTransport(
            name,
            self.loop,
            self.directory,
            self.links.send,
            self.host.deliver,
            runtime_metrics,
            max_batch=config["max_batch"],
            max_delay=config["max_delay"],
        )
        self.m_mailbox = runtime_metrics.gauge(
            "kubesim_mailbox_depth", "Envelopes received by this host and not yet dispatched."
        )
        runtime_metrics.gauge(SIMULATED_SECONDS, SIMULATED_SECONDS_HELP).set_function(self.host.clock.now)
        self.inbox: deque[Envelope] = deque()
        self._draining = False
        self._ready = self.loop.create_task(self._setup())

    async def _setup(self) -> None:
        registry = self._registry()
        self.directory.update(await registry.directory_entries.remote())
        self.host.spawn(ActorSpec(Address("driver", self.name), _Proxy, "driver"))
        for spec in await registry.host_specs.remote(self.name):
            self.host.spawn(spec, incarnation=self.incarnation)
            if self.incarnation:
                self.host.m_restarts.inc()
        address = ray.util.get_node_ip_address()  # 127.0.0.1 on a local Ray
        await registry.set_endpoint.remote(self.name, address, await self.links.listen(address))

    def _registry(self) -> Any:
        if self._registry_handle is None:
            self._registry_handle = ray.get_actor(registry_name(self.config["run_id"]),
                                                  namespace=self.config["namespace"])
        return self._registry_handle

    # plumbing -------------------------------------------------------------
    def _transmit(self, env: Envelope) -> None:
        self.transport.transmit(env)

    async def _endpoint_of(self, host: str) -> tuple[str, int] | None:
        return await self._registry().endpoint.remote(host)

    def _receive(self, batch: bytes) -> None:
        self.inbox.extend(unpack_batch(batch))
        self.m_mailbox.set(len(self.inbox))
        if not self._draining:
            self._draining = True
            self.loop.call_soon(self._drain)

    def _drain(self) -> None:
        for _ in range(min(DRAIN_SLICE, len(self.inbox))):
            self.host.deliver(self.inbox.popleft())
        self.m_mailbox.set(len(self.inbox))
        if self.inbox:
            self.loop.call_soon(self._drain)
        else:
            self._draining = False

    # remote methods ---------------------------------------------------------
    async def ask(self, address: str, message: Any, timeout: float | None) -> Any:
        await self._ready
        ctx = self.host.slots[f"driver/{self.name}"].ctx
        assert ctx is not None
        return await ctx.call(address, message, timeout)

    async def tell(self, address: str, message: Any) -> None:
        await self._ready
        ctx = self.host.slots[f"driver/{self.name}"].ctx
        assert ctx is not None
        ctx.send(address, message)

    async def spawn(self, spec: ActorSpec) -> None:
        await self._ready
        self.host.spawn(spec, incarnation=self.incarnation)

    async def update_directory(self, entries: dict[str, str]) -> None:
        await self._ready
        self.directory.update(entries)

    async def stop_actor(self, address: str) -> None:
        await self._ready
        self.host.stop(address)

    async def crash_actor(self, address: str) -> None:
        await self._ready
        self.host.crash(address)

    async def restart_actor(self, address: str) -> None:
        await self._ready
        self.host.restart(address)

    async def info(self) -> dict[str, Any]:
        await self._ready
        return {
            "name": self.name,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "metrics_port": self.port,
            "incarnation": self.incarnation,
            "actors": sum(1 for s in self.host.slots.values() if s.alive),
            "errors": [f"{where}: {exc!r}" for where, exc in self.host.errors],
        }

    async def samples(self, names: list[str]) -> list[tuple[str, dict[str, str], float]]:
        await self._ready
        return self.metrics.samples(names)

    async def shutdown(self) -> None:
        await self._ready
        for key, slot in list(self.host.slots.items()):
            if slot.alive:
                self.host.stop(key)
        self.transport.flush_all()
        self.links.close()
        self.metrics.close()


HostActor = ray.remote(HostActorImpl)


def _bump(path: Path) -> int:
    """Read, increment and persist this host's incarnation counter."""
    n = int(path.read_text()) + 1 if path.exists() else 0
    path.write_text(str(n))
    return n
