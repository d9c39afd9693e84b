"""The cloud-controller-manager actor (k8s.io/cloud-provider app, v1.32).

Replicas compete for the `cloud-controller-manager` Lease in kube-system (lease 15 s,
renew deadline 10 s, retry 2 s); the leader runs, against the fake cloud actor at
`cloud`: `cloud-node` (initializes nodes), `cloud-node-lifecycle` (deletes nodes whose
instance is gone), `service-lb` (load balancers) and `node-route` (pod CIDR routes;
`--configure-cloud-routes`, on by default here). `controllers` takes the `--controllers`
syntax ("*", "name", "-name").
"""

from __future__ import annotations

from kubesim.components.cloud.node import CloudNodeController, CloudNodeLifecycleController
from kubesim.components.cloud.provider import CloudProvider
from kubesim.components.cloud.route import ROUTE_RECONCILIATION_PERIOD, RouteController
from kubesim.components.cloud.service import ServiceController
from kubesim.components.controllers.base import Controller
from kubesim.components.controllers.manager import ClientFactory, ContextFactory, ControllerManager
from kubesim.runtime.address import Address

LEASE_NAME = "cloud-controller-manager"
CONTROLLERS = ("cloud-node", "cloud-node-lifecycle", "service-lb", "node-route")


def enabled(flags: tuple[str, ...]) -> list[str]:
    unknown = [f for f in flags if f != "*" and f.lstrip("-") not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controllers {unknown}; known: {sorted(CONTROLLERS)}")
    return [name for name in CONTROLLERS if f"-{name}" not in flags and ("*" in flags or name in flags)]


class CloudControllerManager(ControllerManager):
    """One cloud-controller-manager replica."""

    lease_name = LEASE_NAME

    def __init__(self, client: ClientFactory, cloud: Address | str, *, cluster_name: str = "kubernetes",
                 controllers: tuple[str, ...] = ("*",), concurrent_service_syncs: int = 1,
                 route_reconciliation_period: float = ROUTE_RECONCILIATION_PERIOD,
                 leader_elect: bool = True, epoch: float = 0.0) -> None:
        super().__init__(client, leader_elect=leader_elect, epoch=epoch)
        self.cloud_address = cloud
        self.cluster_name = cluster_name
        self.enabled = enabled(controllers)
        self.concurrent_service_syncs = concurrent_service_syncs
        self.route_reconciliation_period = route_reconciliation_period

    def build_controllers(self, context: ContextFactory) -> dict[str, Controller]:
        cloud = CloudProvider(self.ctx, self.cloud_address)
        builders = {
            "cloud-node": lambda: CloudNodeController(context(), cloud),
            "cloud-node-lifecycle": lambda: CloudNodeLifecycleController(
                context(), cloud, self.ctx.cost.value("controller_manager.node_monitor_period")),
            "service-lb": lambda: ServiceController(context(), cloud, self.concurrent_service_syncs),
            "node-route": lambda: RouteController(context(), cloud, self.cluster_name,
                                                  self.route_reconciliation_period),
        }
        return {name: builders[name]() for name in self.enabled}
