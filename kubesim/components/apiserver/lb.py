"""The load balancer in front of the apiserver replicas: a TCP proxy on 127.0.0.1 that
hands each new client connection to the next healthy replica (round robin), as an HA
control plane's haproxy does with `mode tcp`, `balance roundrobin` and an
`option httpchk GET /readyz` health check over TLS (`check-ssl verify none`).

It is an actor for the real-clock runtime: it learns each replica's port by asking it
(["port"]), probes https://127.0.0.1:<port>/readyz every `check_interval` seconds
(`fall` failures in a row mark a replica down, `rise` successes bring it back) and pipes
bytes both ways, so TLS, keep-alive and watch streams pass through untouched. A
connection that cannot reach its replica tries the next healthy one; a connection whose
replica dies is closed, and the client reconnects (and resumes its watches from the
last resourceVersion it saw) through a healthy one.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.errors import CallTimeout, RemoteError

CHUNK = 64 * 1024


@dataclass
class Backend:
    address: str  # the replica's actor address
    port: int = 0
    healthy: bool = False
    failures: int = 0
    successes: int = 0


def _check_context() -> ssl.SSLContext:
    """haproxy's `check-ssl verify none`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class LoadBalancer(Actor):
    """Round robin over the healthy replicas at `backends` (actor addresses)."""

    def __init__(self, backends: list[str], port: int = 0, check_interval: float = 1.0,
                 fall: int = 2, rise: int = 1) -> None:
        if not backends:
            raise ValueError("a load balancer needs at least one backend")
        self.backends = [Backend(b) for b in backends]
        self.port_setting = port
        self.check_interval = check_interval
        self.fall = fall
        self.rise = rise
        self.port: int | None = None
        self._next = 0

    def on_start(self) -> Any:
        return self._start()

    async def _start(self) -> None:
        """Listen, check the replicas every interval, and close the listener when this
        task is cancelled (the balancer stopped or crashed)."""
        self._ssl = _check_context()
        server = await asyncio.start_server(self._accept, "127.0.0.1", self.port_setting)
        self.port = int(server.sockets[0].getsockname()[1])
        self.ctx.call_every(self.check_interval, lambda: self.ctx.spawn(self._check_all()),
                            first=0.0)
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.port = None
            server.close()

    # ------------------------------------------------------------------ health checks
    async def _check_all(self) -> None:
        await self.ctx.gather(*(self._check(b) for b in self.backends))

    async def _probe(self, backend: Backend) -> bool:
        if not backend.port:
            port = await self.ctx.call(backend.address, ["port"], timeout=self.check_interval)
            backend.port = int(port or 0)
        if not backend.port:
            return False
        reader, writer = await asyncio.open_connection("127.0.0.1", backend.port, ssl=self._ssl)
        try:
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status_line = await reader.readline()
            return status_line.split(b" ")[1:2] == [b"200"]
        finally:
            writer.close()

    async def _check(self, backend: Backend) -> None:
        try:
            ok = await asyncio.wait_for(self._probe(backend), self.check_interval)
        except (TimeoutError, OSError, ssl.SSLError, CallTimeout, RemoteError):
            ok = False
        if ok:
            backend.failures, backend.successes = 0, backend.successes + 1
            if not backend.healthy and backend.successes >= self.rise:
                backend.healthy = True
        else:
            backend.successes, backend.failures = 0, backend.failures + 1
            backend.port = 0  # a restarted replica listens on a new port: ask again
            if backend.healthy and backend.failures >= self.fall:
                backend.healthy = False

    def _pick(self, exclude: set[str]) -> Backend | None:
        n = len(self.backends)
        for i in range(n):
            backend = self.backends[(self._next + i) % n]
            if backend.healthy and backend.address not in exclude:
                self._next = (self._next + i + 1) % n
                return backend
        return None

    # ------------------------------------------------------------------ proxying
    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        await self.ctx.spawn(self._proxy(client_reader, client_writer))

    async def _proxy(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        tried: set[str] = set()
        while (backend := self._pick(tried)) is not None:
            tried.add(backend.address)
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", backend.port)
            except OSError:
                backend.healthy = False  # refused: down until the checks say otherwise
                continue
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))
            return
        client_writer.close()

    def receive(self, sender: Address, message: Any) -> Any:
        if message[0] == "port":
            return self.port
        if message[0] == "healthy":
            return [b.address for b in self.backends if b.healthy]
        raise ValueError(f"load balancer: unknown message {message[0]!r}")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF or an error, then close the other side's writer."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
