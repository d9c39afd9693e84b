"""Stream links between host actors: the data path of the ray runtime.

A Ray actor call costs about 2-3 ms of CPU on a 2-core machine (caller, callee and Ray's
threads; measured by bench/scale_bench.py's ray mode and docs/scale.md), which is what a
whole cluster's messages cannot afford. So Ray places, starts, restarts and controls the
host actors, and their batches travel on TCP connections between them: each host listens
on its Ray node's IP (127.0.0.1 on a local Ray), publishes the port in the registry, and
opens one connection per peer host on first use. A frame is a 4-byte big-endian length
and one msgpack batch. Frames to one peer arrive in the order they were sent.

A peer that has not published its port yet (it is starting) gets its frames once it has:
they wait, as Ray calls to a starting actor wait. A peer that is down (its process died
and Ray is restarting it) loses the frames sent meanwhile, like a network that drops
packets to a dead machine; the link asks the registry for the peer's new port when it
connects again, at most once per RETRY_SECONDS."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

from kubesim.runtime.metrics import MetricsHandle

HEADER = struct.Struct(">I")
RETRY_SECONDS = 0.5  # a failed peer is not dialled again sooner
LOOKUP_POLL = 0.05  # how often the registry is asked for a starting peer's port
STARTUP_WAIT = 120.0  # how long frames wait for a peer to publish its port
MAX_FRAME = 1 << 30

Lookup = Callable[[str], Awaitable[tuple[str, int] | None]]


class _Link:
    """One outgoing connection: frames queued while it connects, written in order after;
    `down` for RETRY_SECONDS after a failure, when frames to the peer are dropped."""

    def __init__(self, down: bool = False) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.pending: list[bytes] = []
        self.down = down


class StreamLinks:
    """Outgoing links of one host and the server for incoming ones."""

    def __init__(self, lookup: Lookup, receive: Callable[[bytes], None], metrics: MetricsHandle) -> None:
        self.lookup = lookup
        self.receive = receive
        self._links: dict[str, _Link] = {}
        self._incoming: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        self.m_dropped = metrics.counter(
            "kubesim_batches_dropped_total", "Batches lost because their destination host was unreachable.")

    async def listen(self, address: str) -> int:
        """Accept links on `address`; the port."""
        self._server = await asyncio.start_server(self._serve, host=address, port=0)
        return self._server.sockets[0].getsockname()[1]

    def send(self, host: str, batch: bytes) -> None:
        link = self._links.get(host)
        if link is None:
            link = self._links[host] = _Link()
            asyncio.get_running_loop().create_task(self._connect(host, link))
        frame = HEADER.pack(len(batch)) + batch
        if link.writer is not None:
            link.writer.write(frame)
        elif link.down:
            self.m_dropped.inc()
        else:
            link.pending.append(frame)

    async def _connect(self, host: str, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_WAIT
        while (endpoint := await self.lookup(host)) is None and loop.time() < deadline:
            await asyncio.sleep(LOOKUP_POLL)
        try:
            if endpoint is None:
                raise ConnectionError(f"host {host} published no port in {STARTUP_WAIT:g} s")
            reader, writer = await asyncio.open_connection(*endpoint)
        except (OSError, ConnectionError):
            self._fail(host, link)
            return
        writer.writelines(link.pending)
        link.pending = []
        link.writer = writer
        asyncio.get_running_loop().create_task(self._watch(host, link, reader))

    async def _watch(self, host: str, link: _Link, reader: asyncio.StreamReader) -> None:
        """The peer never writes on this connection: EOF or an error means it is gone."""
        try:
            await reader.read()
        except OSError:
            pass
        self._fail(host, link)

    def _fail(self, host: str, link: _Link) -> None:
        self.m_dropped.inc(len(link.pending))
        if link.writer is not None:
            link.writer.close()
        if self._links.get(host) is link:
            retry = self._links[host] = _Link(down=True)  # dialled again on the first send after
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self._forget, host, retry)

    def _forget(self, host: str, link: _Link) -> None:
        if self._links.get(host) is link:
            del self._links[host]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._incoming.add(writer)
        try:
            while True:
                (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                if size > MAX_FRAME:
                    raise ValueError(f"frame of {size} bytes")
                self.receive(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, OSError, ValueError):
            pass
        finally:
            self._incoming.discard(writer)
            writer.close()

    def close(self) -> None:
        """Close every link, both ways, and stop listening."""
        for link in self._links.values():
            if link.writer is not None:
                link.writer.close()
        self._links = {}
        for writer in list(self._incoming):
            writer.close()
        if self._server is not None:
            self._server.close()
