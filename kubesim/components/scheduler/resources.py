"""Resource arithmetic on plain Pod/Node dicts: pod requests (init-container max rule,
sidecars, overhead), node allocatable, and the non-zero defaults used for scoring.

Quantities are parsed with :mod:`kubesim.api.quantity`; CPU is kept in millicores,
everything else in whole units, as the scheduler's ``framework.Resource`` does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from kubesim.api.labels import is_qualified_name
from kubesim.api.quantity import parse_json

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

DEFAULT_MILLI_CPU_REQUEST = 100  # schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # schedutil.DefaultMemoryRequest

_NATIVE = (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)


@functools.lru_cache(maxsize=4096)
def _amount(name: str, text: str) -> int:
    q = parse_json(text)
    return q.milli_value() if name == CPU else q.value()


def amount(name: str, value: Any) -> int:
    """One quantity as the scheduler counts it: millicores for cpu, units otherwise."""
    return _amount(name, value if isinstance(value, str) else repr(value))


def resource_list(raw: dict[str, Any] | None) -> dict[str, int]:
    """A ResourceList dict (``{"cpu": "100m"}``) as integers."""
    return {k: amount(k, v) for k, v in (raw or {}).items()}


def is_extended_resource_name(name: str) -> bool:
    """``IsExtendedResourceName``: a domain-prefixed name outside kubernetes.io/ (e.g.
    ``nvidia.com/gpu``), valid as a quota name."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return not is_qualified_name(f"requests.{name}")


def is_scalar(name: str) -> bool:
    """Extended, hugepages and attachable-volume resources (``IsScalarResourceName``)."""
    return name not in _NATIVE


@dataclass
class Resource:
    """``framework.Resource``: milli-CPU, memory, ephemeral storage, pod count, scalars."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, rl: dict[str, int]) -> Resource:
        r = cls()
        r.add(rl)
        return r

    def add(self, rl: dict[str, int], sign: int = 1) -> None:
        for name, v in rl.items():
            if name == CPU:
                self.milli_cpu += sign * v
            elif name == MEMORY:
                self.memory += sign * v
            elif name == EPHEMERAL_STORAGE:
                self.ephemeral_storage += sign * v
            elif name == PODS:
                self.allowed_pod_number += sign * v
            else:
                self.scalar[name] = self.scalar.get(name, 0) + sign * v

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def clone(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage,
                        self.allowed_pod_number, dict(self.scalar))


def _add(into: dict[str, int], rl: dict[str, int]) -> None:
    for k, v in rl.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], rl: dict[str, int]) -> None:
    for k, v in rl.items():
        if k not in into or v > into[k]:
            into[k] = v


def _container_requests(c: dict[str, Any], non_missing: dict[str, int] | None) -> dict[str, int]:
    reqs = resource_list((c.get("resources") or {}).get("requests"))
    if non_missing:
        for k, v in non_missing.items():
            reqs.setdefault(k, v)
    return reqs


def pod_requests(pod: dict[str, Any], non_missing: dict[str, int] | None = None) -> dict[str, int]:
    """``resourcehelper.PodRequests``: sum of containers, max with init containers
    (restartable sidecars accumulate), plus ``spec.overhead``.

    ``non_missing`` fills in requests a container does not set (the scoring defaults).
    """
    spec = pod.get("spec") or {}
    reqs: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(reqs, _container_requests(c, non_missing))
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        creqs = _container_requests(c, non_missing)
        if c.get("restartPolicy") == "Always":
            _add(reqs, creqs)
            _add(sidecars, creqs)
            effective = dict(sidecars)
        else:
            effective = dict(creqs)
            _add(effective, sidecars)
        _max(init_max, effective)
    _max(reqs, init_max)
    _add(reqs, resource_list(spec.get("overhead")))
    return reqs


NON_ZERO_DEFAULTS = {CPU: DEFAULT_MILLI_CPU_REQUEST, MEMORY: DEFAULT_MEMORY_REQUEST}


def non_zero_requests(pod: dict[str, Any]) -> tuple[int, int]:
    """(milli-CPU, memory) with the 100m / 200Mi defaults for containers that set none."""
    r = pod_requests(pod, NON_ZERO_DEFAULTS)
    return r.get(CPU, 0), r.get(MEMORY, 0)


def node_allocatable(node: dict[str, Any]) -> Resource:
    status = node.get("status") or {}
    return Resource.from_list(resource_list(status.get("allocatable") or status.get("capacity")))
