"""A list-and-watch loop over any `APIClient` (actor messages or HTTP): what the pod-watching
measurements use in place of a client-go informer, since it must also run outside an actor.

It lists once (consistent read), hands every object to `on_object(obj, event_type)`, then
watches from the list's resourceVersion; a watch the server ends is resumed from the last
resourceVersion seen, and a 410 Gone (as an ERROR event or on starting the watch) makes it
list again. `stop()` ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from kubesim.api import status
from kubesim.components.client.api import APIClient, Obj, WatchStream

RETRY = 1.0  # seconds before listing again after a failed list or watch


class ListWatch:
    def __init__(self, client: APIClient, resource: str, on_object: Callable[[Obj, str], None], *,
                 namespace: str = "", label_selector: str = "", field_selector: str = "",
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self.resource = resource
        self.on_object = on_object
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.sleep = sleep
        self.synced = asyncio.Event()
        self._stream: WatchStream | None = None
        self._stopped = False
        self.errors = 0

    async def run(self) -> None:
        while not self._stopped:
            try:
                rv = await self._list()
                self.synced.set()
                while not self._stopped:
                    rv = await self._watch(rv)
            except status.APIError:
                self.errors += 1
                await self.sleep(RETRY)

    async def _list(self) -> str:
        listed = await self.client.list(self.resource, self.namespace, label_selector=self.label_selector,
                                        field_selector=self.field_selector)
        for item in listed.get("items") or []:
            self.on_object(item, "ADDED")
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, rv: str) -> str:
        """Watch from `rv` until the stream ends; the last resourceVersion seen (APIError
        410 when the history is gone: list again)."""
        stream = await self.client.watch(self.resource, self.namespace, label_selector=self.label_selector,
                                         field_selector=self.field_selector, resource_version=rv)
        self._stream = stream
        if self._stopped:
            await stream.stop()
            return rv
        while True:
            event: dict[str, Any] | None = await stream.next()
            if event is None:
                return rv
            obj = event.get("object") or {}
            if event.get("type") == "ERROR":
                raise status.APIError(obj)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            if event.get("type") != "BOOKMARK":
                self.on_object(obj, str(event.get("type")))

    async def stop(self) -> None:
        self._stopped = True
        if self._stream is not None:
            await self._stream.stop()
