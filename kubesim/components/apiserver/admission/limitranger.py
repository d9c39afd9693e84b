"""LimitRanger: default container requests/limits from the namespace's LimitRanges, then
enforce their min, max and maxLimitRequestRatio for containers and pods.

After ``kubernetes/plugin/pkg/admission/limitranger/admission.go``. The mutating phase
fills each container's missing requests (``defaultRequest``) and limits (``default``) and
records what it set in the ``kubernetes.io/limit-ranger`` annotation; the validating
phase checks every ``Container`` item per container and every ``Pod`` item against the
pod's totals. Pods are checked on create only (their resources are immutable), and an
object being deleted is not checked. Violations are one 403 listing them all.
PersistentVolumeClaim limits are not implemented: kubesim does not serve that kind.
"""

from __future__ import annotations

from kubesim.api.quantity import Quantity
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation, forbidden
from kubesim.components.apiserver.admission.interfaces import (
    LIMIT_RANGES,
    ActorContext,
    Lister,
    Plugin,
)
from kubesim.components.apiserver.admission.live_lookup import LiveListFallback

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
LIVE_LOOKUP_CAPACITY = 10000
LIMIT_TYPE_CONTAINER = "Container"
LIMIT_TYPE_POD = "Pod"
_MAX_INT64 = 2**63 - 1
MAX_MILLI_VALUE = _MAX_INT64 // 1000  # resource.MaxMilliValue


class LimitRanger(Plugin):
    name = "LimitRanger"
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    def __init__(self, lister: Lister, ctx: ActorContext):
        self._limit_ranges = LiveListFallback(lister, ctx, LIMIT_RANGES, LIVE_LOOKUP_CAPACITY)

    async def admit(self, attrs: Attributes) -> None:
        for limit_range in await self._applicable(attrs):
            _default_pod_resources(limit_range, attrs.object or {})

    async def validate(self, attrs: Attributes) -> None:
        for limit_range in await self._applicable(attrs):
            errors = _pod_violations(limit_range, attrs.object or {})
            if errors:
                raise forbidden(attrs, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")

    async def _applicable(self, attrs: Attributes) -> list[Obj]:
        """``SupportsAttributes`` and the deletion check, then the namespace's LimitRanges."""
        if attrs.subresource or not attrs.is_kind("", "Pod") or attrs.operation == Operation.UPDATE:
            return []
        if ((attrs.old_object or {}).get("metadata") or {}).get("deletionTimestamp"):
            return []
        return await self._limit_ranges.list(attrs.namespace)


def _items(limit_range: Obj) -> list[Obj]:
    return list((limit_range.get("spec") or {}).get("limits") or [])


def _default_pod_resources(limit_range: Obj, pod: Obj) -> None:
    """``PodMutateLimitFunc``: fill missing container requests and limits, annotate."""
    default_requests: dict[str, object] = {}
    default_limits: dict[str, object] = {}
    for item in _items(limit_range):
        if item.get("type") == LIMIT_TYPE_CONTAINER:
            default_requests.update(item.get("defaultRequest") or {})
            default_limits.update(item.get("default") or {})
    notes: list[str] = []
    spec = pod.get("spec") or {}
    for key, label in (("containers", "container"), ("initContainers", "init container")):
        for ctr in spec.get(key) or []:
            resources = ctr.setdefault("resources", {})
            set_limits = _fill(resources, "limits", default_limits)
            set_requests = _fill(resources, "requests", default_requests)
            if set_requests:
                notes.append(f"{', '.join(set_requests)} request for {label} {ctr.get('name', '')}")
            if set_limits:
                notes.append(f"{', '.join(set_limits)} limit for {label} {ctr.get('name', '')}")
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _fill(resources: Obj, key: str, defaults: dict[str, object]) -> list[str]:
    """Set the names of ``defaults`` missing from ``resources[key]``; the names set, sorted."""
    current = resources.get(key) or {}
    missing = sorted(name for name in defaults if name not in current)
    if missing:
        resources[key] = {**current, **{name: defaults[name] for name in missing}}
    return missing


def _pod_violations(limit_range: Obj, pod: Obj) -> list[str]:
    """``PodValidateLimitFunc``: every violated constraint's message, deduplicated."""
    errors: list[str] = []
    spec = pod.get("spec") or {}
    for item in _items(limit_range):
        kind = item.get("type")
        if kind == LIMIT_TYPE_CONTAINER:
            for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
                res = ctr.get("resources") or {}
                errors += _check(item, kind, rl.parse(res.get("requests")), rl.parse(res.get("limits")))
        elif kind == LIMIT_TYPE_POD:
            errors += _check(item, kind, rl.pod_requests(pod, overhead=False),
                             rl.pod_limits(pod, overhead=False))
    return list(dict.fromkeys(errors))


def _check(item: Obj, kind: str, requests: rl.ResourceList, limits: rl.ResourceList) -> list[str]:
    out: list[str] = []
    for constraint, key in ((_min, "min"), (_max, "max"), (_ratio, "maxLimitRequestRatio")):
        for name, enforced in sorted(rl.parse(item.get(key)).items()):
            message = constraint(kind, name, enforced, requests.get(name), limits.get(name))
            if message:
                out.append(message)
    return out


def _values(request: Quantity | None, limit: Quantity | None,
            enforced: Quantity) -> tuple[int, int, int]:
    """``requestLimitEnforcedValues``: compare in milli-units unless that would overflow."""
    quantities = [q or rl.ZERO for q in (request, limit, enforced)]
    if all(q.value() <= MAX_MILLI_VALUE for q in quantities):
        req, lim, enf = (q.milli_value() for q in quantities)
    else:
        req, lim, enf = (q.value() for q in quantities)
    return req, lim, enf


def _min(kind: str, name: str, enforced: Quantity, request: Quantity | None,
         limit: Quantity | None) -> str | None:
    req, lim, enf = _values(request, limit, enforced)
    if request is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if req < enf:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {request}"
    if limit is not None and lim < enf:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {limit}"
    return None


def _max(kind: str, name: str, enforced: Quantity, request: Quantity | None,
         limit: Quantity | None) -> str | None:
    req, lim, enf = _values(request, limit, enforced)
    if limit is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if lim > enf:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {limit}"
    if request is not None and req > enf:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {request}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, request: Quantity | None,
           limit: Quantity | None) -> str | None:
    req, lim, _ = _values(request, limit, enforced)
    prefix = f"{name} max limit to request ratio per {kind} is {enforced}"
    if request is None or req == 0:
        return f"{prefix}, but no request is specified or request is 0"
    if limit is None or lim == 0:
        return f"{prefix}, but no limit is specified or limit is 0"
    observed = lim / req
    shown = observed
    maximum = float(enforced.value())
    if enforced.value() <= MAX_MILLI_VALUE:
        observed *= 1000
        maximum = float(enforced.milli_value())
    if observed > maximum:
        return f"{prefix}, but provided ratio is {shown:f}"
    return None
