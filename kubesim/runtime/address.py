"""Addresses of logical actors and the simulated machines they are placed on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Address:
    """A logical actor's address: its kind (etcd, apiserver, kubelet, ...) and its name."""

    kind: str
    name: str

    def __post_init__(self) -> None:
        if not self.kind or "/" in self.kind:
            raise ValueError(f"invalid actor kind {self.kind!r}")
        if not self.name:
            raise ValueError("actor name must not be empty")

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    @staticmethod
    @lru_cache(maxsize=1 << 16)
    def parse(text: str) -> Address:
        """Parse the `kind/name` form used on the wire."""
        kind, sep, name = text.partition("/")
        if not sep:
            raise ValueError(f"not an actor address: {text!r}")
        return Address(kind, name)


@dataclass(frozen=True, slots=True)
class Machine:
    """A simulated machine: actors placed on it share its disk, its fate and its network links."""

    name: str
    zone: str = "zone-a"
    role: str = "worker"


def as_wire(addr: Address | str) -> str:
    """The wire (string) form of an address given as either type."""
    return addr if isinstance(addr, str) else str(addr)
