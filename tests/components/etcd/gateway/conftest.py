"""Fixtures: a real etcd 3.4 (`real_etcd`) and our gateway over a fresh in-process
MVCC store (`store_gateway`), each yielding a base URL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from kubesim.components.etcd.gateway import serve
from tests.components.etcd.gateway.real_etcd import real_etcd  # noqa: F401  (a fixture)


@pytest.fixture
def store_gateway() -> Iterator[str]:
    """Our gateway over `StoreBackend`, served from its own event-loop thread."""
    from kubesim.testing.store_backend import StoreBackend

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[object, int]:
        return await serve(StoreBackend())

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
