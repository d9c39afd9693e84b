"""The fake cloud's state: instances, load balancers and routes, pure (time comes in).

It is what a cloud's API would hold for one cluster, so the cloud-controller-manager has
something real to reconcile against: instances are the machines nodes run on (provider
ID `fake://<zone>/<name>`, instance type, zone and region, addresses); a terminated
instance is reported shutting down until the cloud has noticed it is gone (the modelled
detection delay), then no longer exists. Load balancers get an ingress IP from
203.0.113.0/24 then 198.51.100.0/24 (RFC 5737 documentation ranges) and are ready at
the end of their provisioning delay. Routes send a pod CIDR to a node.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

PROVIDER = "fake"
#: RFC 5737 TEST-NET-3 and TEST-NET-2: addresses that route nowhere.
INGRESS_POOLS = ("203.0.113.0/24", "198.51.100.0/24")


class CloudError(Exception):
    """A cloud API error (e.g. unknown instance); `code` is a short machine name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Instance:
    name: str
    zone: str
    region: str
    instance_type: str
    internal_ip: str
    #: running, shutting-down (terminated, not yet gone from the API)
    state: str = "running"
    #: when a terminated instance disappears from the API
    gone_at: float | None = None

    @property
    def provider_id(self) -> str:
        return f"{PROVIDER}://{self.zone}/{self.name}"

    def metadata(self) -> dict[str, Any]:
        """cloudprovider.InstanceMetadata as a message."""
        return {"providerID": self.provider_id, "instanceType": self.instance_type,
                "zone": self.zone, "region": self.region,
                "nodeAddresses": [{"type": "InternalIP", "address": self.internal_ip},
                                  {"type": "Hostname", "address": self.name}]}


@dataclass
class LoadBalancer:
    name: str
    ip: str
    ports: list[dict[str, Any]]
    hosts: list[str]
    ready_at: float

    def status(self) -> dict[str, Any]:
        return {"ingress": [{"ip": self.ip, "ipMode": "VIP"}]}


@dataclass
class Route:
    name: str
    cluster: str
    target_node: str
    destination_cidr: str

    def to_message(self) -> dict[str, Any]:
        return {"name": self.name, "targetNode": self.target_node, "destinationCIDR": self.destination_cidr}


@dataclass
class FakeCloud:
    instances: dict[str, Instance] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)

    # instances ---------------------------------------------------------------------------
    def add_instance(self, name: str, zone: str, internal_ip: str, instance_type: str = "fake.large") -> Instance:
        region = zone.rsplit("-", 1)[0] if "-" in zone else zone
        inst = Instance(name, zone, region, instance_type, internal_ip)
        self.instances[name] = inst
        return inst

    def terminate_instance(self, name: str, now: float, detection_delay: float) -> None:
        inst = self.instances.get(name)
        if inst is None or inst.state != "running":
            raise CloudError("InvalidInstanceID.NotFound", f"instance {name} not found")
        inst.state = "shutting-down"
        inst.gone_at = now + detection_delay

    def find_instance(self, node_name: str, provider_id: str, now: float) -> Instance | None:
        """The instance behind a node, by provider ID when the node has one, else by name."""
        name = node_name
        if provider_id:
            prefix = f"{PROVIDER}://"
            if not provider_id.startswith(prefix):
                raise CloudError("InvalidProviderID", f"provider ID {provider_id!r} is not a {PROVIDER} instance")
            name = provider_id[len(prefix):].rsplit("/", 1)[-1]
        inst = self.instances.get(name)
        if inst is None or (inst.gone_at is not None and now >= inst.gone_at):
            return None
        return inst

    # load balancers ---------------------------------------------------------------------
    def ensure_load_balancer(self, name: str, ports: list[dict[str, Any]], hosts: list[str],
                             now: float, provision_delay: float) -> LoadBalancer:
        """Create the load balancer (ready after `provision_delay`) or update its ports and hosts."""
        lb = self.load_balancers.get(name)
        if lb is None:
            lb = LoadBalancer(name, self._allocate_ip(), list(ports), list(hosts), now + provision_delay)
            self.load_balancers[name] = lb
        else:
            lb.ports, lb.hosts = list(ports), list(hosts)
        return lb

    def delete_load_balancer(self, name: str) -> bool:
        return self.load_balancers.pop(name, None) is not None

    def _allocate_ip(self) -> str:
        """The lowest free address (a deleted load balancer's address is free again)."""
        taken = {lb.ip for lb in self.load_balancers.values()}
        for pool in INGRESS_POOLS:
            for ip in ipaddress.ip_network(pool).hosts():
                if str(ip) not in taken:
                    return str(ip)
        raise CloudError("AddressLimitExceeded", "no load balancer address left")

    # routes -----------------------------------------------------------------------------
    def list_routes(self, cluster: str) -> list[Route]:
        return [r for _, r in sorted(self.routes.items()) if r.cluster == cluster]

    def create_route(self, cluster: str, name: str, target_node: str, cidr: str) -> Route:
        if target_node not in self.instances or self.instances[target_node].state != "running":
            raise CloudError("InvalidInstanceID.NotFound", f"instance {target_node} not found")
        ipaddress.ip_network(cidr)  # a malformed CIDR raises ValueError
        for route in self.routes.values():
            if route.destination_cidr == cidr and route.name != name:
                raise CloudError("RouteAlreadyExists", f"a route to {cidr} exists: {route.name}")
        route = Route(name, cluster, target_node, cidr)
        self.routes[name] = route
        return route

    def delete_route(self, name: str) -> bool:
        return self.routes.pop(name, None) is not None
