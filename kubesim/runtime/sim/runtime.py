"""The deterministic `sim` runtime: every logical actor in one process on a virtual clock.

Messages between machines cross the network model (latency per link class from the
cost model, partitions, injected drop/duplicate/reorder); machines crash and restart
with their disks. A seed fixes everything, and the trace hash proves it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import DRIVER, Runtime
from kubesim.runtime.clock import LoopClock
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.envelope import Envelope, Kind, pack, unpack
from kubesim.runtime.host import ActorHost
from kubesim.runtime.metrics import (
    SIMULATED_SECONDS,
    SIMULATED_SECONDS_HELP,
    MetricsRegistry,
    write_file_sd,
)
from kubesim.runtime.network import HOLD, LinkClass, NetworkModel
from kubesim.runtime.seeding import stream
from kubesim.runtime.sim.collector import SIM_GC_THRESHOLDS, collector_thresholds
from kubesim.runtime.sim.loop import VirtualClockLoop
from kubesim.runtime.sim.trace import TraceHash

T = TypeVar("T")
log = logging.getLogger("kubesim.sim")

DRIVER_MACHINE = "driver"


class ActorFailed(RuntimeError):
    """A logical actor raised during a sim run (the run is strict by default)."""


class _DriverActor(Actor):
    """The driver's own address, so replies to its asks have somewhere to go."""

    def receive(self, sender: Address, message: Any) -> Any:
        raise RuntimeError(f"the driver does not take messages (got one from {sender})")


class SimRuntime(Runtime):
    """All actors on one `ActorHost` driven by a `VirtualClockLoop`."""

    def __init__(
        self,
        seed: int = 0,
        cost: CostModel | None = None,
        run_dir: str | Path | None = None,
        *,
        encode_messages: bool = True,
        call_timeout: float = 30.0,
        strict: bool = True,
        gc_thresholds: tuple[int, int, int] | None = SIM_GC_THRESHOLDS,
    ) -> None:
        super().__init__(seed, cost or CostModel.load())
        self._own_dir = run_dir is None
        self.run_dir = Path(tempfile.mkdtemp(prefix="kubesim-sim-")) if run_dir is None else Path(run_dir)
        self.encode_messages = encode_messages
        self.strict = strict
        self.gc_thresholds = gc_thresholds  # the collector's pace during `run` (collector.py)
        self.loop = VirtualClockLoop()
        self.clock = LoopClock(self.loop)
        self.metrics = MetricsRegistry(process_metrics=True)
        self.trace = TraceHash()
        self.network = NetworkModel(
            latency={c: self.cost.latency(f"network.{c.value}") for c in LinkClass},
            rng=stream(seed, "network"),
        )
        self._disk_slowdown: dict[str, float] = {}
        self.host = ActorHost(
            "sim",
            loop=self.loop,
            clock=self.clock,
            transmit=self._transmit,
            run_dir=self.run_dir,
            metrics=self.metrics,
            seed=seed,
            cost=self.cost,
            machines=self.machines,
            call_timeout=call_timeout,
            disk_slowdown=lambda m: self._disk_slowdown.get(m, 1.0),
        )
        self._m_sent = self.metrics.handle({"host": "sim"}).counter(
            "kubesim_messages_sent_total", "Envelopes sent by logical actors on this host."
        )
        self.metrics.handle({"host": "sim"}).gauge(SIMULATED_SECONDS, SIMULATED_SECONDS_HELP).set_function(
            self.clock.now)
        self._down: dict[str, list[str]] = {}
        self.add_machine(Machine(DRIVER_MACHINE, zone="driver", role="driver"))
        self._driver = ActorSpec(Address.parse(DRIVER), _DriverActor, DRIVER_MACHINE)
        self.host.spawn(self._driver)
        self._checked_errors = 0

    # placement ------------------------------------------------------------
    def add_machine(self, machine: Machine) -> None:
        super().add_machine(machine)
        self.network.add_machine(machine)

    def spawn(self, spec: ActorSpec) -> None:
        key = str(spec.address)
        if key in self.specs:
            raise ValueError(f"{key} already exists")
        if spec.machine in self._down:
            raise ValueError(f"{key}: machine {spec.machine} is down")
        self.host.spawn(spec)
        self.specs[key] = spec

    async def spawn_live(self, spec: ActorSpec) -> None:
        self.spawn(spec)

    # transport ------------------------------------------------------------
    def _transmit(self, env: Envelope) -> None:
        self._m_sent.inc()
        data = pack(env.payload) if self.encode_messages else b""
        if env.src == DRIVER or env.dst == DRIVER:
            self.loop.call_soon(self._arrive, env, data)
            return
        self._route(env, data)

    def _route(self, env: Envelope, data: bytes) -> None:
        src_spec = self.specs.get(env.src)
        dst_spec = self.specs.get(env.dst)
        if src_spec is None or dst_spec is None:
            return  # unknown address: the message goes nowhere, as to an unroutable IP
        plan = self.network.plan(
            src_spec.machine, dst_spec.machine, (env.src, env.dst), self.loop.time(), (env, data)
        )
        if plan == HOLD:
            return
        if env.kind is not Kind.SEND:
            plan = plan[:1]  # calls and replies ride a connection: lost or late, never doubled
        for delay in plan:
            self.loop.call_later(delay, self._arrive, env, data)

    def _arrive(self, env: Envelope, data: bytes) -> None:
        if self.encode_messages:
            env = Envelope(env.kind, env.src, env.dst, env.corr, unpack(data))
            self.trace.record(self.loop.time(), env, data)
        else:
            self.trace.record(self.loop.time(), env, repr(env.payload).encode())
        self.host.deliver(env)

    # running --------------------------------------------------------------
    def run(self, main: Callable[[Any], Awaitable[T]], limit: float | None = 86_400.0) -> T:
        """Run `main(self)` to completion; TimeoutError if it would take more than `limit`
        further simulated seconds (a wait that can never end must fail, not spin forever)."""
        self.loop.deadline = None if limit is None else self.loop.time() + limit
        try:
            with collector_thresholds(self.gc_thresholds):
                result = self.loop.run_until_complete(self._guard(main))
        finally:
            self.loop.deadline = None
        self._raise_actor_errors()
        return result

    async def _guard(self, main: Callable[[Any], Awaitable[T]]) -> T:
        return await main(self)

    def run_for(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass."""
        self.run(lambda rt: rt.sleep(seconds))

    def _raise_actor_errors(self) -> None:
        errors = self.host.errors[self._checked_errors :]
        self._checked_errors = len(self.host.errors)
        if self.strict and errors:
            where, exc = errors[0]
            raise ActorFailed(f"{len(errors)} actor error(s); first in {where}: {exc!r}") from exc

    def now(self) -> float:
        return self.loop.time()

    async def sleep(self, seconds: float) -> None:
        await self.host.slots[DRIVER].ctx.sleep(seconds)  # type: ignore[union-attr]

    async def ask(self, address: Address | str, message: Any, timeout: float | None = None) -> Any:
        return await self.host.slots[DRIVER].ctx.call(address, message, timeout)  # type: ignore[union-attr]

    async def tell(self, address: Address | str, message: Any) -> None:
        self.host.slots[DRIVER].ctx.send(address, message)  # type: ignore[union-attr]

    def actor(self, address: Address | str) -> Actor:
        """The live actor object, for inspection in tests."""
        return self.host.actor(address)

    async def write_targets(self, path: str | Path | None = None) -> Path:
        """Serve this run's metrics on 127.0.0.1 and write the Prometheus file_sd targets file."""
        port = self.metrics.serve(0)
        target = Path(path) if path else self.run_dir / "prometheus" / "targets.json"
        return write_file_sd(target, [(f"127.0.0.1:{port}", {"job": "kubesim", "kubesim_host": "sim"})])

    async def metric_samples(self, names: Sequence[str]) -> list[tuple[str, dict[str, str], float]]:
        return self.metrics.samples(names)

    def trace_hash(self) -> str:
        return self.trace.hexdigest()

    # faults ---------------------------------------------------------------
    async def stop_actor(self, address: Address | str) -> None:
        self.host.stop(address)

    async def crash_actor(self, address: Address | str) -> None:
        self.host.crash(address)
        self.network.forget_link_state(str(address))

    async def restart_actor(self, address: Address | str) -> None:
        self.host.restart(address)

    def crash_machine(self, name: str, *, wipe_disk: bool = False) -> None:
        """Power loss: every actor on the machine dies with its unsynced writes."""
        if name not in self.machines:
            raise ValueError(f"unknown machine {name!r}")
        if name in self._down:
            return
        victims = [key for key in self.actors_on(name) if self.host.is_alive(key)]
        for key in victims:
            self.host.crash(key)
            self.network.forget_link_state(key)
            if wipe_disk:
                self.host.wipe_disk(key)
        self._down[name] = victims

    def restart_machine(self, name: str) -> None:
        """The machine boots again: the actors that ran on it restart from their disks."""
        victims = self._down.pop(name, None)
        if victims is None:
            raise ValueError(f"machine {name!r} is not down")
        for key in victims:
            self.host.restart(key)

    def machine_is_down(self, name: str) -> bool:
        return name in self._down

    def partition(self, side_a: list[str], side_b: list[str] | None = None, **kwargs: Any) -> int:
        return self.network.partition(side_a, side_b, **kwargs)

    def heal(self, partition_id: int | None = None) -> None:
        for _src, _dst, (env, data) in self.network.heal(partition_id):
            self._route(env, data)

    def slow_disk(self, machine: str, factor: float) -> None:
        """Multiply the machine's fsync latency by `factor` (1.0 restores it)."""
        if factor <= 0:
            raise ValueError("disk slowdown factor must be > 0")
        self._disk_slowdown[machine] = factor

    def close(self) -> None:
        for key in list(self.host.slots):
            self.host.crash(key)
        self.loop.run_until_complete(_drain())
        self.loop.close()
        self.metrics.close()
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> SimRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _drain() -> None:
    """Give cancelled tasks one pass of the loop to unwind."""
    for _ in range(3):
        await asyncio.sleep(0)
