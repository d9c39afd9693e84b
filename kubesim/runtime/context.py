"""The context a logical actor talks to the world through (`self.ctx`)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from kubesim.runtime.address import Address, Machine, as_wire
from kubesim.runtime.envelope import Envelope, Kind
from kubesim.runtime.errors import CallTimeout
from kubesim.runtime.metrics import MetricsHandle
from kubesim.runtime.storage import Storage

if TYPE_CHECKING:
    from kubesim.runtime.costmodel import CostModel
    from kubesim.runtime.host import ActorHost, Slot

T = TypeVar("T")


class Timer:
    """A one-shot or periodic timer owned by an actor; cancelled when the actor stops or crashes."""

    __slots__ = ("_ctx", "_fn", "_args", "_period", "_handle", "_id", "cancelled")

    def __init__(
        self,
        ctx: Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        period: float | None,
        timer_id: int,
    ) -> None:
        self._ctx = ctx
        self._fn = fn
        self._args = args
        self._period = period
        self._handle: asyncio.TimerHandle | None = None
        self._id = timer_id
        self.cancelled = False

    def _arm(self, delay: float) -> None:
        host = self._ctx._host
        self._handle = host.loop.call_later(host.clock.to_loop(delay), self._fire)

    def _fire(self) -> None:
        if self.cancelled:
            return
        if self._period is None:
            self._ctx._slot.timers.pop(self._id, None)
        else:
            self._arm(self._period)
        self._ctx._host.run_callback(self._ctx._slot, self._fn, self._args)

    def cancel(self) -> None:
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()
        self._ctx._slot.timers.pop(self._id, None)


class Context:
    """Everything a logical actor may use. Built by the runtime; one per actor incarnation."""

    def __init__(
        self,
        host: ActorHost,
        slot: Slot,
        machine: Machine,
        rng: random.Random,
        storage: Storage,
        metrics: MetricsHandle,
        cost: CostModel,
    ) -> None:
        self._host = host
        self._slot = slot
        self.address: Address = slot.spec.address
        self.machine = machine
        self.incarnation: int = slot.incarnation
        self.random = rng
        self.storage = storage
        self.metrics = metrics
        self.cost = cost
        self._wire = str(self.address)
        self._next_corr = slot.incarnation << 40
        self.routes: dict[str, Callable[[Address, list[Any]], None]] = {}

    # time -----------------------------------------------------------------
    def now(self) -> float:
        """Simulated seconds since the run started (virtual on sim, scaled wall time on ray)."""
        return self._host.clock.now()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(self._host.clock.to_loop(delay))

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run `fn(*args)` once after `delay` simulated seconds (a coroutine result runs as a task)."""
        return self._timer(fn, args, None, delay)

    def call_every(
        self, period: float, fn: Callable[..., Any], *args: Any, first: float | None = None
    ) -> Timer:
        """Run `fn(*args)` every `period` simulated seconds, first after `first` (default: period)."""
        if period <= 0:
            raise ValueError("timer period must be > 0")
        return self._timer(fn, args, period, period if first is None else first)

    def _timer(self, fn: Callable[..., Any], args: tuple[Any, ...], period: float | None, delay: float) -> Timer:
        self._host.check_alive(self._slot)
        self._slot.next_timer += 1
        timer = Timer(self, fn, args, period, self._slot.next_timer)
        self._slot.timers[self._slot.next_timer] = timer
        timer._arm(delay)
        return timer

    def host_shared(self, key: Hashable, factory: Callable[[], T]) -> T:
        """The object the actors of this actor's host group (`ActorSpec.host`; an actor
        without one is a group of its own) share under `key`, made by `factory` on first
        use. For immutable snapshots many logical actors in one process read (kube-proxy's
        view of Services), not for messages: the group lives in one process on every
        runtime, and the object outlives the actor that made it."""
        group = self._slot.spec.host or self._wire
        shared = self._host.shared
        if (group, key) not in shared:
            shared[(group, key)] = factory()
        return shared[(group, key)]  # type: ignore[no-any-return]

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine as a task owned by this actor (cancelled if it stops or crashes)."""
        return self._host.start_task(self._slot, coro)

    # messaging ------------------------------------------------------------
    def send(self, to: Address | str, message: Any) -> None:
        """Fire-and-forget: delivered at most once, in order per sender/receiver pair."""
        self._host.check_alive(self._slot)
        self._host.transmit(Envelope(Kind.SEND, self._wire, as_wire(to), 0, message))

    async def call(self, to: Address | str, message: Any, timeout: float | None = None) -> Any:
        """Request/reply. Raises `CallTimeout` after `timeout` simulated seconds without a
        reply, and `RemoteError` if the callee's handler raised."""
        host = self._host
        host.check_alive(self._slot)
        self._next_corr += 1
        corr = self._next_corr
        future: asyncio.Future[Any] = host.loop.create_future()
        self._slot.pending[corr] = future
        limit = host.call_timeout if timeout is None else timeout
        # the timeout is one timer that fails the reply's future (asyncio.wait_for would add
        # a second future, a callback and a task wrapper to every call)
        timer = host.loop.call_later(host.clock.to_loop(limit), _time_out, future, self.address, to, limit)
        try:
            host.transmit(Envelope(Kind.CALL, self._wire, as_wire(to), corr, message))
            return await future
        finally:
            timer.cancel()
            self._slot.pending.pop(corr, None)

    def route(self, tag: str, handler: Callable[[Address, list[Any]], None]) -> None:
        """Hand messages `[tag, ...]` sent (not called) to this actor to `handler(sender,
        message)` instead of `receive`, so a library the actor owns (an API client's watch
        streams) takes its own messages without the actor forwarding them. One handler per
        tag; a restarted actor starts with none."""
        current = self.routes.get(tag)
        if current is not None and current != handler:
            raise ValueError(f"{self.address}: messages tagged {tag!r} already have a handler")
        self.routes[tag] = handler

    def gather(self, *aws: Awaitable[Any]) -> Awaitable[list[Any]]:
        """`asyncio.gather` with exceptions returned as values (a convenience for fan-out calls)."""
        return asyncio.gather(*aws, return_exceptions=True)


def _time_out(future: asyncio.Future[Any], caller: Address, to: Address | str, limit: float) -> None:
    if not future.done():
        future.set_exception(CallTimeout(f"{caller} -> {to}: no reply within {limit:g}s"))
