"""Gateway behaviour outside the scenario: routes, stream errors and watch lifetimes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from kubesim.components.etcd import errors
from kubesim.components.etcd.errors import Code, EtcdError
from kubesim.components.etcd.gateway import serve
from kubesim.testing.store_backend import StoreBackend


async def _with_gateway(backend: Any, body: Any) -> Any:
    runner, port = await serve(backend)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            return await body(session)
    finally:
        await runner.cleanup()


def test_methods_paths_and_v3beta() -> None:
    async def body(session: aiohttp.ClientSession) -> None:
        async with session.get("/v3/kv/range") as resp:
            assert (resp.status, await resp.text()) == (405, "Method Not Allowed\n")
        async with session.post("/v3/kv/nothing", data="{}") as resp:
            assert (resp.status, await resp.text()) == (404, "Not Found\n")
        async with session.post("/v3beta/kv/range", data='{"key":"YQ=="}') as resp:
            assert resp.status == 200 and (await resp.json())["header"]["revision"] == "1"

    asyncio.run(_with_gateway(StoreBackend(), body))


class FailingBackend(StoreBackend):
    async def lease_keepalive(self, req: dict[str, Any]) -> dict[str, Any]:
        raise errors.NOT_LEADER

    async def range(self, req: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")


def test_errors_on_a_stream_and_unexpected_failures() -> None:
    async def body(session: aiohttp.ClientSession) -> None:
        async with session.post("/v3/lease/keepalive", data='{"ID":"1"}') as resp:
            assert resp.status == 412
            assert await resp.json() == {
                "error": {
                    "grpc_code": 9,
                    "http_code": 412,
                    "message": "etcdserver: not leader",
                    "http_status": "Precondition Failed",
                }
            }
        async with session.post("/v3/lease/keepalive", data="") as resp:
            assert (resp.status, await resp.text()) == (200, "")
        async with session.post("/v3/kv/range", data='{"key":"YQ=="}') as resp:
            assert (resp.status, await resp.json()) == (
                500,
                {"error": "boom", "message": "boom", "code": 2},
            )

    asyncio.run(_with_gateway(FailingBackend(), body))


def test_watch_streams_live_events_and_ends_with_the_client() -> None:
    backend = StoreBackend()

    async def body(session: aiohttp.ClientSession) -> None:
        async with session.post("/v3/watch", data='{"create_request":{"key":"YQ=="}}') as resp:
            created = json.loads(await resp.content.readline())
            assert created["result"]["created"] is True and len(backend.watches) == 1
            await session.post("/v3/kv/put", data='{"key":"YQ==","value":"MQ=="}')
            event = json.loads(await resp.content.readline())
            assert event["result"]["events"] == [
                {
                    "kv": {
                        "key": "YQ==",
                        "create_revision": "2",
                        "mod_revision": "2",
                        "version": "1",
                        "value": "MQ==",
                    }
                }
            ]
        for _ in range(100):  # the handler sees the hang-up and cancels the backend watch
            if not backend.watches:
                break
            await asyncio.sleep(0.02)
        assert backend.watches == {}

    asyncio.run(_with_gateway(backend, body))


def test_watch_open_failure_is_a_stream_error() -> None:
    class Down(StoreBackend):
        async def watch(self, req: dict[str, Any]) -> Any:
            raise EtcdError(Code.UNAVAILABLE, "etcdserver: no leader")

    async def body(session: aiohttp.ClientSession) -> None:
        async with session.post("/v3/watch", data='{"create_request":{"key":"YQ=="}}') as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["message"] == "etcdserver: no leader"

    asyncio.run(_with_gateway(Down(), body))
