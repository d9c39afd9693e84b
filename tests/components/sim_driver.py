"""What the controller and cloud-controller-manager test clusters share: driving a sim
runtime from the test (advance virtual time, wait for a condition) and calling the
in-memory apiserver from outside every actor."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer

EPOCH = 1_700_000_000.0


class SimDriver:
    """A test's handle on `rt` and `api` (set by the subclass)."""

    rt: SimRuntime
    api: FakeAPIServer

    def now(self) -> float:
        return EPOCH + self.rt.now()

    def run_for(self, seconds: float) -> None:
        self.rt.run_for(seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float = 120.0, step: float = 0.5) -> float:
        """Advance virtual time in steps until `predicate()` holds; fail after `timeout`."""
        waited = 0.0
        while not predicate():
            if waited >= timeout:
                raise AssertionError(f"condition not reached within {timeout}s of virtual time")
            self.rt.run_for(step)
            waited += step
        return waited

    def call(self, coro_fn: Callable[[], Any]) -> Any:
        """Run one API call from the driver."""
        async def main(_rt: Any) -> Any:
            return await coro_fn()
        return self.rt.run(main)

    def create(self, resource: str, obj: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        return self.call(lambda: self.api.create(resource, copy.deepcopy(obj), namespace))

    def update(self, resource: str, namespace: str, name: str, fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            obj = await self.api.get(resource, namespace, name)
            fn(obj)
            return await self.api.update(resource, obj)
        return self.call(go)

    def delete(self, resource: str, namespace: str, name: str, **kwargs: Any) -> dict[str, Any]:
        return self.call(lambda: self.api.delete(resource, namespace, name, **kwargs))

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.call(lambda: self.api.get(resource, namespace, name))

    def close(self) -> None:
        self.rt.close()
