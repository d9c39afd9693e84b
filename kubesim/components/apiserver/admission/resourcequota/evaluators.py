"""Quota evaluators: which quota resources an object consumes, and how much.

After ``kubernetes/pkg/quota/v1/evaluator/core/pods.go`` and ``services.go``,
``pkg/quota/v1/generic/evaluator.go`` (object counts, ``Matches``) and
``pkg/quota/v1/evaluator/core/registry.go`` (the legacy count names ``configmaps``,
``secrets``, ``resourcequotas``). Every other resource is counted as ``count/<resource>``
(``count/deployments.apps``); events are never counted.

A quota matches an object when one of its ``status.hard`` names is a resource the
evaluator knows and every scope selector of the quota matches the object. Only pods have
scopes (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
CrossNamespacePodAffinity); a scoped quota matches no other kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api import labels, selectors
from kubesim.api.defaults import pod_qos_class
from kubesim.api.quantity import Quantity
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation

IGNORED_RESOURCES = ("events",)  # install.DefaultIgnoredResources
REQUESTS_PREFIX = "requests."  # corev1.DefaultResourceRequestsPrefix
HUGEPAGES_PREFIX = "hugepages-"
ONE = Quantity.from_int(1)


@dataclass(frozen=True)
class ScopeSelector:
    """A ``ScopedResourceSelectorRequirement``: scopeName, operator, values."""

    scope: str
    operator: str
    values: tuple[str, ...] = ()


def object_count_name(group_resource: str) -> str:
    """``generic.ObjectCountQuotaResourceNameFor``: ``count/deployments.apps``."""
    return f"count/{group_resource}"


class Evaluator:
    """``quota.Evaluator`` for one group-resource."""

    resource_names: tuple[str, ...] = ()

    def handles(self, attrs: Attributes) -> bool:
        return attrs.operation == Operation.CREATE

    def matching_resources(self, names: list[str]) -> list[str]:
        """The names in ``names`` this evaluator measures (``MatchingResources``)."""
        return [name for name in names if name in self.resource_names]

    def matches_scope(self, selector: ScopeSelector, obj: Obj) -> bool:
        """``MatchesNoScopeFunc``: a scoped quota never matches."""
        return False

    def matches(self, hard: rl.ResourceList, scopes: list[ScopeSelector], obj: Obj) -> bool:
        """``generic.Matches``: a known resource in ``hard`` and every scope matching."""
        return bool(self.matching_resources(list(hard))) and all(
            self.matches_scope(scope, obj) for scope in scopes)

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        """Why ``obj`` cannot be charged against ``required`` (None: it can)."""
        return None

    def usage(self, obj: Obj) -> rl.ResourceList:
        raise NotImplementedError


class ObjectCountEvaluator(Evaluator):
    """Counts objects on create: ``count/<resource>`` and the legacy alias, if any."""

    def __init__(self, group_resource: str, alias: str = ""):
        self.resource_names = (object_count_name(group_resource), *((alias,) if alias else ()))

    def usage(self, obj: Obj) -> rl.ResourceList:
        return {name: ONE for name in self.resource_names}


class ServiceEvaluator(Evaluator):
    """Services, node ports and load balancers; on create and update (the type can change)."""

    resource_names = (object_count_name("services"), "services", "services.nodeports",
                      "services.loadbalancers")

    def handles(self, attrs: Attributes) -> bool:
        return attrs.operation in (Operation.CREATE, Operation.UPDATE)

    def usage(self, obj: Obj) -> rl.ResourceList:
        spec = obj.get("spec") or {}
        ports = spec.get("ports") or []
        node_ports, load_balancers = 0, 0
        if spec.get("type") == "NodePort":
            node_ports = len(ports)
        elif spec.get("type") == "LoadBalancer":
            load_balancers = 1
            if spec.get("allocateLoadBalancerNodePorts") is False:
                node_ports = sum(1 for port in ports if port.get("nodePort"))
            else:
                node_ports = len(ports)
        return {object_count_name("services"): ONE, "services": ONE,
                "services.loadbalancers": Quantity.from_int(load_balancers),
                "services.nodeports": Quantity.from_int(node_ports)}


_POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
# Resources every container must request or limit once a matching quota limits them.
_MUST_SPECIFY = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def _is_native(name: str) -> bool:
    """``helper.IsNativeResource``: no domain, or a kubernetes.io one."""
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    """``helper.IsExtendedResourceName``."""
    if _is_native(name) or name.startswith(REQUESTS_PREFIX):
        return False
    return not labels.is_qualified_name(REQUESTS_PREFIX + name)


def pod_compute_usage(requests: rl.ResourceList, limits: rl.ResourceList) -> rl.ResourceList:
    """``podComputeUsageHelper``: quota names charged for these requests and limits."""
    out: rl.ResourceList = {"pods": ONE}
    for name in _POD_COMPUTE:
        if name in requests:
            out[name] = requests[name]
            out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith(HUGEPAGES_PREFIX):
            out[name] = value
            out[REQUESTS_PREFIX + name] = value
        if _is_extended(name):
            out[REQUESTS_PREFIX + name] = value
    return out


def _cross_namespace(terms: list[Any] | None, weighted: bool) -> bool:
    for term in terms or []:
        inner = (term.get("podAffinityTerm") or {}) if weighted else term
        if inner.get("namespaces") or inner.get("namespaceSelector") is not None:
            return True
    return False


def _uses_cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for key in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(key) or {}
        if (_cross_namespace(rules.get("requiredDuringSchedulingIgnoredDuringExecution"), False)
                or _cross_namespace(rules.get("preferredDuringSchedulingIgnoredDuringExecution"), True)):
            return True
    return False


_SCOPE_OPERATORS = {"In": selectors.IN, "NotIn": selectors.NOT_IN, "Exists": selectors.EXISTS,
                    "DoesNotExist": selectors.DOES_NOT_EXIST}


class PodEvaluator(Evaluator):
    """Pods: counts, compute requests and limits, hugepages and extended resources.

    Charged on create only (in 1.32 updates change no quota: InPlacePodVerticalScaling is
    off). A pod in phase Succeeded or Failed is charged ``count/pods`` only.
    """

    resource_names = (object_count_name("pods"), *_POD_COMPUTE,
                      *(f"requests.{n}" for n in _POD_COMPUTE), *(f"limits.{n}" for n in _POD_COMPUTE),
                      "pods")

    def matching_resources(self, names: list[str]) -> list[str]:
        out = [name for name in names if name in self.resource_names]
        out += [name for name in names if name.startswith(HUGEPAGES_PREFIX)
                or (not _is_native(name) and name.startswith(REQUESTS_PREFIX))]
        return out

    def matches_scope(self, selector: ScopeSelector, obj: Obj) -> bool:
        spec = obj.get("spec") or {}
        scope = selector.scope
        if scope in ("Terminating", "NotTerminating"):
            deadline = spec.get("activeDeadlineSeconds")
            return (deadline is not None and deadline >= 0) == (scope == "Terminating")
        if scope in ("BestEffort", "NotBestEffort"):
            return (pod_qos_class(obj) == "BestEffort") == (scope == "BestEffort")
        if scope == "PriorityClass":
            class_name = spec.get("priorityClassName") or ""
            if selector.operator == "Exists":
                return bool(class_name)
            operator = _SCOPE_OPERATORS.get(selector.operator)
            if operator is None:
                return False
            requirement = selectors.Requirement(scope, operator, selector.values)
            return requirement.matches({scope: class_name} if class_name else {})
        if scope == "CrossNamespacePodAffinity":
            return _uses_cross_namespace_affinity(obj)
        return False

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        """Every container must set each limited cpu/memory resource (backward compatibility)."""
        must = [name for name in _MUST_SPECIFY if name in required]
        missing: dict[str, list[str]] = {}
        spec = obj.get("spec") or {}
        for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            res = ctr.get("resources") or {}
            charged = pod_compute_usage(rl.parse(res.get("requests")), rl.parse(res.get("limits")))
            for name in must:
                if name not in charged:
                    names = missing.setdefault(name, [])
                    if ctr.get("name", "") not in names:
                        names.append(ctr.get("name", ""))
        if not missing:
            return None
        return "must specify " + "; ".join(f"{name} for: {','.join(sorted(missing[name]))}"
                                           for name in sorted(missing))

    def usage(self, obj: Obj) -> rl.ResourceList:
        out: rl.ResourceList = {object_count_name("pods"): ONE}
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return out
        return rl.add(out, pod_compute_usage(rl.pod_requests(obj), rl.pod_limits(obj)))


_LEGACY_ALIASES = {"configmaps": "configmaps", "resourcequotas": "resourcequotas",
                   "secrets": "secrets"}


class Registry:
    """``quota.Registry``: the evaluator of each group-resource, made on first use."""

    def __init__(self) -> None:
        self._evaluators: dict[str, Evaluator] = {"pods": PodEvaluator(),
                                                  "services": ServiceEvaluator()}

    def get(self, group_resource: str) -> Evaluator:
        evaluator = self._evaluators.get(group_resource)
        if evaluator is None:
            evaluator = ObjectCountEvaluator(group_resource, _LEGACY_ALIASES.get(group_resource, ""))
            self._evaluators[group_resource] = evaluator
        return evaluator
