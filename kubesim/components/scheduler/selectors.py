"""Matching the scheduler does on plain dicts: label selectors as plugins use them, node
selector terms (``component-helpers/scheduling/corev1/nodeaffinity``) and taints against
tolerations (``Toleration.ToleratesTaint``, ``FindMatchingUntoleratedTaint``).

Label selectors are :mod:`kubesim.api.selectors`; this module only adds what the
scheduler needs on top (lenient parsing of pod-supplied selectors, ``Selector.Add``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubesim.api.selectors import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    NOTHING,
    LabelSelector,
    Requirement,
    SelectorError,
    from_label_selector,
)

Labels = Mapping[str, str]
OBJECT_NAME_FIELD = "metadata.name"
_NODE_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS,
                            "DoesNotExist": DOES_NOT_EXIST, "Gt": GREATER_THAN, "Lt": LESS_THAN}


def label_selector(sel: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector`` for selectors taken from pods and other objects:
    nil selects nothing, ``{}`` everything, and an invalid one nothing (upstream ignores
    such parse errors "since apiserver doesn't properly validate affinity terms")."""
    try:
        return from_label_selector(dict(sel) if sel is not None else None)
    except SelectorError:
        return NOTHING


def merge_selectors(a: LabelSelector, b: LabelSelector) -> LabelSelector:
    """``Selector.Add``: the requirements of both, sorted by key."""
    reqs = sorted(a.requirements + b.requirements, key=lambda r: r.key)
    return LabelSelector(tuple(reqs), a.nothing or b.nothing)


# -- node selectors -----------------------------------------------------------------------


def _requirement(expr: Mapping[str, Any]) -> Requirement | None:
    """A NodeSelectorRequirement as a label requirement; None if it can never match
    (unknown operator, Gt/Lt without exactly one value)."""
    op = _NODE_SELECTOR_OPERATORS.get(expr.get("operator", ""))
    values = tuple(expr.get("values") or ())
    if op is None or (op in (GREATER_THAN, LESS_THAN) and len(values) != 1):
        return None
    return Requirement(expr.get("key", ""), op, values)


def node_selector_term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """One NodeSelectorTerm: all its expressions and fields hold; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    for e in exprs:
        req = _requirement(e)
        if req is None or not req.matches(labels):
            return False
    for f in fields:
        req = _requirement(f)
        if req is None or req.key != OBJECT_NAME_FIELD or req.operator not in (IN, NOT_IN):
            return False
        if not req.matches({OBJECT_NAME_FIELD: meta.get("name", "")}):
            return False
    return True


def node_selector_matches(terms: Iterable[Mapping[str, Any]], node: Mapping[str, Any]) -> bool:
    """NodeSelectorTerms are ORed."""
    return any(node_selector_term_matches(t, node) for t in terms)


def required_node_affinity(pod: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """``nodeaffinity.GetRequiredNodeAffinity(pod).Match``: nodeSelector AND required terms."""
    spec = pod.get("spec") or {}
    node_sel: Mapping[str, str] = spec.get("nodeSelector") or {}
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    terms = (required or {}).get("nodeSelectorTerms") or []

    def match(node: Mapping[str, Any]) -> bool:
        if node_sel:
            labels = (node.get("metadata") or {}).get("labels") or {}
            for k, v in node_sel.items():
                if labels.get(k) != v:
                    return False
        if required is not None and not node_selector_matches(terms, node):
            return False
        return True

    return match


# -- taints and tolerations ---------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerations_tolerate(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[Mapping[str, Any]],
    tolerations: list[Mapping[str, Any]],
    effects: tuple[str, ...] = ("NoSchedule", "NoExecute"),
) -> Mapping[str, Any] | None:
    """``FindMatchingUntoleratedTaint`` for the given effects (default: DoNotSchedule ones)."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerations_tolerate(tolerations, taint):
            return taint
    return None
