"""The gateway's two streams, /v3/watch and /v3/lease/keepalive, as grpc-gateway 1.9
forwards a bidirectional gRPC stream: the request body is read as a sequence of JSON
values, each response goes out as a chunk `{"result": ...}` + newline, and an error ends
the stream with an `{"error": {...}}` chunk. Also the pieces unary calls share with
them: the HTTP status table and the backend-call wrapper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim.components.etcd import errors
from kubesim.components.etcd.backend import Response, WatchStream
from kubesim.components.etcd.errors import Code, EtcdError
from kubesim.components.etcd.gateway.codec import DecodeError, decode, encode
from kubesim.components.etcd.gateway.gojson import (
    GoJSONError,
    NeedMore,
    Node,
    decode_next,
    dumps_string,
)

if TYPE_CHECKING:
    from kubesim.components.etcd.gateway.server import Gateway

log = logging.getLogger(__name__)

HTTP_STATUS = errors.HTTP_STATUS
HEADERS = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PUT, DELETE",
    "Access-Control-Allow-Headers": "accept, content-type, authorization",
}
DUPLICATE_WATCH_ID = "mvcc: duplicate watch ID provided on the WatchStream"


async def call(method: Callable[[dict[str, Any]], Awaitable[Any]], req: dict[str, Any]) -> Any:
    """A backend call; a failure that is not an EtcdError reaches the client as gRPC's
    Unknown, as an unexpected server error would."""
    try:
        return await method(req)
    except EtcdError:
        raise
    except Exception as exc:
        log.exception("etcd gateway: backend call failed")
        raise EtcdError(Code.UNKNOWN, str(exc)) from exc


def stream_error_body(exc: EtcdError) -> str:
    """grpc-gateway's error chunk on a stream."""
    status = HTTP_STATUS[exc.code]
    return (
        f'{{"error":{{"grpc_code":{int(exc.code)},"http_code":{status},'
        f'"message":{dumps_string(exc.message)},"http_status":{dumps_string(HTTPStatus(status).phrase)}}}}}'
    )


class Chunks:
    """A chunked response whose status and headers wait for the first chunk, as
    grpc-gateway's ForwardResponseStream does."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None

    async def result(self, message_json: str) -> None:
        await self._write(200, '{"result":' + message_json + "}\n")

    async def error(self, exc: EtcdError) -> None:
        await self._write(HTTP_STATUS[exc.code], stream_error_body(exc))

    async def _write(self, status: int, text: str) -> None:
        if self.response is None:
            self.response = web.StreamResponse(status=status, headers=HEADERS)
            self.response.enable_chunked_encoding()
            await self.response.prepare(self.request)
        await self.response.write(text.encode())

    async def finish(self) -> web.StreamResponse:
        if self.response is None:
            await self._write(200, "")
        assert self.response is not None
        await self.response.write_eof()
        return self.response


async def messages(request: web.Request) -> AsyncIterator[Node]:
    """The JSON values of a streaming request body, as json.Decoder reads them."""
    buf, final = b"", False
    while True:
        try:
            parsed = decode_next(buf, 0, final=final)
        except NeedMore:
            chunk = await request.content.readany()
            buf, final = buf + chunk, not chunk
            continue
        if parsed is None:
            return
        node, end = parsed
        buf = buf[end:]
        yield node


async def first_request(body: AsyncIterator[Node], message: str) -> dict[str, Any] | None:
    """The first request on a stream (None: an empty body); a bad one raises, and the
    gateway answers it like a failed call, with gRPC's Unknown."""
    node = await anext(body, None)
    return None if node is None else decode(node, message)


async def next_request(body: AsyncIterator[Node], message: str) -> dict[str, Any] | None:
    """The next request on a stream; None at the end of the body or at a bad value (the
    gateway then closes its sending side quietly)."""
    try:
        node = await anext(body, None)
        return None if node is None else decode(node, message)
    except (GoJSONError, DecodeError):
        return None


class WatchSession:
    """One /v3/watch request: etcd's per-gRPC-stream watch IDs over backend watches."""

    def __init__(self, gateway: Gateway, out: Chunks) -> None:
        self.gateway = gateway
        self.out = out
        self.watches: dict[int, WatchStream] = {}
        self.next_id = 0
        self.outbox: asyncio.Queue[Response | EtcdError] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(
        self, first: dict[str, Any] | None, messages: AsyncIterator[Node], request: web.Request
    ) -> web.StreamResponse:
        self._spawn(self._read(first, messages))
        while True:
            try:
                item = await asyncio.wait_for(self.outbox.get(), timeout=1.0)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    return self.out.response or web.Response()
                continue
            if isinstance(item, EtcdError):
                await self.out.error(item)
                return await self.out.finish()
            await self.out.result(encode(item, "WatchResponse"))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self, first: dict[str, Any] | None, messages: AsyncIterator[Node]) -> None:
        req = first
        try:
            while req is not None:
                self.gateway.check_grpc_size(req, "WatchRequest")
                await self._handle(req)
                req = await next_request(messages, "WatchRequest")
        except EtcdError as exc:
            self.outbox.put_nowait(exc)

    async def _handle(self, req: dict[str, Any]) -> None:
        if "create_request" in req:
            await self._create(req["create_request"])
        elif "cancel_request" in req:
            watch_id = req["cancel_request"]["watch_id"]
            stream = self.watches.pop(watch_id, None)
            if stream is not None:
                await stream.cancel()
                self.outbox.put_nowait(
                    {"header": await self.gateway.header(), "watch_id": watch_id, "canceled": True}
                )
        elif "progress_request" in req:
            self.outbox.put_nowait({"header": await self.gateway.header(), "watch_id": -1})

    async def _create(self, create: dict[str, Any]) -> None:
        watch_id = create["watch_id"]
        if watch_id in self.watches:
            self.outbox.put_nowait(
                {
                    "header": await self.gateway.header(),
                    "watch_id": -1,
                    "created": True,
                    "canceled": True,
                    "cancel_reason": DUPLICATE_WATCH_ID,
                }
            )
            return
        if watch_id == 0:  # etcd's AutoWatchID: the next unused id on this stream
            while self.next_id in self.watches:
                self.next_id += 1
            watch_id, self.next_id = self.next_id, self.next_id + 1
        stream = await call(self.gateway.backend.watch, {**create, "watch_id": 0})
        created = await stream.next()
        if created is None:
            return
        if created.get("watch_id") == -1:  # the backend refused the watch (empty range)
            self.outbox.put_nowait(created)
            return
        self.watches[watch_id] = stream
        self.outbox.put_nowait({**created, "watch_id": watch_id})
        self._spawn(self._pump(watch_id, stream))

    async def _pump(self, watch_id: int, stream: WatchStream) -> None:
        try:
            while (resp := await stream.next()) is not None and self.watches.get(
                watch_id
            ) is stream:
                self.outbox.put_nowait({**resp, "watch_id": watch_id})
        except EtcdError as exc:
            self.outbox.put_nowait(exc)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        streams, self.watches = list(self.watches.values()), {}
        for stream in streams:
            with contextlib.suppress(Exception):
                await stream.cancel()
