"""Service ClusterIP and NodePort ranges as bitmaps in a RangeAllocation object.

Pure state, no I/O: what k8s.io/kubernetes pkg/registry/core/service/ipallocator,
portallocator and allocator/bitmap.go keep in memory, over the ``RangeAllocation`` they
persist in etcd (``{"range": "10.96.0.0/12", "data": <bitmap>}``). Bit ``i`` of the bitmap
(``big.Int`` bytes, big-endian, base64 in JSON) is offset ``i`` of the range: for an IPv4
CIDR offset 0 is the address after the network address and the broadcast address is not
used; for ports offset 0 is the first port.

Dynamic allocation is ``randomScanStrategyWithOffset`` (the ServiceIPStaticSubrange and
ServiceNodePortStaticSubrange behaviour, GA in v1.26/v1.29): a random start in the upper
part of the range ``[offset, max)``, scanning forward, and only when that is full the lower
``[0, offset)`` part, which is left to users who ask for specific values.
"""

from __future__ import annotations

import base64
import ipaddress
import random
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

ERR_FULL = "range is full"
ERR_IP_ALLOCATED = "provided IP is already allocated"
ERR_PORT_ALLOCATED = "provided port is already allocated"
ERR_IP_MISMATCH = "the provided network does not match the current range"
ERR_PORT_MISMATCH = "the provided port range does not match the current port range"


class RangeError(Exception):
    """An allocation the range refuses; the message is upstream's error text."""


@dataclass(frozen=True)
class ServiceRange:
    """One range: its text as stored (``10.96.0.0/12``, ``30000-32767``), its first value
    (an int address or port), its size in offsets and the size of the static lower part."""

    spec: str
    base: int
    size: int
    offset: int
    is_ip: bool

    @classmethod
    def cidr(cls, text: str) -> ServiceRange:
        """``--service-cluster-ip-range``: ipallocator.NewInMemory's bounds and offset."""
        net = ipaddress.ip_network(text, strict=True)
        size = net.num_addresses
        base = int(net.network_address)
        if net.version == 4 and size > 2:
            size -= 2  # neither the network nor the broadcast address
            base += 1
        elif size > 1:
            size -= 1  # IPv6: not the subnet-router anycast address
            base += 1
        return cls(str(net), base, size, _offset(net.num_addresses, 16, 256, 16), True)

    @classmethod
    def ports(cls, text: str) -> ServiceRange:
        """``--service-node-port-range`` ("30000-32767", or one port)."""
        low_text, _, high_text = text.partition("-")
        low = int(low_text)
        high = int(high_text) if high_text else low
        if not 0 < low <= high <= 65535:
            raise ValueError(f"invalid port range {text!r}")
        size = high - low + 1
        return cls(f"{low}-{high}", low, size, _offset(size, 16, 128, 32), False)

    # ----------------------------------------------------------------- values
    def first(self) -> str:
        return self.render(0)

    def render(self, at: int) -> str:
        value = self.base + at
        return str(ipaddress.ip_address(value)) if self.is_ip else str(value)

    def offset_of(self, value: str | int) -> int:
        """The offset of an IP or port; RangeError when it is outside the range."""
        number = int(ipaddress.ip_address(str(value))) if self.is_ip else int(value)
        at = number - self.base
        if not 0 <= at < self.size:
            if self.is_ip:
                raise RangeError("provided IP is not in the valid range. "
                                 f"The range of valid IPs is {self.spec}")
            raise RangeError("provided port is not in the valid range. "
                             f"The range of valid ports is {self.spec}")
        return at

    # ----------------------------------------------------------------- the stored object
    def empty(self) -> Obj:
        return {"kind": "RangeAllocation", "apiVersion": "v1",
                "metadata": {"creationTimestamp": None}, "range": self.spec, "data": ""}

    def bitmap(self, stored: Obj | None) -> int:
        """The bitmap of a stored RangeAllocation (0 for none); RangeError for another range."""
        if stored is None:
            return 0
        if stored.get("range") != self.spec:
            raise RangeError(ERR_IP_MISMATCH if self.is_ip else ERR_PORT_MISMATCH)
        return int.from_bytes(base64.b64decode(stored.get("data") or ""), "big")

    def store(self, stored: Obj | None, bits: int) -> Obj:
        out = dict(stored) if stored is not None else self.empty()
        out["range"] = self.spec
        raw = bits.to_bytes((bits.bit_length() + 7) // 8, "big")
        out["data"] = base64.b64encode(raw).decode()
        return out

    # ----------------------------------------------------------------- bitmap operations
    def allocate(self, bits: int, value: str | int) -> int:
        """``Allocate``: the bitmap with ``value`` taken; RangeError when taken or outside."""
        at = self.offset_of(value)
        if bits >> at & 1:
            raise RangeError(ERR_IP_ALLOCATED if self.is_ip else ERR_PORT_ALLOCATED)
        return bits | 1 << at

    def allocate_next(self, bits: int, rng: random.Random) -> tuple[int, str]:
        """``AllocateNext`` (randomScanStrategyWithOffset); RangeError "range is full"."""
        if bits.bit_count() >= self.size:
            raise RangeError(ERR_FULL)
        for low, high in ((self.offset, self.size), (0, self.offset)):
            span = high - low
            if span <= 0:
                continue
            start = rng.randrange(span)
            for i in range(span):
                at = low + (start + i) % span
                if not bits >> at & 1:
                    return bits | 1 << at, self.render(at)
        raise RangeError(ERR_FULL)

    def release(self, bits: int, value: str | int) -> int:
        """``Release``: a value outside the range or not held is left alone."""
        try:
            at = self.offset_of(value)
        except (RangeError, ValueError):
            return bits
        return bits & ~(1 << at)


def _offset(size: int, low: int, high: int, step: int) -> int:
    """``calculateRangeOffset``: the static lower part, size/step within [low, high]."""
    if size < low:
        return 0
    return max(low, min(high, size // step))
