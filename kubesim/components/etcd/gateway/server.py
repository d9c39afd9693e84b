"""The gateway's aiohttp application: routes, size limits, errors, and the two streams.

Unary calls read one JSON value, decode it, check sizes as etcd does, call the backend
and write the response or etcd's error body. /v3/watch and /v3/lease/keepalive read a
sequence of JSON values from the body and answer with chunked `{"result": ...}` lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubesim.components.etcd import errors
from kubesim.components.etcd.backend import EtcdBackend, Response
from kubesim.components.etcd.errors import Code, EtcdError
from kubesim.components.etcd.gateway.codec import (
    RAFT_FIELDS,
    DecodeError,
    decode,
    encode,
    proto_size,
    raft_request_size,
)
from kubesim.components.etcd.gateway.gojson import (
    GoJSONError,
    decode_next,
    dumps_string,
)
from kubesim.components.etcd.gateway.streams import (
    HEADERS,
    HTTP_STATUS,
    Chunks,
    WatchSession,
    call,
    first_request,
    messages,
    next_request,
)

DEFAULT_MAX_REQUEST_BYTES = 1536 * 1024  # etcd --max-request-bytes
GRPC_OVERHEAD_BYTES = 512 * 1024  # etcd's gRPC receive limit is max-request-bytes + this
CLIENT_MAX_BODY = 64 * 1024 * 1024  # etcd has none; aiohttp needs one
PREFIXES = ("/v3", "/v3beta")

# path -> (backend method, request message, response message)
UNARY = {
    "/kv/range": ("range", "RangeRequest", "RangeResponse"),
    "/kv/put": ("put", "PutRequest", "PutResponse"),
    "/kv/deleterange": ("delete_range", "DeleteRangeRequest", "DeleteRangeResponse"),
    "/kv/txn": ("txn", "TxnRequest", "TxnResponse"),
    "/kv/compaction": ("compact", "CompactionRequest", "CompactionResponse"),
    "/lease/grant": ("lease_grant", "LeaseGrantRequest", "LeaseGrantResponse"),
    "/lease/revoke": ("lease_revoke", "LeaseRevokeRequest", "LeaseRevokeResponse"),
    "/kv/lease/revoke": ("lease_revoke", "LeaseRevokeRequest", "LeaseRevokeResponse"),
    "/lease/timetolive": ("lease_timetolive", "LeaseTimeToLiveRequest", "LeaseTimeToLiveResponse"),
    "/kv/lease/timetolive": (
        "lease_timetolive",
        "LeaseTimeToLiveRequest",
        "LeaseTimeToLiveResponse",
    ),
    "/maintenance/status": ("status", "StatusRequest", "StatusResponse"),
}


def error_body(exc: EtcdError) -> str:
    """grpc-gateway's unary error body."""
    message = dumps_string(exc.message)
    return f'{{"error":{message},"message":{message},"code":{int(exc.code)}}}'


def _is_read_only(txn: dict[str, Any]) -> bool:
    return all("request_range" in op for op in txn["success"] + txn["failure"])


class Gateway:
    """The handlers, bound to one backend and etcd's request limits."""

    def __init__(self, backend: EtcdBackend, max_request_bytes: int) -> None:
        self.backend = backend
        self.max_request_bytes = max_request_bytes
        self.grpc_limit = max_request_bytes + GRPC_OVERHEAD_BYTES

    # ------------------------------------------------------------ unary
    def unary(
        self, method: str, request_type: str, response_type: str
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                parsed = decode_next(await request.read(), 0, final=True)
                req = decode(parsed and parsed[0], request_type)
            except (GoJSONError, DecodeError) as exc:
                return _error_response(EtcdError(Code.INVALID_ARGUMENT, str(exc)))
            try:
                size = self.check_grpc_size(req, request_type)
                if method in RAFT_FIELDS and not (method == "txn" and _is_read_only(req)):
                    if raft_request_size(method, size) > self.max_request_bytes:
                        raise errors.REQUEST_TOO_LARGE
                resp = await call(getattr(self.backend, method), req)
            except EtcdError as exc:
                return _error_response(exc)
            return web.Response(text=encode(resp, response_type), headers=HEADERS)

        return handle

    def check_grpc_size(self, req: dict[str, Any], message: str) -> int:
        size = proto_size(req, message)
        if size > self.grpc_limit:
            raise EtcdError(
                Code.RESOURCE_EXHAUSTED,
                f"grpc: received message larger than max ({size} vs. {self.grpc_limit})",
            )
        return size

    async def header(self) -> Response:
        """A response header at the current revision, for responses etcd's stream
        layer makes itself (the backend protocol has no call for just a header)."""
        return (await call(self.backend.status, decode(None, "StatusRequest")))["header"]

    # ------------------------------------------------------------ keepalive
    async def keepalive(self, request: web.Request) -> web.StreamResponse:
        out = Chunks(request)
        body = messages(request)
        try:
            first = await first_request(body, "LeaseKeepAliveRequest")
        except (GoJSONError, DecodeError) as exc:
            return _error_response(EtcdError(Code.UNKNOWN, str(exc)))
        try:
            req = first
            while req is not None:
                self.check_grpc_size(req, "LeaseKeepAliveRequest")
                await out.result(encode(await self._renew(req), "LeaseKeepAliveResponse"))
                req = await next_request(body, "LeaseKeepAliveRequest")
        except EtcdError as exc:
            await out.error(exc)
        return await out.finish()

    async def _renew(self, req: dict[str, Any]) -> Response:
        try:
            return await call(self.backend.lease_keepalive, req)
        except EtcdError as exc:
            if exc != errors.LEASE_NOT_FOUND:
                raise
        # etcd's LeaseKeepAlive stream answers an unknown lease with TTL 0
        return {"header": await self.header(), "ID": req["ID"], "TTL": 0}

    # ------------------------------------------------------------ watch
    async def watch(self, request: web.Request) -> web.StreamResponse:
        body = messages(request)
        try:
            first = await first_request(body, "WatchRequest")
        except (GoJSONError, DecodeError) as exc:
            return _error_response(EtcdError(Code.UNKNOWN, str(exc)))
        session = WatchSession(self, Chunks(request))
        try:
            return await session.run(first, body, request)
        finally:
            await session.close()


# ---------------------------------------------------------------- helpers


def _error_response(exc: EtcdError) -> web.Response:
    return web.Response(status=HTTP_STATUS[exc.code], text=error_body(exc), headers=HEADERS)


async def _method_not_allowed(request: web.Request) -> web.Response:
    return web.Response(
        status=405, text="Method Not Allowed\n", headers={"X-Content-Type-Options": "nosniff"}
    )


async def _not_found(request: web.Request) -> web.Response:
    return web.Response(
        status=404, text="Not Found\n", headers={"X-Content-Type-Options": "nosniff"}
    )


def make_app(
    backend: EtcdBackend, *, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> web.Application:
    """The etcd 3.4 v3 JSON gateway over `backend`."""
    gateway = Gateway(backend, max_request_bytes)
    app = web.Application(client_max_size=CLIENT_MAX_BODY)
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
        path: gateway.unary(*spec) for path, spec in UNARY.items()
    }
    routes["/watch"] = gateway.watch
    routes["/lease/keepalive"] = gateway.keepalive
    for prefix in PREFIXES:
        for path, handler in routes.items():
            app.router.add_post(prefix + path, handler)
            app.router.add_route("*", prefix + path, _method_not_allowed)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def serve(
    backend: EtcdBackend, port: int = 0, *, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> tuple[web.AppRunner, int]:
    """Serve the gateway on 127.0.0.1:`port` (0: any free port); returns the runner
    (`await runner.cleanup()` stops it) and the bound port."""
    runner = web.AppRunner(
        make_app(backend, max_request_bytes=max_request_bytes), handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, runner.addresses[0][1]
