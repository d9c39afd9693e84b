"""A host: the logical actors living in one process and event loop, and their lifecycles.

Both runtimes use it: the `sim` runtime runs every actor of the run on one host; the
`ray` runtime runs one host per Ray actor. The host dispatches arriving envelopes to
actors, matches replies to pending calls, owns the actors' timers and tasks, and
implements stop, crash and restart. Where envelopes go is the transport's business
(`transmit`), given to the host when it is built.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Callable, Coroutine, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.clock import Clock
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.envelope import Envelope, Kind
from kubesim.runtime.errors import ActorNotFound, RemoteError, SpecError
from kubesim.runtime.metrics import MetricsRegistry
from kubesim.runtime.seeding import stream
from kubesim.runtime.storage import Storage, wipe

if TYPE_CHECKING:
    from kubesim.runtime.costmodel import CostModel

log = logging.getLogger("kubesim.runtime")


class ActorStoppedError(Exception):
    """The actor was stopped or crashed while it was still trying to act."""


@dataclass(eq=False)
class Slot:
    """One logical actor's place on a host, kept across its incarnations."""

    spec: ActorSpec
    incarnation: int = 0
    actor: Actor | None = None
    ctx: Context | None = None
    alive: bool = False
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    timers: dict[int, Timer] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[Any]] = field(default_factory=dict)
    next_timer: int = 0
    next_task: int = 0


class ActorHost:
    """Runs logical actors on one event loop."""

    def __init__(
        self,
        name: str,
        *,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        transmit: Callable[[Envelope], None],
        run_dir: Path,
        metrics: MetricsRegistry,
        seed: int,
        cost: CostModel,
        machines: Mapping[str, Machine],
        call_timeout: float = 30.0,
        real_fsync: bool = False,
        disk_slowdown: Callable[[str], float] = lambda machine: 1.0,
    ) -> None:
        self.name = name
        self.loop = loop
        self.clock = clock
        self.transmit = transmit
        self.run_dir = run_dir
        self.metrics = metrics
        self.seed = seed
        self.cost = cost
        self.machines = machines
        self.call_timeout = call_timeout
        self.real_fsync = real_fsync
        self.disk_slowdown = disk_slowdown
        self.slots: dict[str, Slot] = {}
        #: objects shared by the actors of one host group (`Context.host_shared`)
        self.shared: dict[tuple[str, Hashable], Any] = {}
        self.errors: list[tuple[str, BaseException]] = []
        runtime = metrics.handle({"host": name})
        self.m_received = runtime.counter(
            "kubesim_messages_received_total", "Envelopes delivered to logical actors on this host."
        )
        self.m_dropped = runtime.counter(
            "kubesim_messages_dropped_total",
            "Envelopes that reached this host for an actor that is down or unknown.",
        )
        self.m_restarts = runtime.counter(
            "kubesim_actor_restarts_total", "Restarts of logical actors on this host."
        )
        self.m_errors = runtime.counter(
            "kubesim_actor_errors_total", "Exceptions raised by logical actors' handlers."
        )
        self.m_actors = runtime.gauge("kubesim_actors", "Live logical actors on this host.")

    # lifecycle ----------------------------------------------------------
    def spawn(self, spec: ActorSpec, incarnation: int = 0) -> None:
        key = str(spec.address)
        if spec.machine not in self.machines:
            raise SpecError(f"{key}: unknown machine {spec.machine!r}")
        slot = self.slots.get(key)
        if slot is not None and slot.alive:
            raise SpecError(f"{key}: an actor with this address is already running")
        if slot is None:
            slot = Slot(spec)
            self.slots[key] = slot
        slot.spec = spec
        slot.incarnation = incarnation
        self._start(slot)

    def _start(self, slot: Slot) -> None:
        spec = slot.spec
        key = str(spec.address)
        machine = self.machines[spec.machine]
        disk_rng: list[random.Random] = []  # made on the first fsync: most actors never sync

        async def fsync_delay() -> None:
            if not disk_rng:
                disk_rng.append(stream(self.seed, key, slot.incarnation, "disk"))
            latency = self.cost.sample("disk.fsync", disk_rng[0]) * self.disk_slowdown(machine.name)
            await asyncio.sleep(self.clock.to_loop(latency))

        storage = Storage(self.storage_dir(spec), fsync_delay, real_fsync=self.real_fsync)
        actor = spec.build()
        slot.actor = actor
        slot.alive = True
        ctx = Context(
            self,
            slot,
            machine,
            stream(self.seed, key, slot.incarnation),
            storage,
            self.metrics.handle(spec.labels()),
            self.cost,
        )
        slot.ctx = ctx
        actor.ctx = ctx
        self.m_actors.inc()
        self.run_callback(slot, actor.on_start, ())

    def _halt(self, slot: Slot) -> None:
        slot.alive = False
        for timer in list(slot.timers.values()):
            timer.cancel()
        for task in list(slot.tasks.values()):
            task.cancel()
        for future in slot.pending.values():
            if not future.done():
                future.set_exception(ActorStoppedError(str(slot.spec.address)))
                future.exception()  # mark retrieved: nobody awaits a dead actor's calls
        slot.pending.clear()
        slot.tasks.clear()
        slot.actor = None
        if slot.ctx is not None:
            slot.ctx.metrics.clear()  # a dead process serves no /metrics
        self.m_actors.dec()

    def _slot(self, address: Address | str) -> Slot:
        slot = self.slots.get(str(address))
        if slot is None:
            raise ActorNotFound(str(address))
        return slot

    def stop(self, address: Address | str) -> None:
        """Graceful stop: `on_stop` runs and buffered writes reach the disk."""
        slot = self._slot(address)
        if not slot.alive:
            return
        assert slot.actor is not None and slot.ctx is not None
        try:
            slot.actor.on_stop()
        finally:
            slot.ctx.storage.flush_unsynced()
            self._halt(slot)

    def crash(self, address: Address | str) -> None:
        """The process dies: memory, timers, tasks and unsynced writes are lost."""
        slot = self._slot(address)
        if not slot.alive:
            return
        assert slot.ctx is not None
        slot.ctx.storage.discard_unsynced()
        self._halt(slot)

    def restart(self, address: Address | str) -> None:
        """Crash if running, then start a new incarnation from the same spec."""
        slot = self._slot(address)
        self.crash(address)
        slot.incarnation += 1
        self.m_restarts.inc()
        self._start(slot)

    def wipe_disk(self, address: Address | str) -> None:
        slot = self._slot(address)
        if slot.alive:
            raise SpecError(f"{address}: cannot wipe the disk of a running actor")
        wipe(self.storage_dir(slot.spec))

    def storage_dir(self, spec: ActorSpec) -> Path:
        return self.run_dir / "machines" / spec.machine / str(spec.address).replace("/", "_")

    def is_alive(self, address: Address | str) -> bool:
        slot = self.slots.get(str(address))
        return slot is not None and slot.alive

    def actor(self, address: Address | str) -> Actor:
        """The live actor object (for tests and inspection on the sim runtime)."""
        slot = self._slot(address)
        if slot.actor is None:
            raise ActorNotFound(f"{address} is not running")
        return slot.actor

    def check_alive(self, slot: Slot) -> None:
        if not slot.alive:
            raise ActorStoppedError(f"{slot.spec.address} is not running")

    # execution ----------------------------------------------------------
    def start_task(self, slot: Slot, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        self.check_alive(slot)
        slot.next_task += 1
        task_id = slot.next_task
        task = self.loop.create_task(coro)
        slot.tasks[task_id] = task

        def done(t: asyncio.Task[Any]) -> None:
            slot.tasks.pop(task_id, None)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                if not isinstance(exc, ActorStoppedError):
                    self.record_error(slot, exc)  # type: ignore[arg-type]

        task.add_done_callback(done)
        return task

    def run_callback(self, slot: Slot, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run an actor's callback; a returned coroutine becomes one of its tasks."""
        if not slot.alive:
            return
        try:
            result = fn(*args)
        except ActorStoppedError:
            return
        except Exception as exc:
            self.record_error(slot, exc)
            return
        if inspect.iscoroutine(result):
            self.start_task(slot, result)

    def record_error(self, slot: Slot, exc: BaseException) -> None:
        self.m_errors.inc()
        self.errors.append((str(slot.spec.address), exc))
        log.error("actor %s raised", slot.spec.address, exc_info=exc)

    def deliver(self, env: Envelope) -> None:
        """An envelope arrives for a local actor."""
        slot = self.slots.get(env.dst)
        if slot is None or not slot.alive:
            self.m_dropped.inc()
            return
        self.m_received.inc()
        if env.kind is Kind.REPLY or env.kind is Kind.ERROR:
            future = slot.pending.get(env.corr)
            if future is not None and not future.done():
                if env.kind is Kind.REPLY:
                    future.set_result(env.payload)
                else:
                    future.set_exception(RemoteError(*env.payload))
            return
        assert slot.actor is not None and slot.ctx is not None
        if slot.ctx.routes and env.kind is Kind.SEND and self._routed(slot, env):
            return
        try:
            result = slot.actor.receive(Address.parse(env.src), env.payload)
        except Exception as exc:
            if env.kind is Kind.CALL:
                self._reply_error(env, exc)
            else:
                self.record_error(slot, exc)
            return
        if inspect.isawaitable(result):
            self.start_task(slot, self._finish(slot, env, result))
        elif env.kind is Kind.CALL:
            self.transmit(Envelope(Kind.REPLY, env.dst, env.src, env.corr, result))

    def _routed(self, slot: Slot, env: Envelope) -> bool:
        """Deliver a sent message to the handler its tag is routed to (`Context.route`)."""
        message = env.payload
        if not (isinstance(message, list) and message and isinstance(message[0], str)):
            return False
        assert slot.ctx is not None
        handler = slot.ctx.routes.get(message[0])
        if handler is None:
            return False
        try:
            handler(Address.parse(env.src), message)
        except Exception as exc:
            self.record_error(slot, exc)
        return True

    async def _finish(self, slot: Slot, env: Envelope, pending: Any) -> None:
        try:
            result = await pending
        except asyncio.CancelledError:
            raise
        except ActorStoppedError:
            return
        except Exception as exc:
            if env.kind is Kind.CALL:
                self._reply_error(env, exc)
                return
            raise
        if env.kind is Kind.CALL and slot.alive:
            self.transmit(Envelope(Kind.REPLY, env.dst, env.src, env.corr, result))

    def _reply_error(self, env: Envelope, exc: Exception) -> None:
        self.transmit(Envelope(Kind.ERROR, env.dst, env.src, env.corr, [type(exc).__name__, str(exc)]))
