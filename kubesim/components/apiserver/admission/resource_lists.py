"""ResourceList arithmetic on exact quantities, and a pod's effective requests and limits.

A ResourceList here is ``dict[str, Quantity]``. The set operations follow
``kubernetes/pkg/quota/v1/resources.go`` (``Add``, ``SubtractWithNonNegativeResult``,
``Mask``, ``LessThanOrEqual``, ``Equals`` ...); :func:`pod_requests` and
:func:`pod_limits` follow ``kubernetes/pkg/api/v1/resource/helpers.go``
(``PodRequests``, ``PodLimits``): containers add up, restartable init containers
(sidecars) add to both the running total and every later init container, the pod needs
the larger of that and its largest init container, plus ``spec.overhead``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubesim.api.quantity import Quantity, parse_json

ResourceList = dict[str, Quantity]
ZERO = Quantity(0)


def parse(raw: dict[str, Any] | None) -> ResourceList:
    """A ResourceList from its JSON form (``{"cpu": "100m"}``)."""
    return {name: parse_json(value) for name, value in (raw or {}).items()}


def to_json(rl: ResourceList) -> dict[str, str]:
    """The JSON form, sorted by name as Go's encoder writes maps."""
    return {name: str(rl[name]) for name in sorted(rl)}


def add(a: ResourceList, b: ResourceList) -> ResourceList:
    """``quota.Add``: the union, summing names in both."""
    out = dict(a)
    for name, value in b.items():
        out[name] = out[name] + value if name in out else value
    return out


def subtract_non_negative(a: ResourceList, b: ResourceList) -> ResourceList:
    """``quota.SubtractWithNonNegativeResult``: a - b per name, floored at zero."""
    out: ResourceList = {}
    for name, value in a.items():
        diff = value - b[name] if name in b else value
        out[name] = diff if diff > ZERO else ZERO
    for name in b:
        out.setdefault(name, ZERO)
    return out


def mask(rl: ResourceList, names: Iterable[str]) -> ResourceList:
    """``quota.Mask``: only the given names."""
    return {name: rl[name] for name in names if name in rl}


def less_than_or_equal(a: ResourceList, b: ResourceList) -> list[str]:
    """``quota.LessThanOrEqual``: the names in both where a exceeds b (sorted); [] if none."""
    return sorted(name for name in b if name in a and a[name] > b[name])


def equals(a: ResourceList, b: ResourceList) -> bool:
    """``quota.Equals``: same names, equal values."""
    return a.keys() == b.keys() and all(a[name] == b[name] for name in a)


def remove_zeros(rl: ResourceList) -> ResourceList:
    return {name: value for name, value in rl.items() if not value.is_zero()}


def negative_names(rl: ResourceList) -> list[str]:
    """``quota.IsNegative``: names with a negative value, sorted."""
    return sorted(name for name, value in rl.items() if value.sign() < 0)


def pretty(rl: ResourceList) -> str:
    """``prettyPrint``: ``name=value`` sorted by name, comma-separated."""
    return ",".join(f"{name}={rl[name]}" for name in sorted(rl))


def _add_into(total: ResourceList, rl: ResourceList) -> None:
    for name, value in rl.items():
        total[name] = total[name] + value if name in total else value


def _max_into(total: ResourceList, rl: ResourceList) -> None:
    for name, value in rl.items():
        if name not in total or value > total[name]:
            total[name] = value


def _pod_total(pod: dict[str, Any], key: str) -> ResourceList:
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for ctr in spec.get("containers") or []:
        _add_into(total, parse((ctr.get("resources") or {}).get(key)))
    sidecars: ResourceList = {}
    init_max: ResourceList = {}
    for ctr in spec.get("initContainers") or []:
        own = parse((ctr.get("resources") or {}).get(key))
        if ctr.get("restartPolicy") == "Always":
            _add_into(total, own)
            _add_into(sidecars, own)
            _max_into(init_max, sidecars)
        else:
            _max_into(init_max, add(own, sidecars))
    _max_into(total, init_max)
    return total


def pod_requests(pod: dict[str, Any], overhead: bool = True) -> ResourceList:
    """``PodRequests``; ``overhead=False`` is LimitRanger's variant, which leaves it out."""
    total = _pod_total(pod, "requests")
    if overhead:
        _add_into(total, parse((pod.get("spec") or {}).get("overhead")))
    return total


def pod_limits(pod: dict[str, Any], overhead: bool = True) -> ResourceList:
    """``PodLimits``; overhead is added only to resources that have a limit."""
    total = _pod_total(pod, "limits")
    if overhead:
        for name, value in parse((pod.get("spec") or {}).get("overhead")).items():
            if name in total:
                total[name] = total[name] + value
    return total
