"""The actors of a cluster plan that talk to the API: kube-scheduler and
kube-controller-manager on the control-plane machines, and a kubelet and a kube-proxy for
every node (control-plane machines included, tainted as kubeadm taints them).

Each authenticates as kubeadm sets it up, with the identity of its client certificate:
`system:kube-scheduler`, `system:kube-controller-manager`, `system:node:<name>` in
`system:nodes`; kube-proxy as `system:kube-proxy` (kubeadm gives it a ServiceAccount token
bound to that role). Their flags come from the spec's sections; what a section leaves unset
comes from the cost-model profile, as the components read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesim.cluster import names
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.static_pods import IMAGES as CONTROL_PLANE_IMAGES
from kubesim.cluster.topology import Plan, PlannedNode
from kubesim.components.apiserver.client import client_factory
from kubesim.components.cloud.node import UNINITIALIZED_TAINT
from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.components.controllers.nodelifecycle.controller import NodeLifecycleOptions
from kubesim.components.kube_proxy.config import KubeProxyConfig
from kubesim.components.kube_proxy.proxier import kube_proxy_spec
from kubesim.components.kubelet.config import (
    DEFAULT_POD_NETWORK,
    NODE_CIDR_MASK_SIZE,
    KubeletConfig,
)
from kubesim.components.kubelet.images import SANDBOX_IMAGE
from kubesim.components.kubelet.kubelet import kubelet_spec
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime
from kubesim.runtime.costmodel import CostModel

VERSION = "v1.32.0"
# kops' default pod network when a /16 has too few /24s for the nodes
LARGE_POD_NETWORK = "100.96.0.0/11"
# --concurrent-*-syncs flags by the controller they size (registry.py names)
CONCURRENT_SYNCS = {
    "deployment": "concurrent_deployment_syncs", "replicaset": "concurrent_replicaset_syncs",
    "daemonset": "concurrent_daemonset_syncs", "job": "concurrent_job_syncs",
    "endpoint": "concurrent_endpoint_syncs", "endpointslice": "concurrent_service_endpoint_syncs",
    "namespace": "concurrent_namespace_syncs", "garbagecollector": "concurrent_gc_syncs",
    "resourcequota": "concurrent_resource_quota_syncs",
}


def scheduler_config(spec: ClusterSpec) -> dict[str, Any]:
    """The spec's scheduler section as the KubeSchedulerConfiguration document it spells
    (durations as Go duration strings again)."""
    config = spec.scheduler.model_dump(by_alias=True, exclude_none=True)
    election = config.get("leaderElection") or {}
    for key in ("leaseDuration", "renewDeadline", "retryPeriod"):
        if key in election:
            election[key] = f"{election[key]:g}s"
    return config


def node_lifecycle(spec: ClusterSpec, cost: CostModel) -> NodeLifecycleOptions:
    flags = spec.controller_manager
    grace = flags.node_monitor_grace_period
    period = flags.node_monitor_period
    return NodeLifecycleOptions(
        node_monitor_period=period if period is not None else float(cost.value("controller_manager.node_monitor_period")),
        node_monitor_grace_period=grace if grace is not None else float(
            cost.value("controller_manager.node_monitor_grace_period")),
        node_eviction_rate=flags.node_eviction_rate,
        secondary_node_eviction_rate=flags.secondary_node_eviction_rate,
        large_cluster_size_threshold=flags.large_cluster_size_threshold,
        unhealthy_zone_threshold=flags.unhealthy_zone_threshold,
    )


def place_controllers(runtime: Runtime, spec: ClusterSpec, plan: Plan, apiservers: list[str],
                      epoch: float) -> list[str]:
    """Spawn the kube-scheduler and kube-controller-manager replicas; their addresses."""
    from kubesim.components.scheduler.actor import SchedulerActor

    placed = []
    for actor in plan.actors_of(names.SCHEDULER):
        factory = client_factory(apiservers, user="system:kube-scheduler", user_agent=f"kube-scheduler/{VERSION}")
        runtime.spawn(ActorSpec(actor.address, SchedulerActor, actor.machine,
                                kwargs={"client_factory": factory, "config": scheduler_config(spec), "epoch": epoch},
                                metric_labels={"instance": actor.address.name, "job": "kube-scheduler"}))
        placed.append(str(actor.address))
    flags = spec.controller_manager
    syncs = {controller: getattr(flags, flag) for controller, flag in CONCURRENT_SYNCS.items()}
    for actor in plan.actors_of(names.CONTROLLER_MANAGER):
        factory = client_factory(apiservers, user="system:kube-controller-manager",
                                 user_agent=f"kube-controller-manager/{VERSION}")
        runtime.spawn(ActorSpec(actor.address, KubeControllerManager, actor.machine,
                                kwargs={"client": factory, "concurrent_syncs": syncs,
                                        "node_lifecycle": node_lifecycle(spec, runtime.cost),
                                        "leader_elect": flags.leader_elect, "epoch": epoch,
                                        "kube_api_qps": flags.kube_api_qps, "kube_api_burst": flags.kube_api_burst},
                                metric_labels={"instance": actor.address.name, "job": "kube-controller-manager"}))
        placed.append(str(actor.address))
    return placed


def pod_network(nodes: int) -> str:
    """The cluster's pod CIDR: kubeadm's usual 10.244.0.0/16 while its /24s suffice."""
    per_node = 1 << (NODE_CIDR_MASK_SIZE - int(DEFAULT_POD_NETWORK.split("/")[1]))
    return DEFAULT_POD_NETWORK if nodes <= per_node else LARGE_POD_NETWORK


def kubelet_config(index: int, node: PlannedNode, network: str, epoch: float,
                   static_pods: list[dict[str, Any]] | None = None,
                   external_cloud: bool = False) -> KubeletConfig:
    """Node `index`'s kubelet; `static_pods`: the manifests in its staticPodPath, whose
    images the node holds already (kubeadm's preflight pulls them). With `external_cloud`
    (--cloud-provider=external) it registers with the taint the cloud-controller-manager
    removes once it has initialized the node."""
    settings = node.kubelet
    manifests = static_pods or []
    taints = [t.model_dump(by_alias=True) for t in node.taints]
    if external_cloud:
        taints.append({"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"})
    images = sorted({c["image"] for m in manifests for c in m["spec"]["containers"]})
    return KubeletConfig.for_node(
        index, node.name, pod_network=network, zone=node.zone, epoch=epoch,
        capacity=node.shape.capacity(), labels=dict(node.labels),
        taints=taints,
        node_status_update_frequency=settings.node_status_update_frequency,
        node_status_report_frequency=settings.node_status_report_frequency,
        node_lease_duration_seconds=settings.node_lease_duration_seconds,
        kube_api_qps=settings.kube_api_qps, kube_api_burst=settings.kube_api_burst,
        static_pods=manifests, registry_images={i: CONTROL_PLANE_IMAGES[i] for i in images if i in CONTROL_PLANE_IMAGES},
        preloaded_images=[SANDBOX_IMAGE, *images],
    )


def place_node_agents(runtime: Runtime, plan: Plan, apiservers: list[str], epoch: float, *,
                      kube_proxies: bool = True, static_pods: Mapping[str, list[dict[str, Any]]] | None = None,
                      external_cloud: bool = False) -> list[str]:
    """A kubelet and (unless `kube_proxies` is false) a kube-proxy per planned node, on the
    node's machine, packed by host group (a group's kube-proxies share one view of
    Services and EndpointSlices); the kubelets' addresses. `static_pods`: the manifests
    of each node that has some (kubeadm's control-plane pods)."""
    network = pod_network(len(plan.nodes))
    kubelets = []
    for index, node in enumerate(plan.nodes):
        factory = client_factory(apiservers, user=f"system:node:{node.name}", groups=["system:nodes"],
                                 user_agent=f"kubelet/{VERSION}")
        config = kubelet_config(index, node, network, epoch, (static_pods or {}).get(node.name), external_cloud)
        spec = kubelet_spec(config, factory, machine=node.name, host=node.host)
        runtime.spawn(spec)
        kubelets.append(str(spec.address))
        if not kube_proxies:
            continue
        proxy = node.kube_proxy
        proxy_config = KubeProxyConfig(node_name=node.name, mode=proxy.proxy_mode(), node_ip=config.node_ip,
                                       zone=node.zone, cluster_cidr=network, ipvs_scheduler=proxy.ipvs_scheduler(),
                                       epoch=epoch)
        proxy_factory = client_factory(apiservers, user="system:kube-proxy", user_agent=f"kube-proxy/{VERSION}")
        runtime.spawn(kube_proxy_spec(proxy_config, proxy_factory, machine=node.name, host=node.host))
    return kubelets


def place_cloud(runtime: Runtime, spec: ClusterSpec, plan: Plan, apiservers: list[str], epoch: float) -> list[str]:
    """With `cloudProvider: external`: the fake cloud (an instance per node, at the node's
    address) on a machine of its own, and a cloud-controller-manager per control-plane
    machine (leader-elected, as kubeadm clusters run it); the managers' addresses."""
    from kubesim.components.cloud.actor import FakeCloudActor
    from kubesim.components.cloud.manager import CloudControllerManager

    network = pod_network(len(plan.nodes))
    instances = [{"name": node.name, "zone": node.zone,
                  "internalIP": kubelet_config(index, node, network, epoch).node_ip}
                 for index, node in enumerate(plan.nodes)]
    runtime.add_machine(Machine(names.CLOUD_MACHINE, zone=spec.zones[0], role="external"))
    runtime.spawn(ActorSpec(Address(names.CLOUD, names.CLOUD_MACHINE), FakeCloudActor, names.CLOUD_MACHINE,
                            kwargs={"instances": instances}))
    placed = []
    machines = sorted({a.machine for a in plan.actors_of(names.CONTROLLER_MANAGER)})
    for i, machine in enumerate(machines):
        address = Address(names.CLOUD_CONTROLLER_MANAGER, f"{names.CLOUD_CONTROLLER_MANAGER}-{i}")
        factory = client_factory(apiservers, user="system:cloud-controller-manager",
                                 user_agent=f"cloud-controller-manager/{VERSION}")
        runtime.spawn(ActorSpec(address, CloudControllerManager, machine,
                                kwargs={"client": factory, "cloud": f"{names.CLOUD}/{names.CLOUD_MACHINE}",
                                        "cluster_name": spec.name, "epoch": epoch},
                                metric_labels={"instance": address.name, "job": "cloud-controller-manager"}))
        placed.append(str(address))
    return placed
