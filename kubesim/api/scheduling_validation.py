"""Validation of a pod spec's scheduling constraints, as ``pkg/apis/core/validation`` (v1.32)
does it on create: ``affinity`` (``validateAffinity`` with ``ValidateNodeSelector``,
``ValidatePreferredSchedulingTerms`` and the pod (anti-)affinity terms) and
``topologySpreadConstraints`` (``validateTopologySpreadConstraints``).

Like upstream, a ``Gt``/``Lt`` requirement is checked for having exactly one value, not
for that value being an integer: such a pod is admitted and its term matches no node.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import field, labels, selectors
from kubesim.api.field import Path

Obj = dict[str, Any]
Errors = field.ErrorList

NOT_POSITIVE = "must be greater than zero"
WEIGHT_RANGE = "must be in the range 1-100"
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
NODE_INCLUSION_POLICIES = ["Honor", "Ignore"]
#: ``metav1.ObjectNameField``: the one key a node field selector may use.
OBJECT_NAME_FIELD = "metadata.name"


# -- node affinity -------------------------------------------------------------------------


def validate_node_selector_requirement(req: Obj, path: Path, check_values: bool) -> Errors:
    """``ValidateNodeSelectorRequirement``; ``check_values`` is upstream's
    ``!allowInvalidLabelValueInRequiredNodeAffinity`` (true for a new pod's required terms)."""
    errs: Errors = []
    op, values = req.get("operator", ""), req.get("values") or []
    if op in ("In", "NotIn"):
        if not values:
            errs.append(field.required(path.child("values"),
                                       "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(field.forbidden(
                path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(field.required(path.child("values"),
                                       "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(field.invalid(path.child("operator"), op, "not a valid selector operator"))
    errs.extend(labels.validate_label_name(req.get("key", ""), path.child("key")))
    if check_values:
        for i, value in enumerate(values):
            errs.extend(field.invalid(path.child("values").index(i), value, msg)
                        for msg in labels.is_valid_label_value(value))
    return errs


def validate_node_field_selector_requirement(req: Obj, path: Path) -> Errors:
    """``ValidateNodeFieldSelectorRequirement``: only ``metadata.name``, In/NotIn one value."""
    errs: Errors = []
    op, values = req.get("operator", ""), req.get("values") or []
    if op in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(field.required(
                path.child("values"),
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
    else:
        errs.append(field.invalid(path.child("operator"), op, "not a valid selector operator"))
    key = req.get("key", "")
    if key != OBJECT_NAME_FIELD:
        errs.append(field.invalid(path.child("key"), key, "not a valid field selector key"))
    else:
        for i, value in enumerate(values):
            errs.extend(field.invalid(path.child("values").index(i), value, msg)
                        for msg in labels.is_dns1123_subdomain(value))
    return errs


def validate_node_selector_term(term: Obj, path: Path, check_values: bool) -> Errors:
    errs: Errors = []
    for i, req in enumerate(term.get("matchExpressions") or []):
        errs.extend(validate_node_selector_requirement(req, path.child("matchExpressions").index(i),
                                                       check_values))
    for i, req in enumerate(term.get("matchFields") or []):
        errs.extend(validate_node_field_selector_requirement(req, path.child("matchFields").index(i)))
    return errs


def validate_node_selector(selector: Obj, path: Path, check_values: bool = True) -> Errors:
    """``ValidateNodeSelector``: at least one term, each term valid."""
    terms = selector.get("nodeSelectorTerms") or []
    terms_path = path.child("nodeSelectorTerms")
    if not terms:
        return [field.required(terms_path, "must have at least one node selector term")]
    errs: Errors = []
    for i, term in enumerate(terms):
        errs.extend(validate_node_selector_term(term or {}, terms_path.index(i), check_values))
    return errs


def validate_preferred_scheduling_terms(terms: list[Obj], path: Path) -> Errors:
    """``ValidatePreferredSchedulingTerms``: weights 1-100; values are not label-checked."""
    errs: Errors = []
    for i, term in enumerate(terms):
        weight = term.get("weight", 0)
        if not 0 < weight <= 100:
            errs.append(field.invalid(path.index(i).child("weight"), weight, WEIGHT_RANGE))
        errs.extend(validate_node_selector_term(term.get("preference") or {},
                                                path.index(i).child("preference"), False))
    return errs


# -- pod affinity --------------------------------------------------------------------------


def _validate_label_keys(path: Path, keys: list[str], selector: Obj | None) -> Errors:
    if not keys:
        return []
    if selector is None:
        return [field.forbidden(path, "must not be specified when labelSelector is not set")]
    errs: Errors = []
    for i, key in enumerate(keys):
        errs.extend(labels.validate_label_name(key, path.index(i)))
    return errs


def _validate_match_label_keys(path: Path, match: list[str], mismatch: list[str],
                               selector: Obj | None) -> Errors:
    """``validateMatchLabelKeysAndMismatchLabelKeys``."""
    errs = _validate_label_keys(path.child("matchLabelKeys"), match, selector)
    errs += _validate_label_keys(path.child("mismatchLabelKeys"), mismatch, selector)
    if selector is not None:
        index = {key: i for i, key in enumerate(match)}
        selector_keys = set(selector.get("matchLabels") or {})
        for expr in selector.get("matchExpressions") or []:
            key = expr.get("key", "")
            if key in index and key in selector_keys:
                errs.append(field.invalid(path.index(index[key]), key,
                                          "exists in both matchLabelKeys and labelSelector"))
            selector_keys.add(key)
    for i, key in enumerate(match):
        if key in mismatch:
            errs.append(field.invalid(path.child("matchLabelKeys").index(i), key,
                                      "exists in both matchLabelKeys and mismatchLabelKeys"))
    return errs


def validate_pod_affinity_term(term: Obj, path: Path) -> Errors:
    """``validatePodAffinityTerm``: selectors, namespaces, label keys, a topology key."""
    errs = selectors.validate_label_selector(term.get("labelSelector"), path.child("labelSelector"))
    errs += selectors.validate_label_selector(term.get("namespaceSelector"), path.child("namespaceSelector"))
    for name in term.get("namespaces") or []:
        errs.extend(field.invalid(path.child("namespace"), name, msg) for msg in labels.is_dns1123_label(name))
    errs += _validate_match_label_keys(path, list(term.get("matchLabelKeys") or []),
                                       list(term.get("mismatchLabelKeys") or []), term.get("labelSelector"))
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        errs.append(field.required(path.child("topologyKey"), "can not be empty"))
    return errs + labels.validate_label_name(topology_key, path.child("topologyKey"))


def _validate_pod_affinity(affinity: Obj, path: Path) -> Errors:
    """``validatePodAffinity`` and ``validatePodAntiAffinity`` (the same rules)."""
    errs: Errors = []
    required = path.child("requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
        errs.extend(validate_pod_affinity_term(term, required.index(i)))
    preferred = path.child("preferredDuringSchedulingIgnoredDuringExecution")
    for i, weighted in enumerate(affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
        weight = weighted.get("weight", 0)
        if not 0 < weight <= 100:
            errs.append(field.invalid(preferred.index(i).child("weight"), weight, WEIGHT_RANGE))
        errs.extend(validate_pod_affinity_term(weighted.get("podAffinityTerm") or {},
                                               preferred.index(i).child("podAffinityTerm")))
    return errs


def validate_affinity(affinity: Obj | None, path: Path) -> Errors:
    """``validateAffinity`` for a pod being created."""
    if not affinity:
        return []
    errs: Errors = []
    node = affinity.get("nodeAffinity")
    if node:
        p = path.child("nodeAffinity")
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None:
            errs.extend(validate_node_selector(required, p.child("requiredDuringSchedulingIgnoredDuringExecution")))
        preferred = node.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        errs.extend(validate_preferred_scheduling_terms(
            preferred, p.child("preferredDuringSchedulingIgnoredDuringExecution")))
    for key in ("podAffinity", "podAntiAffinity"):
        if affinity.get(key):
            errs.extend(_validate_pod_affinity(affinity[key], path.child(key)))
    return errs


# -- topology spread -----------------------------------------------------------------------


def validate_topology_spread_constraints(constraints: list[Obj], path: Path) -> Errors:
    """``validateTopologySpreadConstraints``."""
    errs: Errors = []
    for i, c in enumerate(constraints):
        p = path.index(i)
        max_skew = c.get("maxSkew", 0)
        if max_skew <= 0:
            errs.append(field.invalid(p.child("maxSkew"), max_skew, NOT_POSITIVE))
        topology_key = c.get("topologyKey") or ""
        if not topology_key:
            errs.append(field.required(p.child("topologyKey"), "can not be empty"))
        action = c.get("whenUnsatisfiable") or ""
        if action not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
            errs.append(field.not_supported(p.child("whenUnsatisfiable"), action,
                                            [DO_NOT_SCHEDULE, SCHEDULE_ANYWAY]))
        if any(o.get("topologyKey") == topology_key and o.get("whenUnsatisfiable") == action
               for o in constraints[i + 1:]):
            errs.append(field.duplicate(p.child("{topologyKey, whenUnsatisfiable}"),
                                        f"{{{topology_key}, {action}}}"))
        min_domains = c.get("minDomains")
        if min_domains is not None:
            if min_domains <= 0:
                errs.append(field.invalid(p.child("minDomains"), min_domains, NOT_POSITIVE))
            if action != DO_NOT_SCHEDULE:
                errs.append(field.invalid(p.child("minDomains"), min_domains,
                                          f"can only use minDomains if whenUnsatisfiable={DO_NOT_SCHEDULE}, "
                                          f"not {action}"))
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(policy)
            if value is not None and value not in NODE_INCLUSION_POLICIES:
                errs.append(field.not_supported(p.child(policy), value, NODE_INCLUSION_POLICIES))
        errs.extend(_validate_spread_match_label_keys(p.child("matchLabelKeys"),
                                                      list(c.get("matchLabelKeys") or []), c.get("labelSelector")))
        errs.extend(selectors.validate_label_selector(c.get("labelSelector"), p.child("labelSelector")))
    return errs


def _validate_spread_match_label_keys(path: Path, keys: list[str], selector: Obj | None) -> Errors:
    """``validateMatchLabelKeysInTopologySpread``."""
    if not keys:
        return []
    errs: Errors = []
    if selector is None:
        errs.append(field.forbidden(path, "must not be specified when labelSelector is not set"))
    selector_keys = set((selector or {}).get("matchLabels") or {}) | {
        e.get("key", "") for e in (selector or {}).get("matchExpressions") or []}
    for i, key in enumerate(keys):
        errs.extend(labels.validate_label_name(key, path.index(i)))
        if key in selector_keys:
            errs.append(field.invalid(path.index(i), key, "exists in both matchLabelKeys and labelSelector"))
    return errs
