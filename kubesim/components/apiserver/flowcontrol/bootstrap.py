"""The kube-apiserver 1.32 bootstrap APF configuration.

From k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap/default.go: the mandatory
priority levels (exempt, catch-all) and flow schemas (exempt, catch-all), and the
suggested ones (system, node-high, leader-election, workload-high, workload-low,
global-default; probes, system-leader-election, endpoint-controller,
workload-leader-election, system-node-high, system-nodes, kube-controller-manager,
kube-scheduler, kube-system-service-accounts, service-accounts, global-default).
"""

from __future__ import annotations

from .config import (
    ALL,
    BY_NAMESPACE,
    BY_USER,
    EXEMPT,
    LIMITED,
    FlowSchema,
    NonResourceRule,
    PolicyRules,
    PriorityLevel,
    Queuing,
    ResourceRule,
    group,
    service_account,
    user,
)

# k8s.io/apiserver/pkg/authentication/user and .../serviceaccount
SYSTEM_PRIVILEGED_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_SCHEDULER = "system:kube-scheduler"
KUBE_SYSTEM = "kube-system"

PRIORITY_LEVELS: tuple[PriorityLevel, ...] = (
    PriorityLevel("exempt", EXEMPT, nominal_concurrency_shares=0, lendable_percent=0),
    PriorityLevel("catch-all", LIMITED, nominal_concurrency_shares=5, lendable_percent=0),
    PriorityLevel("system", LIMITED, 30, 33, queuing=Queuing(64, 6, 50)),
    PriorityLevel("node-high", LIMITED, 40, 25, queuing=Queuing(64, 6, 50)),
    PriorityLevel("leader-election", LIMITED, 10, 0, queuing=Queuing(16, 4, 50)),
    PriorityLevel("workload-high", LIMITED, 40, 50, queuing=Queuing(128, 6, 50)),
    PriorityLevel("workload-low", LIMITED, 100, 90, queuing=Queuing(128, 6, 50)),
    PriorityLevel("global-default", LIMITED, 20, 50, queuing=Queuing(128, 6, 50)),
)

_EVERYTHING_RESOURCE = ResourceRule((ALL,), (ALL,), (ALL,), (ALL,), cluster_scope=True)
_EVERYTHING_NON_RESOURCE = NonResourceRule((ALL,), (ALL,))
_KUBE_SYSTEM_SAS = (service_account(KUBE_SYSTEM, ALL),)
_LEASES = ResourceRule(("get", "create", "update"), ("coordination.k8s.io",), ("leases",), (ALL,))


def _everything(*subjects) -> tuple[PolicyRules, ...]:
    return (PolicyRules(tuple(subjects), (_EVERYTHING_RESOURCE,), (_EVERYTHING_NON_RESOURCE,)),)


FLOW_SCHEMAS: tuple[FlowSchema, ...] = (
    FlowSchema("exempt", "exempt", 1, None, _everything(group(SYSTEM_PRIVILEGED_GROUP))),
    FlowSchema(
        "probes", "exempt", 2, None,
        (PolicyRules(
            (group(ALL_UNAUTHENTICATED), group(ALL_AUTHENTICATED)),
            non_resource_rules=(NonResourceRule(("get",), ("/healthz", "/readyz", "/livez")),),
        ),),
    ),
    FlowSchema(
        "system-leader-election", "leader-election", 100, BY_USER,
        (PolicyRules(
            (user(KUBE_CONTROLLER_MANAGER), user(KUBE_SCHEDULER), *_KUBE_SYSTEM_SAS),
            (
                ResourceRule(("get", "create", "update"), ("",), ("endpoints", "configmaps"), (KUBE_SYSTEM,)),
                _LEASES,
            ),
        ),),
    ),
    FlowSchema(
        "endpoint-controller", "workload-high", 150, BY_USER,
        (PolicyRules(
            (
                user(KUBE_CONTROLLER_MANAGER),
                service_account(KUBE_SYSTEM, "endpoint-controller"),
                service_account(KUBE_SYSTEM, "endpointslicemirroring-controller"),
            ),
            (ResourceRule(("get", "create", "update"), ("",), ("endpoints",), (ALL,)),),
        ),),
    ),
    FlowSchema(
        "workload-leader-election", "leader-election", 200, BY_USER,
        (PolicyRules(
            _KUBE_SYSTEM_SAS,
            (ResourceRule(("get", "create", "update"), ("",), ("endpoints", "configmaps"), (ALL,)), _LEASES),
        ),),
    ),
    FlowSchema(
        "system-node-high", "node-high", 400, BY_USER,
        (PolicyRules(
            (group(NODES_GROUP),),
            (
                ResourceRule((ALL,), ("",), ("nodes", "nodes/status"), (ALL,), cluster_scope=True),
                ResourceRule((ALL,), ("coordination.k8s.io",), ("leases",), (ALL,)),
            ),
        ),),
    ),
    FlowSchema("system-nodes", "system", 500, BY_USER, _everything(group(NODES_GROUP))),
    FlowSchema("kube-controller-manager", "workload-high", 800, BY_NAMESPACE, _everything(user(KUBE_CONTROLLER_MANAGER))),
    FlowSchema("kube-scheduler", "workload-high", 800, BY_NAMESPACE, _everything(user(KUBE_SCHEDULER))),
    FlowSchema("kube-system-service-accounts", "workload-high", 900, BY_NAMESPACE, _everything(*_KUBE_SYSTEM_SAS)),
    FlowSchema("service-accounts", "workload-low", 9000, BY_USER, _everything(group(ALL_SERVICE_ACCOUNTS))),
    FlowSchema(
        "global-default", "global-default", 9900, BY_USER,
        _everything(group(ALL_UNAUTHENTICATED), group(ALL_AUTHENTICATED)),
    ),
    FlowSchema(
        "catch-all", "catch-all", 10000, BY_USER,
        _everything(group(ALL_UNAUTHENTICATED), group(ALL_AUTHENTICATED)),
    ),
)
