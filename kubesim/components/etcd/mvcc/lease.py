"""The lessor: leases, the keys attached to them, and the leader's expiry bookkeeping.

Replicated state (every member, through applied entries): each lease's id, granted TTL
and attached keys. Leader-only state (etcd's "primary" lessor): each lease's expiry
time. A member that is not the leader keeps every lease alive forever; on promotion the
new leader gives every lease a fresh expiry of now + extend + TTL, as etcd's
`lessor.Promote` does, and `demote()` forgets the expiries again.

Revoking a lease deletes its keys; that goes through the store (`KVStore.lease_revoke`),
which asks the lessor for the keys with `revoke(id)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.etcd import errors

MAX_LEASE_TTL = 9_000_000_000  # lease.MaxLeaseTTL (seconds)
ELECTION_TIMEOUT_MS = 1_000
HEARTBEAT_MS = 100
# etcdserver: minTTL = (3 * electionTicks) / 2 * heartbeat, rounded up to whole seconds
MIN_LEASE_TTL = math.ceil((3 * (ELECTION_TIMEOUT_MS // HEARTBEAT_MS)) // 2 * HEARTBEAT_MS / 1000)
# Lease.Remaining() for a lease without expiry is math.MaxInt64 ns; in whole seconds:
FOREVER_SECONDS = (2**63 - 1) // 1_000_000_000
# bytes a lease takes in the bbolt lease bucket (8-byte id key, leaf header, proto)
LEASE_RECORD_SIZE = 8 + 16 + 12


@dataclass
class Lease:
    id: int
    ttl: int
    keys: set[bytes] = field(default_factory=set)
    expiry: float | None = None  # leader only; None = never expires


class Lessor:
    """Leases by id and the lease each key is attached to."""

    def __init__(self, min_ttl: int = MIN_LEASE_TTL) -> None:
        self.min_ttl = min_ttl
        self.primary = False
        self._leases: dict[int, Lease] = {}
        self._key_lease: dict[bytes, int] = {}

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._leases

    def __len__(self) -> int:
        return len(self._leases)

    def grant(self, lease_id: int, ttl: int, now: float = 0.0) -> Lease:
        """Create a lease; its TTL is raised to the minimum TTL. The leader also sets its
        expiry to now + TTL."""
        if lease_id == 0:
            raise errors.LEASE_NOT_FOUND
        if ttl > MAX_LEASE_TTL:
            raise errors.LEASE_TTL_TOO_LARGE
        if lease_id in self._leases:
            raise errors.LEASE_EXIST
        lease = Lease(lease_id, max(ttl, self.min_ttl))
        if self.primary:
            lease.expiry = now + lease.ttl
        self._leases[lease_id] = lease
        return lease

    def revoke(self, lease_id: int) -> list[bytes]:
        """Forget a lease; return its keys, sorted (the order etcd deletes them in)."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise errors.LEASE_NOT_FOUND
        for key in lease.keys:
            del self._key_lease[key]
        return sorted(lease.keys)

    def lease_of(self, key: bytes) -> int:
        return self._key_lease.get(key, 0)

    def attach(self, lease_id: int, key: bytes) -> None:
        self._leases[lease_id].keys.add(key)
        self._key_lease[key] = lease_id

    def detach(self, key: bytes) -> None:
        lease_id = self._key_lease.pop(key, 0)
        if lease_id:
            self._leases[lease_id].keys.discard(key)

    # leader-only expiry bookkeeping

    def promote(self, now: float, extend: float = 0.0) -> None:
        """Become the primary lessor: every lease expires at now + extend + its TTL."""
        self.primary = True
        for lease in self._leases.values():
            lease.expiry = now + extend + lease.ttl

    def demote(self) -> None:
        self.primary = False
        for lease in self._leases.values():
            lease.expiry = None

    def renew(self, lease_id: int, now: float) -> int:
        """Keep a lease alive (leader only); return its TTL. An expired lease is about to
        be revoked, so it counts as not found (etcd waits for the revocation, then says so)."""
        if not self.primary:
            raise errors.NOT_LEADER
        lease = self._leases.get(lease_id)
        if lease is None or (lease.expiry is not None and lease.expiry <= now):
            raise errors.LEASE_NOT_FOUND
        lease.expiry = now + lease.ttl
        return lease.ttl

    def expired(self, now: float) -> list[int]:
        """Leases whose expiry has passed (leader only), soonest first."""
        if not self.primary:
            return []
        due = [x for x in self._leases.values() if x.expiry is not None and x.expiry <= now]
        return [x.id for x in sorted(due, key=lambda x: (x.expiry, x.id))]

    def time_to_live(self, lease_id: int, keys: bool, now: float) -> dict[str, Any]:
        """LeaseTimeToLiveResponse without header revision; an unknown lease gets TTL -1,
        as etcd's lease server answers."""
        lease = self._leases.get(lease_id)
        if lease is None:
            return {"ID": lease_id, "TTL": -1, "grantedTTL": 0, "keys": []}
        if lease.expiry is None:
            remaining = FOREVER_SECONDS
        else:
            remaining = math.trunc(lease.expiry - now)
        return {
            "ID": lease_id,
            "TTL": remaining,
            "grantedTTL": lease.ttl,
            "keys": sorted(lease.keys) if keys else [],
        }

    def leases(self) -> list[Lease]:
        return [self._leases[i] for i in sorted(self._leases)]

    def dump(self) -> list[list[int]]:
        """[id, ttl] of every lease (keys are rebuilt from the store's KeyValues)."""
        return [[lease.id, lease.ttl] for lease in self.leases()]

    def load(self, data: list[list[int]]) -> None:
        """Replace all leases (no expiries: a restored lessor is not primary)."""
        self.primary = False
        self._leases = {lease_id: Lease(lease_id, ttl) for lease_id, ttl in data}
        self._key_lease = {}
