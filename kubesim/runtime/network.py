"""The network model between simulated machines: latency per link class, partitions, faults.

Pure bookkeeping with no I/O: the runtime asks `plan()` what to do with a message
(deliver after these delays, hold it, or drop it) and releases held messages on
`heal()`. Messages between the same two actors arrive in the order sent (as over
one TCP connection) unless reordering is injected.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubesim.runtime.address import Machine


class LinkClass(StrEnum):
    """How far apart two machines are; each class has its latency in the cost model."""

    SAME_MACHINE = "same_machine"
    SAME_ZONE = "same_zone"
    CROSS_ZONE = "cross_zone"


class PartitionMode(StrEnum):
    HOLD = "hold"  # like TCP retransmitting: delivered after the partition heals
    DROP = "drop"  # lost


@dataclass(frozen=True)
class Partition:
    """Messages from any machine in `side_a` to any in `side_b` are cut (and back, unless one-way)."""

    id: int
    side_a: frozenset[str]
    side_b: frozenset[str]
    one_way: bool
    mode: PartitionMode

    def blocks(self, src: str, dst: str) -> bool:
        if src in self.side_a and dst in self.side_b:
            return True
        return not self.one_way and src in self.side_b and dst in self.side_a


@dataclass
class Faults:
    """Probabilities of injected faults applied to every message between different machines.

    The sim runtime duplicates only fire-and-forget sends (datagrams): a call and its reply
    travel on a connection, which may lose or delay them but never delivers one twice."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # the message ignores per-link FIFO order and gets extra delay
    reorder_extra: float = 0.05  # seconds, upper bound of the extra delay of a reordered message

    def validate(self) -> None:
        for name in ("drop", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"network fault {name} must be within [0, 1], got {value}")


HOLD = "hold"


@dataclass
class NetworkModel:
    """Decides the fate and latency of each message between machines."""

    latency: dict[LinkClass, Any]  # LinkClass -> object with .sample(rng) -> seconds
    rng: random.Random
    machines: dict[str, Machine] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    partitions: list[Partition] = field(default_factory=list)
    _next_partition: int = 1
    _link_last: dict[tuple[str, str], float] = field(default_factory=dict)
    _held: list[tuple[str, str, Any]] = field(default_factory=list)

    def add_machine(self, machine: Machine) -> None:
        self.machines[machine.name] = machine

    def link_class(self, src: str, dst: str) -> LinkClass:
        if src == dst:
            return LinkClass.SAME_MACHINE
        if self.machines[src].zone == self.machines[dst].zone:
            return LinkClass.SAME_ZONE
        return LinkClass.CROSS_ZONE

    def set_faults(self, **probabilities: float) -> None:
        faults = Faults(**{**self.faults.__dict__, **probabilities})
        faults.validate()
        self.faults = faults

    def partition(
        self,
        side_a: Iterable[str],
        side_b: Iterable[str] | None = None,
        *,
        one_way: bool = False,
        mode: PartitionMode | str = PartitionMode.HOLD,
    ) -> int:
        """Cut machines `side_a` from `side_b` (default: from every other machine)."""
        a = frozenset(side_a)
        unknown = sorted(m for m in a if m not in self.machines)
        b = frozenset(side_b) if side_b is not None else frozenset(self.machines) - a
        unknown += sorted(m for m in b if m not in self.machines)
        if unknown:
            raise ValueError(f"partition names unknown machines: {', '.join(unknown)}")
        part = Partition(self._next_partition, a, b, one_way, PartitionMode(mode))
        self._next_partition += 1
        self.partitions.append(part)
        return part.id

    def partition_zones(self, zone_a: str, zone_b: str | None = None, **kwargs: Any) -> int:
        """Cut every machine of `zone_a` from those of `zone_b` (default: all other zones)."""
        a = [m.name for m in self.machines.values() if m.zone == zone_a]
        if not a:
            raise ValueError(f"no machine in zone {zone_a!r}")
        b = None if zone_b is None else [m.name for m in self.machines.values() if m.zone == zone_b]
        return self.partition(a, b, **kwargs)

    def heal(self, partition_id: int | None = None) -> list[tuple[str, str, Any]]:
        """Remove one partition (or all) and return the held messages that may now flow."""
        if partition_id is None:
            self.partitions.clear()
        else:
            self.partitions = [p for p in self.partitions if p.id != partition_id]
        released, still = [], []
        for src, dst, item in self._held:
            (still if self._blocking(src, dst) else released).append((src, dst, item))
        self._held = still
        return released

    def _blocking(self, src: str, dst: str) -> Partition | None:
        for part in self.partitions:
            if part.blocks(src, dst):
                return part
        return None

    def plan(self, src: str, dst: str, link: tuple[str, str], now: float, item: Any) -> list[float] | str:
        """What happens to `item` sent now from machine `src` to `dst` on actor link `link`.

        Returns the delays after which copies arrive (empty: dropped), or `HOLD` when a
        partition holds it (it is kept here and returned by `heal`).
        """
        part = self._blocking(src, dst)
        if part is not None:
            if part.mode is PartitionMode.HOLD:
                self._held.append((src, dst, item))
                return HOLD
            return []
        delay = self.latency[self.link_class(src, dst)].sample(self.rng)
        faults = self.faults
        if src != dst and faults.drop and self.rng.random() < faults.drop:
            return []
        if src != dst and faults.reorder and self.rng.random() < faults.reorder:
            delays = [delay + self.rng.uniform(0.0, faults.reorder_extra)]
        else:
            # strictly after the previous arrival on this link: the loop's timer heap
            # does not keep insertion order among equal deadlines
            last = self._link_last.get(link)
            arrival = now + delay if last is None else max(now + delay, math.nextafter(last, math.inf))
            self._link_last[link] = arrival
            delays = [arrival - now]
        if src != dst and faults.duplicate and self.rng.random() < faults.duplicate:
            delays.append(delays[0] + self.rng.uniform(0.0, faults.reorder_extra))
        return delays

    def held_count(self) -> int:
        return len(self._held)

    def forget_link_state(self, actor: str) -> None:
        """Drop FIFO bookkeeping of an actor's links (its connections were reset)."""
        for key in [k for k in self._link_last if actor in k]:
            del self._link_last[key]
