"""The apiserver load balancer's choice of replica, as a pure state machine.

kubeadm's HA guide puts HAProxy in front of the apiservers (`balance roundrobin`,
`option httpchk GET /healthz`, `check inter 2s fall 3 rise 2`): each backend is checked
every `interval`; `fall` failed checks in a row take it out of the rotation, `rise`
passed checks in a row put it back. Servers start UP (HAProxy's default initial state).
With no backend UP, HAProxy answers 503 at once.

The prober (`prober.py`) runs the checks and sends its requests where `pick` says, so
on both runtimes clients reach the control plane the way they would through the LB.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BackendState:
    address: str
    up: bool = True
    failures: int = 0
    successes: int = 0


class Balancer:
    """Round robin over the backends that pass their health checks."""

    def __init__(self, backends: list[str], rise: int, fall: int) -> None:
        if not backends:
            raise ValueError("a load balancer needs at least one backend")
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be >= 1")
        self.backends = [BackendState(b) for b in backends]
        self.rise = rise
        self.fall = fall
        self._next = 0

    def check_result(self, address: str, passed: bool) -> bool | None:
        """Record one health check; returns the backend's new state when it flipped."""
        backend = next(b for b in self.backends if b.address == address)
        if passed:
            backend.failures = 0
            backend.successes += 1
            if not backend.up and backend.successes >= self.rise:
                backend.up = True
                return True
        else:
            backend.successes = 0
            backend.failures += 1
            if backend.up and backend.failures >= self.fall:
                backend.up = False
                return False
        return None

    def pick(self) -> str | None:
        """The next UP backend in round-robin order (None: all are down)."""
        n = len(self.backends)
        for step in range(n):
            backend = self.backends[(self._next + step) % n]
            if backend.up:
                self._next = (self._next + step + 1) % n
                return backend.address
        return None

    def up(self) -> list[str]:
        return [b.address for b in self.backends if b.up]
