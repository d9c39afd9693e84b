"""What every kube-controller-manager controller shares: the context it is built with and
the worker loop over its rate-limited work queue.

A controller subclasses `Controller`, registers informer event handlers in its constructor
(they only enqueue keys, as in client-go), and implements `sync(key)`: the reconcile of one
object, reading informer listers and writing through the `APIClient`. The manager starts
the controller's `workers` once the informer caches have synced. A sync that raises an
`APIError`, a runtime error (a lost call) or `Requeue` is retried with the queue's per-item
exponential backoff (client-go's `handleErr` pattern); any other exception is a bug and
surfaces as the actor's error.

Times written into objects are Unix seconds: `ControllerContext.now()` is the run's
`epoch` plus the actor's simulated time, so timestamps agree with the apiserver's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from kubesim.api import meta
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj, meta_namespace_key
from kubesim.components.client.workqueue import RateLimiter, RateLimitingQueue
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import RuntimeErrorBase


@dataclass
class ControllerContext:
    """app.ControllerContext: the actor's context, the client and the shared informers."""

    ctx: Context
    client: APIClient
    informers: SharedInformerFactory
    #: Unix time that simulated time 0 stands for.
    epoch: float = 0.0

    def now(self) -> float:
        """Unix seconds now (metav1.Now())."""
        return self.epoch + self.ctx.now()

    def timestamp(self) -> str:
        return meta.timestamp(self.now())


def object_key(obj: Obj | DeletedFinalStateUnknown) -> str:
    """controller.KeyFunc: "namespace/name" (tombstones carry their key)."""
    return meta_namespace_key(obj)


def unwrap(obj: Obj | DeletedFinalStateUnknown) -> Obj:
    """The object inside a tombstone, as delete handlers need it."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


class Requeue(Exception):
    """A sync that cannot finish now (e.g. the informer cache is behind the controller's
    own writes): the key is retried with the queue's backoff."""


def api_errors(results: list[Any]) -> list[APIError]:
    """The API errors among gathered results; any other exception (a bug or a lost call)
    is raised."""
    errors = []
    for result in results:
        if isinstance(result, APIError):
            errors.append(result)
        elif isinstance(result, BaseException):
            raise result
    return errors


class Controller:
    """A work queue of keys and `workers` tasks running `sync` on them."""

    #: the workqueue name, also the `name` label of the workqueue metrics.
    name = ""
    #: retries before an item is dropped (None: retry forever).
    max_retries: int | None = None

    def __init__(self, cc: ControllerContext, workers: int = 1,
                 rate_limiter: RateLimiter | None = None) -> None:
        self.cc = cc
        self.workers = workers
        self.queue: RateLimitingQueue[Hashable] = RateLimitingQueue(
            cc.ctx.now, self.name, rate_limiter=rate_limiter, metrics=cc.ctx.metrics,
            notify=self._wake,
        )
        self._ready = asyncio.Event()
        self._delay_timer: Timer | None = None
        self._delay_due: float | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def ctx(self) -> Context:
        return self.cc.ctx

    @property
    def client(self) -> APIClient:
        return self.cc.client

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers (the caches must have synced)."""
        for _ in range(self.workers):
            self._tasks.append(self.ctx.spawn(self._worker()))

    def stop(self) -> None:
        self.queue.shut_down()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._delay_timer is not None:
            self._delay_timer.cancel()
            self._delay_timer = None

    # -- queueing -----------------------------------------------------------------------
    def enqueue(self, key: Hashable) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: Hashable, delay: float) -> None:
        self.queue.add_after(key, delay)
        self._arm()

    def enqueue_rate_limited(self, key: Hashable) -> None:
        self.queue.add_rate_limited(key)
        self._arm()

    async def sync(self, key: Any) -> None:
        raise NotImplementedError

    def handle_error(self, key: Hashable, err: BaseException) -> None:
        """Requeue with backoff, up to `max_retries` times."""
        if self.max_retries is None or self.queue.num_requeues(key) < self.max_retries:
            self.enqueue_rate_limited(key)
        else:
            self.queue.forget(key)

    # -- internals ----------------------------------------------------------------------
    def _wake(self) -> None:
        self._ready.set()

    def _arm(self) -> None:
        due = self.queue.next_ready_at()
        if due is None or (self._delay_due is not None and self._delay_due <= due):
            return
        if self._delay_timer is not None:
            self._delay_timer.cancel()
        self._delay_due = due
        self._delay_timer = self.ctx.call_later(max(0.0, due - self.ctx.now()), self._on_delay)

    def _on_delay(self) -> None:
        self._delay_timer = None
        self._delay_due = None
        self.queue.poll()
        self._arm()

    async def _worker(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                if self.queue.shutting_down:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            try:
                await self.sync(key)
            except (APIError, RuntimeErrorBase, Requeue) as err:
                self.handle_error(key, err)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)


class PeriodicController(Controller):
    """A controller that runs `tick` every `period` seconds (wait.Until) from start to stop,
    with no queue workers (the cloud node lifecycle and route controllers)."""

    def __init__(self, cc: ControllerContext, period: float) -> None:
        super().__init__(cc, workers=0)
        self.period = period
        self._loop: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        super().start()
        self._loop = self.ctx.spawn(self._run())

    def stop(self) -> None:
        super().stop()
        if self._loop is not None:
            self._loop.cancel()
            self._loop = None

    async def _run(self) -> None:
        while True:
            await self.tick()
            await self.ctx.sleep(self.period)
