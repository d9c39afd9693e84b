"""The apiserver's HTTPS facade on aiohttp, bound to 127.0.0.1: a thin translation of an
HTTP request into the handler's request dict and of its answer back into HTTP. Like
kube-apiserver it serves TLS only (client-go sends bearer tokens only over TLS).

Bodies go to the handler as they came (JSON, YAML, or the protobuf of kubectl's typed
`create` commands, which the handler decodes after authentication: rest/protobuf.py). A
watch is a chunked stream of one JSON WatchEvent per line (Transfer-Encoding: chunked),
ended when the handler's stream ends or the client goes.
The request body is read up to the handler's limit (3 MiB, as kube-apiserver's
MaxRequestBodyBytes); the handler answers a body that reaches it with 413.
"""

from __future__ import annotations

import json
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim.components.apiserver.rest.requestinfo import request_info

if TYPE_CHECKING:
    from kubesim.components.apiserver.certs import KeyPair
    from kubesim.components.apiserver.handler import RequestHandler, Response

HOST = "127.0.0.1"


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _query(request: web.Request) -> dict[str, str]:
    """Query parameters; a repeated one (dryRun, exclude) is joined with commas."""
    out: dict[str, str] = {}
    for key in request.query:
        if key not in out:
            out[key] = ",".join(request.query.getall(key))
    return out


async def _read_body(request: web.Request, limit: int) -> bytes:
    """At most `limit` bytes of the body (handlers/rest.go limitedReadBody: a body that
    reaches the limit is refused by the handler)."""
    chunks, size = [], 0
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def _http_response(response: Response) -> web.Response:
    headers = dict(response.headers)
    content_type = headers.pop("Content-Type", "application/json")
    resp = web.Response(status=response.code, body=_encode(response.body), headers=headers)
    resp.headers["Content-Type"] = content_type
    return resp


class Facade:
    """The aiohttp handler in front of one RequestHandler."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        from kubesim.components.apiserver.handler import Response

        req = request_info(request.method, request.path, _query(request))
        req["token"] = _token(request)
        req["accept"] = request.headers.get("Accept", "")
        req["content_type"] = request.headers.get("Content-Type", "")
        req["user_agent"] = request.headers.get("User-Agent", "")
        if request.can_read_body:
            req["body"] = await _read_body(request, self.handler.settings.max_request_body_bytes)
        result = await self.handler.serve(req)
        if isinstance(result, Response):
            return _http_response(result)
        return await self._stream(request, result)

    async def _stream(self, request: web.Request, watch: Any) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            while (event := await watch.next()) is not None:
                await response.write(_encode(event))
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away
        finally:
            watch.stop()
        return response


def tls_context(pair: KeyPair) -> ssl.SSLContext:
    """A server-side TLS context for a certificate and key in PEM."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="kubesim-tls-") as tmp:
        cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert.write_text(pair.cert_pem)
        key.write_text(pair.key_pem)
        key.chmod(0o600)
        context.load_cert_chain(cert, key)
    return context


async def serve(handler: RequestHandler, port: int,
                tls: KeyPair) -> tuple[web.AppRunner, int]:
    """Serve `handler` over HTTPS on 127.0.0.1:`port` (0: any free port); the runner and
    the port."""
    facade = Facade(handler)
    app = web.Application(client_max_size=handler.settings.max_request_body_bytes + 1)
    app.router.add_route("*", "/{tail:.*}", facade.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, ssl_context=tls_context(tls))
    await site.start()
    return runner, int(runner.addresses[0][1])
