"""Checking one request against a namespace's quotas: the pure core of quota admission.

After ``CheckRequest`` in ``kubernetes/plugin/pkg/admission/resourcequota/controller.go``.
:func:`check_request` returns the quotas with the request's usage added to
``status.used`` (unchanged if nothing applies), or raises the 403 a real apiserver
answers: ``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``,
``failed quota: q: must specify limits.cpu for: app``, ``status unknown for quota: q,
resources: pods`` (the quota controller has not yet computed its usage).

Admission configuration (``limitedResources``) is not modelled: kube-apiserver's
default has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesim.api.copying import deep_copy
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation, forbidden
from kubesim.components.apiserver.admission.resourcequota.evaluators import Evaluator, ScopeSelector


@dataclass(frozen=True)
class QuotaDoc:
    """A ResourceQuota with its ``status.hard`` and ``status.used`` parsed."""

    obj: Obj
    hard: rl.ResourceList
    used: rl.ResourceList

    @classmethod
    def of(cls, obj: Obj) -> QuotaDoc:
        st = obj.get("status") or {}
        return cls(obj, rl.parse(st.get("hard")), rl.parse(st.get("used")))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", ""))

    def scopes(self) -> list[ScopeSelector]:
        """``getScopeSelectorsFromQuota``: ``spec.scopes`` (as Exists), then ``scopeSelector``."""
        spec = self.obj.get("spec") or {}
        out = [ScopeSelector(scope, "Exists") for scope in spec.get("scopes") or []]
        for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
            out.append(ScopeSelector(expr.get("scopeName", ""), expr.get("operator", ""),
                                     tuple(expr.get("values") or ())))
        return out

    def with_used(self, used: rl.ResourceList) -> QuotaDoc:
        return QuotaDoc(self.obj, self.hard, used)

    def to_obj(self) -> Obj:
        """The quota object carrying this usage, for a status update."""
        obj = deep_copy(self.obj)
        obj.setdefault("status", {})["used"] = rl.to_json(self.used)
        return obj


def check_request(quotas: list[QuotaDoc], attrs: Attributes, evaluator: Evaluator) -> list[QuotaDoc]:
    """The quotas after charging ``attrs``' usage; raises the 403 when it does not fit."""
    if not evaluator.handles(attrs):
        return quotas
    obj = attrs.object or {}
    interesting: list[int] = []
    for i, quota in enumerate(quotas):
        if not evaluator.matches(quota.hard, quota.scopes(), obj):
            continue
        restricted = evaluator.matching_resources(list(quota.hard))
        problem = evaluator.constraints(restricted, obj)
        if problem:
            raise forbidden(attrs, f"failed quota: {quota.name}: {problem}")
        if any(name in restricted and name not in quota.used for name in quota.hard):
            raise forbidden(attrs, f"status unknown for quota: {quota.name}, resources: "
                                   f"{','.join(sorted(restricted))}")
        interesting.append(i)

    delta = evaluator.usage(obj)
    negative = rl.negative_names(delta)
    if negative:
        raise forbidden(attrs, f"quota usage is negative for resource(s): {','.join(negative)}")
    if attrs.operation == Operation.UPDATE:
        if attrs.old_object is None:
            raise forbidden(attrs, "unable to get previous usage since prior version of object "
                                   "was not found")
        if (attrs.old_object.get("metadata") or {}).get("resourceVersion"):
            delta = rl.subtract_non_negative(delta, evaluator.usage(attrs.old_object))
    delta = rl.remove_zeros(delta)
    if not delta or not interesting:
        return quotas

    out = list(quotas)
    for i in interesting:
        quota = out[i]
        requested = rl.mask(delta, quota.hard)
        new_used = rl.add(quota.used, requested)
        exceeded = rl.less_than_or_equal(rl.mask(new_used, requested), quota.hard)
        if exceeded:
            raise forbidden(attrs, f"exceeded quota: {quota.name}, "
                                   f"requested: {rl.pretty(rl.mask(requested, exceeded))}, "
                                   f"used: {rl.pretty(rl.mask(quota.used, exceeded))}, "
                                   f"limited: {rl.pretty(rl.mask(quota.hard, exceeded))}")
        out[i] = quota.with_used(new_used)
    return out
