"""Classifying a request: the first FlowSchema (by matchingPrecedence, then name) whose
rules match it, and the flow distinguisher it puts the request in.

Follows k8s.io/apiserver/pkg/util/flowcontrol/rule.go.
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import (
    ALL,
    BY_NAMESPACE,
    BY_USER,
    FlowSchema,
    NonResourceRule,
    PolicyRules,
    ResourceRule,
    Subject,
)
from .request import RequestAttrs

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def sort_flow_schemas(schemas: Iterable[FlowSchema]) -> list[FlowSchema]:
    """The matching order: increasing matchingPrecedence, ties broken by name."""
    return sorted(schemas, key=lambda fs: (fs.matching_precedence, fs.name))


def classify(attrs: RequestAttrs, ordered: list[FlowSchema]) -> FlowSchema:
    """The first matching schema; catch-all if nothing matches (as the apiserver falls back)."""
    catch_all = None
    for fs in ordered:
        if matches_flow_schema(attrs, fs):
            return fs
        if fs.name == "catch-all":
            catch_all = fs
    if catch_all is None:
        raise LookupError("no catch-all FlowSchema configured")
    return catch_all


def flow_distinguisher(attrs: RequestAttrs, method: str | None) -> str:
    if method == BY_USER:
        return attrs.user
    if method == BY_NAMESPACE:
        return attrs.namespace
    return ""


def matches_flow_schema(attrs: RequestAttrs, fs: FlowSchema) -> bool:
    return any(matches_policy_rules(attrs, rules) for rules in fs.rules)


def matches_policy_rules(attrs: RequestAttrs, rules: PolicyRules) -> bool:
    if not any(matches_subject(attrs, s) for s in rules.subjects):
        return False
    if attrs.is_resource_request:
        return any(matches_resource_rule(attrs, r) for r in rules.resource_rules)
    return any(matches_non_resource_rule(attrs, r) for r in rules.non_resource_rules)


def matches_subject(attrs: RequestAttrs, subject: Subject) -> bool:
    if subject.kind == "User":
        return subject.name in (ALL, attrs.user)
    if subject.kind == "Group":
        return subject.name == ALL or subject.name in attrs.groups
    if subject.kind == "ServiceAccount":
        if subject.name == ALL:
            return attrs.user.startswith(f"{SERVICE_ACCOUNT_PREFIX}{subject.namespace}:")
        return attrs.user == f"{SERVICE_ACCOUNT_PREFIX}{subject.namespace}:{subject.name}"
    return False


def matches_resource_rule(attrs: RequestAttrs, rule: ResourceRule) -> bool:
    if not _has(rule.verbs, attrs.verb) or not _has(rule.api_groups, attrs.api_group):
        return False
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _has(rule.resources, resource):
        return False
    if not attrs.namespace:
        return rule.cluster_scope
    return _has(rule.namespaces, attrs.namespace)


def matches_non_resource_rule(attrs: RequestAttrs, rule: NonResourceRule) -> bool:
    if not _has(rule.verbs, attrs.verb):
        return False
    path = attrs.non_resource_url or ""
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith("/*") and path.startswith(url[:-1]):
            return True
    return False


def _has(values: tuple[str, ...], value: str) -> bool:
    return ALL in values or value in values
