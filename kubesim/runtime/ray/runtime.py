"""The `ray` runtime: the driver side. It groups logical actors into host actors (an actor
whose spec names no host gets a Ray actor of its own, as control-plane components do;
node agents share pool hosts), starts them spread over the Ray cluster, tells every host
where every actor lives, and runs the driver coroutine on wall-clock time."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, as_wire
from kubesim.runtime.base import Runtime
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.metrics import write_file_sd
from kubesim.runtime.ray.host_actor import HostActor, Registry, actor_name, registry_name
from kubesim.runtime.ray.local import ensure_ray

T = TypeVar("T")


class RayRuntime(Runtime):
    """Logical actors on Ray host actors."""

    def __init__(
        self,
        seed: int = 0,
        cost: CostModel | None = None,
        run_dir: str | Path | None = None,
        *,
        address: str | None = None,
        time_scale: float = 1.0,
        max_batch: int = 1000,
        max_delay: float = 0.002,
        call_timeout: float = 30.0,
        host_per_machine: bool = False,
    ) -> None:
        super().__init__(seed, cost or CostModel.load())
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self._own_dir = run_dir is None
        self.run_dir = Path(tempfile.mkdtemp(prefix="kubesim-ray-")) if run_dir is None else Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.time_scale = time_scale
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.call_timeout = call_timeout
        self.host_per_machine = host_per_machine
        self.run_id = uuid.uuid4().hex[:8]
        self.namespace = f"kubesim-{self.run_id}"
        self.directory: dict[str, str] = {}
        self.hosts: dict[str, Any] = {}
        self._pending: dict[str, list[ActorSpec]] = {}
        self._started_ray = False
        self._epoch = 0.0
        self._registry: Any = None
        #: the file_sd targets file, rewritten whenever host actors start (a Prometheus
        #: reading it scrapes every host from its first moments)
        self.targets_file = self.run_dir / "prometheus" / "targets.json"
        self._metrics_ports: dict[str, int] = {}

    # placement ------------------------------------------------------------
    def host_of(self, spec: ActorSpec) -> str:
        """The host actor a spec lands on: its `host` group, else one per machine
        (`host_per_machine`: a machine's components share one Ray process, as they share
        one machine) or one of its own."""
        if spec.host:
            return spec.host
        return f"machine-{spec.machine}" if self.host_per_machine else f"{spec.address.kind}-{spec.address.name}"

    def _place(self, spec: ActorSpec) -> str:
        key = str(spec.address)
        if key in self.specs:
            raise ValueError(f"{key} already exists")
        if spec.machine not in self.machines:
            raise ValueError(f"{key}: unknown machine {spec.machine!r}")
        self.specs[key] = spec
        host = self.host_of(spec)
        self.directory[key] = host
        return host

    def spawn(self, spec: ActorSpec) -> None:
        if self.hosts:
            raise RuntimeError("the run has started: use `await runtime.spawn_live(spec)`")
        self._pending.setdefault(self._place(spec), []).append(spec)

    async def spawn_live(self, spec: ActorSpec) -> None:
        host = self._place(spec)
        entry = {str(spec.address): host, f"driver/{host}": host}
        await asyncio.gather(*(h.update_directory.remote(entry) for h in self.hosts.values()))
        if host in self.hosts:
            await self._registry.add.remote(host, [spec])
            await self.hosts[host].spawn.remote(spec)
        else:
            self._pending[host] = [spec]
            await self._create_hosts()

    def _config(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "namespace": self.namespace,
            "run_dir": str(self.run_dir),
            "seed": self.seed,
            "cost": self.cost.to_dict(),
            "machines": [
                {"name": m.name, "zone": m.zone, "role": m.role} for m in self.machines.values()
            ],
            "epoch": self._epoch,
            "time_scale": self.time_scale,
            "max_batch": self.max_batch,
            "max_delay": self.max_delay,
            "call_timeout": self.call_timeout,
        }

    async def _create_hosts(self) -> None:
        if self._registry is None:
            self._registry = Registry.options(
                name=registry_name(self.run_id), namespace=self.namespace, num_cpus=0
            ).remote()
        await asyncio.gather(*(self._registry.add.remote(h, s) for h, s in self._pending.items()))
        created = {}
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        for host in self._pending:
            self.directory[f"driver/{host}"] = host
            # round robin over the Ray machines alive at start: SPREAD is best effort (6/3/3/0
            # on four machines in one run) and a soft affinity spilled as much (5/4/2/1); a
            # hard one holds, so a host whose Ray machine is gone is not restarted elsewhere
            node = nodes[(len(self.hosts) + len(created)) % len(nodes)]
            created[host] = HostActor.options(
                name=actor_name(self.run_id, host),
                namespace=self.namespace,
                max_restarts=-1,
                max_task_retries=0,
                num_cpus=0,
                max_concurrency=10_000,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
            ).remote(host, self._config())
        self._pending = {}
        self.hosts.update(created)
        infos = await asyncio.gather(*(h.info.remote() for h in created.values()))
        self._metrics_ports.update({info["name"]: info["metrics_port"] for info in infos})
        self._write_file_sd(self.targets_file, self._metrics_ports)

    # running --------------------------------------------------------------
    def start(self) -> None:
        """Connect to Ray and start the host actors of every actor spawned so far."""
        if self.hosts:
            return
        self._started_ray = ensure_ray(self.address)
        self._epoch = time.time()
        asyncio.run(self._create_hosts())

    def run(self, main: Callable[[Any], Awaitable[T]]) -> T:
        self.start()
        return asyncio.run(self._main(main))

    async def _main(self, main: Callable[[Any], Awaitable[T]]) -> T:
        return await main(self)

    def now(self) -> float:
        return (time.time() - self._epoch) * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.time_scale)

    def _handle(self, address: Address | str) -> Any:
        key = as_wire(address)
        host = self.directory.get(key)
        if host is None:
            raise KeyError(f"no actor {key}")
        return self.hosts[host]

    async def ask(self, address: Address | str, message: Any, timeout: float | None = None) -> Any:
        return await self._handle(address).ask.remote(as_wire(address), message, timeout)

    async def tell(self, address: Address | str, message: Any) -> None:
        await self._handle(address).tell.remote(as_wire(address), message)

    async def stop_actor(self, address: Address | str) -> None:
        await self._handle(address).stop_actor.remote(as_wire(address))

    async def crash_actor(self, address: Address | str) -> None:
        await self._handle(address).crash_actor.remote(as_wire(address))

    async def restart_actor(self, address: Address | str) -> None:
        await self._handle(address).restart_actor.remote(as_wire(address))

    async def crash_machine(self, name: str) -> None:
        """Power loss of a simulated machine: every actor placed on it crashes."""
        if name not in self.machines:
            raise ValueError(f"unknown machine {name!r}")
        await asyncio.gather(*(self.crash_actor(a) for a in self.actors_on(name)))

    async def restart_machine(self, name: str) -> None:
        """The machine boots again: its actors restart from their disks."""
        await asyncio.gather(*(self.restart_actor(a) for a in self.actors_on(name)))

    async def kill_host(self, host: str) -> None:
        """Kill a host actor's process; Ray restarts it and its actors restart from disk."""
        ray.kill(self.hosts[host], no_restart=False)

    async def host_info(self) -> dict[str, dict[str, Any]]:
        infos = await asyncio.gather(*(h.info.remote() for h in self.hosts.values()))
        return {info["name"]: info for info in infos}

    async def metric_samples(self, names: Sequence[str]) -> list[tuple[str, dict[str, str], float]]:
        parts = await asyncio.gather(*(h.samples.remote(list(names)) for h in self.hosts.values()))
        return [sample for part in parts for sample in part]

    async def write_targets(self, path: str | Path | None = None) -> Path:
        """Write the Prometheus file_sd targets of every host actor's /metrics endpoint."""
        infos = await self.host_info()
        return self._write_file_sd(Path(path) if path else self.targets_file,
                                   {name: info["metrics_port"] for name, info in infos.items()})

    @staticmethod
    def _write_file_sd(path: Path, ports: dict[str, int]) -> Path:
        return write_file_sd(
            path,
            [(f"127.0.0.1:{port}", {"job": "kubesim", "kubesim_host": name}) for name, port in sorted(ports.items())],
        )

    def close(self) -> None:
        if self.hosts:
            try:
                ray.get([h.shutdown.remote() for h in self.hosts.values()], timeout=30)
            except Exception:  # a host that is dead or stuck is killed below anyway
                pass
            for handle in self.hosts.values():
                ray.kill(handle, no_restart=True)
            self.hosts = {}
        if self._registry is not None:
            ray.kill(self._registry, no_restart=True)
            self._registry = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> RayRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
