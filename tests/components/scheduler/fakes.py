"""Test doubles for the scheduler actor: client wrappers that add a fixed latency to every
call or cut a replica off the apiserver. ``SchedulingFakeAPIServer`` (the in-memory
apiserver with pods/binding) lives in kubesim.testing."""

from __future__ import annotations

from typing import Any

from kubesim.api import status
from kubesim.components.client.api import APIClient
from kubesim.runtime.context import Context
from kubesim.testing.scheduling_apiserver import SchedulingFakeAPIServer

__all__ = ["FlakyClient", "SchedulingFakeAPIServer", "SlowClient"]


class SlowClient:
    """Every call of ``client`` takes ``latency`` simulated seconds of the actor's time first."""

    def __init__(self, client: APIClient, ctx: Context, latency: float) -> None:
        self.client, self.ctx, self.latency = client, ctx, latency

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await self.ctx.sleep(self.latency)
            return await method(*args, **kwargs)

        return slow


class FlakyClient:
    """One replica's view of the apiserver: ``down`` makes every call fail with 503 (a
    partitioned replica); ``bound`` lists the pods this replica bound."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.down = False
        self.bound: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise status.service_unavailable("the apiserver is unreachable")
            result = await method(*args, **kwargs)
            subresource = kwargs.get("subresource", args[3] if len(args) > 3 else "")
            if name == "create" and subresource == "binding":
                self.bound.append(args[1]["metadata"]["name"])
            return result

        return call
