"""The logical actor: what every simulated component is written against.

A component subclasses `Actor` and implements `receive`; it talks to the world only
through its `Context` (`self.ctx`): send/call, timers, `now()`, a seeded random
source, durable storage and metrics. The same component code runs on the `sim`
runtime (virtual time, one process) and on the `ray` runtime (wall time, many
processes); it never imports ray.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubesim.runtime.address import Address

if TYPE_CHECKING:
    from kubesim.runtime.context import Context


class Actor:
    """Base class of logical actors.

    Lifecycle: the runtime builds the actor from its `ActorSpec`, sets `ctx`, then calls
    `on_start()`. `ctx.incarnation` is 0 on first start and counts restarts; a restarted
    actor is a fresh object that must rebuild its state from `ctx.storage`.
    """

    ctx: Context

    def on_start(self) -> Awaitable[None] | None:
        """Called once the actor can send; may be a coroutine (run as a task)."""
        return None

    def receive(self, sender: Address, message: Any) -> Any:
        """Handle a message. For a `call`, the return value (or the awaited value of a
        returned coroutine) is the reply; an exception becomes a `RemoteError` at the caller.

        Messages are handed over in arrival order; a handler that returns a coroutine lets
        the next message start while it waits (as in an async Ray actor).
        """
        raise NotImplementedError(f"{type(self).__name__} does not handle messages")

    def on_stop(self) -> None:
        """Called on a graceful stop (not on a crash)."""
        return None


ActorFactory = Callable[..., Actor]


@dataclass(frozen=True)
class ActorSpec:
    """How to build and place one logical actor.

    `factory(**kwargs)` builds the actor (a class is the usual factory; on Ray it must be
    importable). `machine` names the simulated machine; `host` groups actors that share
    one Ray host actor (None: a Ray actor of its own). `metric_labels` are added to every
    metric the actor creates (default: `instance=<name>`).
    """

    address: Address
    factory: ActorFactory
    machine: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    host: str | None = None
    metric_labels: Mapping[str, str] | None = None

    def labels(self) -> dict[str, str]:
        if self.metric_labels is not None:
            return dict(self.metric_labels)
        return {"instance": self.address.name}

    def build(self) -> Actor:
        actor = self.factory(**self.kwargs)
        if not isinstance(actor, Actor):
            raise TypeError(f"factory of {self.address} did not build an Actor: {actor!r}")
        return actor
