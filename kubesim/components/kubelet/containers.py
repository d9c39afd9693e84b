"""What the modelled container runtime (CRI) holds for a pod: its sandbox and its container
instances, as immutable records so the kubelet's cache (the PLEG view) can share them.

A `ContainerRecord` is one CRI container: created, then running once started, then exited.
Ids are derived from the node, pod, container name and attempt, so runs replay exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

CREATED = "created"
RUNNING = "running"
EXITED = "exited"


def runtime_id(*parts: str) -> str:
    """A 64-hex-digit id as containerd generates them, derived from `parts`."""
    return hashlib.blake2b("/".join(parts).encode(), digest_size=32).hexdigest()


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    """One container instance (CRI ContainerStatus)."""

    id: str  # "containerd://<64 hex>"
    name: str
    attempt: int  # the restart count this instance carries
    image: str  # the normalized image reference
    image_id: str  # repository digest
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    reason: str = ""

    @property
    def state(self) -> str:
        if self.finished_at is not None:
            return EXITED
        if self.started_at is not None:
            return RUNNING
        return CREATED

    def started(self, at: float) -> ContainerRecord:
        return replace(self, started_at=at)

    def exited(self, at: float, exit_code: int) -> ContainerRecord:
        """The instance after its process ended (reason as containerd reports it)."""
        return replace(self, finished_at=at, exit_code=exit_code,
                       reason="Completed" if exit_code == 0 else "Error")


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The pod sandbox (pause container + network namespace)."""

    id: str
    ip: str
    created_at: float
    ready: bool = True
