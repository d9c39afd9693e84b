"""The message envelope moved between logical actors, and its msgpack wire codec."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack


class Kind(IntEnum):
    """What an envelope carries."""

    SEND = 0  # fire-and-forget message
    CALL = 1  # request expecting a reply with the same correlation id
    REPLY = 2  # successful reply to a CALL
    ERROR = 3  # the callee raised: payload is [type name, message]


@dataclass(slots=True)
class Envelope:
    """One message on the wire: addresses in `kind/name` form, payload msgpack-encodable."""

    kind: Kind
    src: str
    dst: str
    corr: int
    payload: Any

    def to_wire(self) -> list[Any]:
        return [int(self.kind), self.src, self.dst, self.corr, self.payload]

    @staticmethod
    def from_wire(item: list[Any]) -> Envelope:
        kind, src, dst, corr, payload = item
        return Envelope(Kind(kind), src, dst, corr, payload)


def pack(obj: Any) -> bytes:
    """Encode a payload (or a batch) the way every transport does."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """Decode what `pack` wrote; integer map keys are allowed."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def pack_batch(envelopes: list[Envelope]) -> bytes:
    return pack([e.to_wire() for e in envelopes])


def unpack_batch(data: bytes) -> list[Envelope]:
    return [Envelope.from_wire(item) for item in unpack(data)]
