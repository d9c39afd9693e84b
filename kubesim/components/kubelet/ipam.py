"""The modelled CNI's IP address management: the host-local IPAM plugin over the node's
podCIDR (containernetworking/plugins, plugins/ipam/host-local/backend/allocator).

As host-local does, the range is the podCIDR without its network and broadcast addresses,
the first address is the bridge gateway (never handed out), and allocation goes round-robin
from the last address reserved, so an address freed by a deleted pod is not reused at once.
Only IPv4 single-stack is modelled.
"""

from __future__ import annotations

import ipaddress


class IPAMError(Exception):
    """No address left in the range (the sandbox cannot be created)."""


class HostLocalIPAM:
    """Addresses of one node's podCIDR: container id -> IP."""

    __slots__ = ("cidr", "_first", "_last", "_gateway", "_next", "_by_owner", "_taken")

    def __init__(self, pod_cidr: str) -> None:
        net = ipaddress.ip_network(pod_cidr, strict=True)
        if net.version != 4 or net.num_addresses < 4:
            raise ValueError(f"pod CIDR {pod_cidr} must be an IPv4 range of at least 4 addresses")
        self.cidr = pod_cidr
        base = int(net.network_address)
        self._gateway = base + 1
        self._first = base + 1
        self._last = int(net.broadcast_address) - 1
        self._next = self._gateway + 1
        self._by_owner: dict[str, int] = {}
        self._taken: set[int] = set()

    @property
    def gateway(self) -> str:
        return str(ipaddress.IPv4Address(self._gateway))

    def allocate(self, owner: str) -> str:
        """Reserve an address for `owner` (a sandbox id); the same owner gets the same one."""
        held = self._by_owner.get(owner)
        if held is not None:
            return str(ipaddress.IPv4Address(held))
        size = self._last - self._first + 1
        candidate = self._next
        for _ in range(size):
            if candidate > self._last:
                candidate = self._first
            if candidate != self._gateway and candidate not in self._taken:
                self._taken.add(candidate)
                self._by_owner[owner] = candidate
                self._next = candidate + 1
                return str(ipaddress.IPv4Address(candidate))
            candidate += 1
        first = ipaddress.IPv4Address(self._first)
        last = ipaddress.IPv4Address(self._last)
        raise IPAMError(f"failed to allocate for range 0: no IP addresses available in range set: {first}-{last}")

    def release(self, owner: str) -> None:
        address = self._by_owner.pop(owner, None)
        if address is not None:
            self._taken.discard(address)

    def in_use(self) -> int:
        return len(self._by_owner)
