"""Placing an etcd cluster on a runtime: one member per machine, spread over zones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubesim.components.etcd.member import EtcdMember
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime

CLUSTER_ID = 0x6B756265_73696D00  # "kubesim\0"
ZONES = ("zone-a", "zone-b", "zone-c")


def member_address(index: int) -> Address:
    return Address("etcd", f"etcd-{index}")


def member_id(index: int) -> int:
    return index + 1


def member_spec(
    index: int,
    peers: dict[int, str],
    settings: dict[str, Any] | None = None,
    join: bool = False,
    machine: str | None = None,
    observer: Callable[[tuple[Any, ...]], None] | None = None,
) -> ActorSpec:
    address = member_address(index)
    return ActorSpec(
        address=address,
        factory=EtcdMember,
        machine=machine or address.name,
        kwargs={
            "member_id": member_id(index),
            "cluster_id": CLUSTER_ID,
            "peers": peers,
            "settings": settings or {},
            "join": join,
            **({"observer": observer} if observer is not None else {}),
        },
        metric_labels={"instance": address.name, "job": "etcd"},
    )


def place_etcd(
    runtime: Runtime,
    size: int,
    settings: dict[str, Any] | None = None,
    zones: Sequence[str] = ZONES,
    observer: Callable[[tuple[Any, ...]], None] | None = None,
) -> list[str]:
    """Add `size` machines (role etcd, round-robin over zones), spawn a member on each;
    the members' addresses (the client endpoints)."""
    if size < 1:
        raise ValueError("an etcd cluster needs at least one member")
    peers = {member_id(i): str(member_address(i)) for i in range(size)}
    for i in range(size):
        runtime.add_machine(Machine(member_address(i).name, zones[i % len(zones)], "etcd"))
        runtime.spawn(member_spec(i, peers, settings, observer=observer))
    return [str(member_address(i)) for i in range(size)]


def add_machine_for(runtime: Runtime, index: int, zones: Sequence[str] = ZONES) -> None:
    runtime.add_machine(Machine(member_address(index).name, zones[index % len(zones)], "etcd"))
