"""The driver-side interface both runtimes implement: place, run, inspect and break actors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.costmodel import CostModel

T = TypeVar("T")

DRIVER = "driver/main"  # the address the driver's asks and sends come from


class Runtime(ABC):
    """A place where logical actors run. The driver's code is a coroutine given to `run`."""

    def __init__(self, seed: int, cost: CostModel) -> None:
        self.seed = seed
        self.cost = cost
        self.machines: dict[str, Machine] = {}
        self.specs: dict[str, ActorSpec] = {}

    def add_machine(self, machine: Machine) -> None:
        if machine.name in self.machines:
            raise ValueError(f"machine {machine.name!r} already exists")
        self.machines[machine.name] = machine

    def machine_of(self, address: Address | str) -> str:
        return self.specs[str(address)].machine

    def actors_on(self, machine: str) -> list[str]:
        return [key for key, spec in self.specs.items() if spec.machine == machine]

    @abstractmethod
    def spawn(self, spec: ActorSpec) -> None:
        """Place one logical actor before `run` (it starts when the run starts)."""

    @abstractmethod
    async def spawn_live(self, spec: ActorSpec) -> None:
        """Place and start one logical actor from the driver while the run goes on."""

    @abstractmethod
    def run(self, main: Callable[[Any], Awaitable[T]]) -> T:
        """Run the driver coroutine `main(runtime)` while the actors run; return its result."""

    @abstractmethod
    def now(self) -> float:
        """Simulated seconds since the run started."""

    @abstractmethod
    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass for the driver."""

    @abstractmethod
    async def ask(self, address: Address | str, message: Any, timeout: float | None = None) -> Any:
        """Call an actor from the driver and return its reply."""

    @abstractmethod
    async def tell(self, address: Address | str, message: Any) -> None:
        """Send an actor a message from the driver."""

    @abstractmethod
    async def stop_actor(self, address: Address | str) -> None: ...

    @abstractmethod
    async def crash_actor(self, address: Address | str) -> None: ...

    @abstractmethod
    async def restart_actor(self, address: Address | str) -> None: ...

    @abstractmethod
    async def write_targets(self, path: str | Path | None = None) -> Path:
        """Write the Prometheus file_sd file listing every metrics endpoint of the run."""

    async def metric_samples(self, names: Sequence[str]) -> list[tuple[str, dict[str, str], float]]:
        """Current samples (name, labels, value) of the named metric families on every host."""
        raise NotImplementedError(f"{type(self).__name__} does not read metrics")

    @abstractmethod
    def close(self) -> None:
        """Stop every actor and release what the runtime holds (processes, ports, loops)."""

    async def wait_until(
        self, predicate: Callable[[], Awaitable[bool]], timeout: float, poll: float = 0.1
    ) -> None:
        """Poll `predicate` every `poll` simulated seconds until it holds; TimeoutError after `timeout`."""
        deadline = self.now() + timeout
        while not await predicate():
            if self.now() >= deadline:
                raise TimeoutError(f"condition not met within {timeout:g}s")
            await self.sleep(poll)
