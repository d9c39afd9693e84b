"""Test support: a ResourceStore over an in-process etcd, a settable clock, object builders."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from kubesim.api import kinds
from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import ResourceStore
from kubesim.testing.store_backend import StoreBackend

EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def raises(coro: Coroutine[Any, Any, Any]) -> APIError:
    """The APIError running ``coro`` raises."""
    with pytest.raises(APIError) as info:
        run(coro)
    return info.value


class InterleavingBackend(StoreBackend):
    """A StoreBackend whose every request first lets other tasks run, as a network would:
    concurrent requests interleave instead of running one after the other."""

    async def range(self, req: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return await super().range(req)

    def __init__(self) -> None:
        super().__init__()
        self.failed_txns = 0

    async def txn(self, req: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        resp = await super().txn(req)
        self.failed_txns += not resp["succeeded"]
        return resp


class Clock:
    """``now()`` for the store: seconds since the epoch, moved by the test."""

    def __init__(self, start: float = EPOCH) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


def kind(resource: str, group: str = "") -> kinds.Kind:
    found = next((k for k in kinds.KINDS if (k.group, k.resource) == (group, resource)), None)
    assert found is not None, resource
    return found


def new_store(resource: str = "pods", group: str = "", backend: StoreBackend | None = None,
              seed: int = 1, clock: Clock | None = None) -> ResourceStore:
    return ResourceStore(kind(resource, group), backend or InterleavingBackend(),
                         now=clock or Clock(), rng=random.Random(seed))


def pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None,
        node: str = "", **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": body}


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}
