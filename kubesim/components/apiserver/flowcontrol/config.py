"""API Priority and Fairness configuration objects, reduced to what admission needs.

Mirrors flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration and FlowSchema
specs as plain frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

EXEMPT = "Exempt"
LIMITED = "Limited"

BY_USER = "ByUser"
BY_NAMESPACE = "ByNamespace"

ALL = "*"  # VerbAll, APIGroupAll, ResourceAll, NamespaceEvery, NonResourceAll, NameAll


@dataclass(frozen=True)
class Queuing:
    """LimitResponse.queuing: shuffle-sharded queues of this priority level."""

    queues: int
    hand_size: int
    queue_length_limit: int


@dataclass(frozen=True)
class PriorityLevel:
    """A PriorityLevelConfiguration spec.

    `queuing` None on a Limited level means LimitResponse type Reject: requests over
    the limit are rejected at once. `borrowing_limit_percent` None means unlimited.
    """

    name: str
    type: str
    nominal_concurrency_shares: int
    lendable_percent: int = 0
    borrowing_limit_percent: int | None = None
    queuing: Queuing | None = None

    @property
    def is_exempt(self) -> bool:
        return self.type == EXEMPT


@dataclass(frozen=True)
class Subject:
    """A FlowSchema subject: kind is User, Group or ServiceAccount."""

    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True)
class ResourceRule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    namespaces: tuple[str, ...] = ()
    cluster_scope: bool = False


@dataclass(frozen=True)
class NonResourceRule:
    verbs: tuple[str, ...]
    non_resource_urls: tuple[str, ...]


@dataclass(frozen=True)
class PolicyRules:
    """PolicyRulesWithSubjects: matches if a subject and a rule both match."""

    subjects: tuple[Subject, ...]
    resource_rules: tuple[ResourceRule, ...] = ()
    non_resource_rules: tuple[NonResourceRule, ...] = ()


@dataclass(frozen=True)
class FlowSchema:
    """A FlowSchema spec; `distinguisher` is ByUser, ByNamespace or None."""

    name: str
    priority_level: str
    matching_precedence: int
    distinguisher: str | None
    rules: tuple[PolicyRules, ...]


def user(name: str) -> Subject:
    return Subject("User", name)


def group(name: str) -> Subject:
    return Subject("Group", name)


def service_account(namespace: str, name: str) -> Subject:
    return Subject("ServiceAccount", name, namespace)
