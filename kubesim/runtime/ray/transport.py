"""Batching transport between host actors: envelopes grouped per destination host,
msgpack-encoded, flushed when a batch is full or a few milliseconds after its first envelope."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubesim.runtime.envelope import Envelope, pack, unpack
from kubesim.runtime.metrics import MetricsHandle

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class BatchingTransport:
    """Moves envelopes from one host to the others.

    `directory` maps actor addresses (wire form) to host names; `send(host, bytes)` carries
    a batch to that host (links.StreamLinks). Envelopes for local actors are delivered on
    the next loop turn, through the same encoding, so actors never share objects.
    """

    def __init__(
        self,
        name: str,
        loop: asyncio.AbstractEventLoop,
        directory: dict[str, str],
        send: Callable[[str, bytes], None],
        deliver_local: Callable[[Envelope], None],
        metrics: MetricsHandle,
        max_batch: int = 1000,
        max_delay: float = 0.002,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.name = name
        self.loop = loop
        self.directory = directory
        self.send = send
        self.deliver_local = deliver_local
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._buffers: dict[str, list[list[Any]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.m_sent = metrics.counter("kubesim_messages_sent_total", "Envelopes sent by logical actors on this host.")
        self.m_unroutable = metrics.counter(
            "kubesim_messages_unroutable_total", "Envelopes for addresses no host is known to hold."
        )
        self.m_batch = metrics.histogram(
            "kubesim_batch_size", "Envelopes per batch sent to another host.", buckets=BATCH_BUCKETS
        )
        self.m_batches = metrics.counter("kubesim_batches_sent_total", "Batches sent to other hosts.")

    def transmit(self, env: Envelope) -> None:
        self.m_sent.inc()
        target = self.directory.get(env.dst)
        if target is None:
            self.m_unroutable.inc()
            return
        if target == self.name:
            copy = Envelope(env.kind, env.src, env.dst, env.corr, unpack(pack(env.payload)))
            self.loop.call_soon(self.deliver_local, copy)
            return
        buf = self._buffers.get(target)
        if buf is None:
            buf = self._buffers[target] = []
        buf.append(env.to_wire())
        if len(buf) >= self.max_batch:
            self.flush(target)
        elif target not in self._timers:
            self._timers[target] = self.loop.call_later(self.max_delay, self.flush, target)

    def flush(self, target: str) -> None:
        timer = self._timers.pop(target, None)
        if timer is not None:
            timer.cancel()
        buf = self._buffers.pop(target, None)
        if not buf:
            return
        self.m_batch.observe(len(buf))
        self.m_batches.inc()
        self.send(target, pack(buf))

    def flush_all(self) -> None:
        for target in list(self._buffers):
            self.flush(target)
