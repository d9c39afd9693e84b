"""Topology planning: a cluster spec in, the machines and logical actors to place out.

`plan(spec)` is pure and starts nothing; the bootstrap walks the plan (adds each machine
to the runtime, spawns each actor). What it decides:

- machines, round-robin over their zones: `cp-N` (role control-plane), `etcd-N` (role
  etcd; external topology only), `lb` (the apiserver load balancer, in the first
  control-plane zone), and one machine per node (role worker);
- control-plane actors, as kubeadm lays them out: on control-plane machine N an etcd
  member (stacked), a kube-apiserver, a kube-scheduler and a kube-controller-manager (the
  first `apiservers` / `schedulers` / `controllerManagers` machines), each a static pod
  whose mirror pod is `<component>-cp-N`; the scheduler and controller manager are
  leader-elected. Each is its own host actor. Names are in `names.py`.
- node agents: a kubelet and a kube-proxy per node, control-plane machines included
  (kubeadm registers them as tainted Nodes; kube-proxy is a DaemonSet on every node),
  packed into host groups of at most `runtime.nodesPerHost` nodes of one pool and one
  zone, so a group's host actor has one zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from kubesim.cluster import names
from kubesim.cluster.nodes import KubeletSettings, KubeProxySettings, MachineShape, Taint
from kubesim.components.etcd.cluster import member_address, member_id
from kubesim.runtime.address import Address, Machine

if TYPE_CHECKING:
    from kubesim.cluster.spec import ClusterSpec

# kubeadm's mark-control-plane phase (cmd/kubeadm/app/phases/markcontrolplane, v1.24+)
CONTROL_PLANE_LABELS: Mapping[str, str] = {
    "node-role.kubernetes.io/control-plane": "",
    "node.kubernetes.io/exclude-from-external-load-balancers": "",
}
CONTROL_PLANE_TAINT = Taint.model_validate({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})


@dataclass(frozen=True, slots=True)
class PlannedMachine:
    machine: Machine
    shape: MachineShape | None  # None: the load balancer, which is not a node


@dataclass(frozen=True, slots=True)
class PlannedActor:
    address: Address
    machine: str
    zone: str
    host: str | None = None  # node agents: their host group; None: a host actor of its own
    static_pod: str | None = None  # the kube-system mirror pod of a kubeadm static pod
    leader_elected: bool = False


@dataclass(frozen=True, slots=True)
class PlannedNode:
    """A Node to register: its pool's shape, labels, taints and agent settings (shared)."""

    name: str
    pool: str
    zone: str
    host: str
    shape: MachineShape
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    kubelet: KubeletSettings
    kube_proxy: KubeProxySettings


@dataclass(frozen=True, slots=True)
class HostGroup:
    """The node agents one host actor runs: nodes of one pool in one zone."""

    name: str
    pool: str
    zone: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    name: str
    topology: str
    zones: tuple[str, ...]
    nodes_per_host: int
    machines: tuple[PlannedMachine, ...]
    actors: tuple[PlannedActor, ...]
    nodes: tuple[PlannedNode, ...]
    hosts: tuple[HostGroup, ...]
    etcd_peers: Mapping[int, str]  # member id -> address, as `member_spec` takes them
    _machine_index: dict[str, PlannedMachine] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {pm.machine.name: pm for pm in self.machines}
        if len(index) != len(self.machines):
            raise ValueError("machine names of a plan must be unique")
        object.__setattr__(self, "_machine_index", index)

    def machine(self, name: str) -> PlannedMachine:
        return self._machine_index[name]

    def has_machine(self, name: str) -> bool:
        return name in self._machine_index

    def actors_of(self, kind: str) -> list[PlannedActor]:
        return [a for a in self.actors if a.address.kind == kind]

    def etcd_quorum(self) -> int:
        return len(self.etcd_peers) // 2 + 1


def plan(spec: ClusterSpec) -> Plan:
    """The machines and actors of `spec` (a validated spec), in a deterministic order."""
    cp = spec.control_plane
    cp_zones = spec.control_plane_zones()
    machines: list[PlannedMachine] = []
    actors: list[PlannedActor] = []

    cp_machines = [
        Machine(names.control_plane_machine(i), cp_zones[i % len(cp_zones)], names.ROLE_CONTROL_PLANE)
        for i in range(cp.machines)
    ]
    machines += [PlannedMachine(m, cp.machine) for m in cp_machines]

    members = cp.etcd_members()
    if cp.topology == "stacked":
        etcd_machines = cp_machines
    else:
        placement, zones = cp.etcd_placement(), spec.etcd_zones()
        etcd_machines = [
            Machine(member_address(i).name, zones[i % len(zones)], names.ROLE_ETCD) for i in range(members)
        ]
        machines += [PlannedMachine(m, placement.machine) for m in etcd_machines]
    for i, m in enumerate(etcd_machines):
        pod = names.static_pod(names.ETCD, m.name) if cp.topology == "stacked" else None  # external: not a node
        actors.append(PlannedActor(member_address(i), m.name, m.zone, static_pod=pod))

    for kind, count, elected in (
        (names.APISERVER, cp.apiserver_count(), False),
        (names.SCHEDULER, cp.scheduler_count(), True),
        (names.CONTROLLER_MANAGER, cp.controller_manager_count(), True),
    ):
        for i, m in enumerate(cp_machines[:count]):
            address = Address(kind, names.control_plane_actor(kind, i))
            actors.append(PlannedActor(address, m.name, m.zone, static_pod=names.static_pod(kind, m.name),
                                       leader_elected=elected))

    lb = Machine(names.LOAD_BALANCER_MACHINE, cp_zones[0], names.ROLE_LOAD_BALANCER)
    machines.append(PlannedMachine(lb, None))
    actors.append(PlannedActor(Address(names.LOAD_BALANCER, names.LOAD_BALANCER_MACHINE), lb.name, lb.zone))

    layouts = [
        _NodeLayout(names.CONTROL_PLANE_POOL, [m.name for m in cp_machines], cp_zones, cp.machine,
                    CONTROL_PLANE_LABELS, (CONTROL_PLANE_TAINT,), spec.kubelet, spec.kube_proxy),
    ]
    for pool in spec.node_pools:
        width = names.index_width(pool.count, names.NODE_INDEX_DIGITS)
        zones = spec.pool_zones(pool)
        layout = _NodeLayout(pool.name, [names.node_name(pool.name, i, width) for i in range(pool.count)], zones,
                             pool.machine, pool.labels, tuple(pool.taints), spec.kubelet.merged(pool.kubelet),
                             spec.kube_proxy.merged(pool.kube_proxy))
        layouts.append(layout)
        machines += [PlannedMachine(Machine(name, zones[i % len(zones)], names.ROLE_WORKER), pool.machine)
                     for i, name in enumerate(layout.nodes)]

    nodes: list[PlannedNode] = []
    hosts: list[HostGroup] = []
    for layout in layouts:
        for group in _host_groups(layout, spec.runtime.nodes_per_host):
            hosts.append(group)
            for node in group.nodes:
                nodes.append(PlannedNode(node, layout.pool, group.zone, group.name, layout.shape, layout.labels,
                                         layout.taints, layout.kubelet, layout.kube_proxy))
                actors.append(PlannedActor(Address(names.KUBELET, node), node, group.zone, group.name))
                actors.append(PlannedActor(Address(names.KUBE_PROXY, node), node, group.zone, group.name))

    return Plan(
        name=spec.name,
        topology=cp.topology,
        zones=tuple(spec.zones),
        nodes_per_host=spec.runtime.nodes_per_host,
        machines=tuple(machines),
        actors=tuple(actors),
        nodes=tuple(nodes),
        hosts=tuple(hosts),
        etcd_peers={member_id(i): str(member_address(i)) for i in range(members)},
    )



class _NodeLayout(NamedTuple):
    """The nodes of one pool (node `i` in `zones[i % len(zones)]`) and what they share."""

    pool: str
    nodes: list[str]
    zones: list[str]
    shape: MachineShape
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    kubelet: KubeletSettings
    kube_proxy: KubeProxySettings


def _host_groups(layout: _NodeLayout, per_host: int) -> list[HostGroup]:
    """A pool's nodes, zone by zone, in groups of at most `per_host`, numbered across the pool."""
    zones = layout.zones
    chunks = []
    for z, zone in enumerate(zones):
        in_zone = layout.nodes[z::len(zones)]
        chunks += [(zone, tuple(in_zone[i:i + per_host])) for i in range(0, len(in_zone), per_host)]
    width = names.index_width(len(chunks), names.HOST_INDEX_DIGITS)
    return [HostGroup(names.host_name(layout.pool, k, width), layout.pool, zone, chunk)
            for k, (zone, chunk) in enumerate(chunks)]
