"""A kubelet's configuration: the node it registers and the KubeletConfiguration fields the
simulation uses, with upstream defaults (kubelet/apis/config/v1beta1 defaults, v1.32).

Plain data (msgpack/pickle friendly), so a cluster spec can carry one per node;
`KubeletConfig.for_node` derives a node's address and podCIDR from its index the way a
cluster's node IPAM would hand them out.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kubesim.api import quantity
from kubesim.components.kubelet.images import SANDBOX_IMAGE

#: KubeletConfiguration evictionHard defaults (memory.available<100Mi, nodefs.available<10%).
EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%"}
#: the capacity of a 4 vCPU / 16 GiB general-purpose VM (e.g. EC2 m5.xlarge), maxPods 110.
DEFAULT_CAPACITY = {"cpu": "4", "ephemeral-storage": "100Gi", "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0", "memory": "16Gi", "pods": "110"}
#: flannel's default pod network: 256 nodes with a /24 each.
DEFAULT_POD_NETWORK = "10.244.0.0/16"
#: kops' default clusterCIDR, for big clusters: 8,192 nodes with a /24 each.
LARGE_POD_NETWORK = "100.96.0.0/11"
DEFAULT_NODE_NETWORK = "10.0.0.0/16"
#: kube-controller-manager --node-cidr-mask-size default for IPv4.
NODE_CIDR_MASK_SIZE = 24


@dataclass
class KubeletConfig:
    """Everything one kubelet needs to know about its node and itself."""

    node_name: str
    node_ip: str
    pod_cidr: str = ""  # "" waits for the node IPAM controller to set spec.podCIDR
    zone: str = ""
    region: str = ""
    instance_type: str = ""
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    kube_reserved: dict[str, str] = field(default_factory=dict)
    system_reserved: dict[str, str] = field(default_factory=dict)
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(EVICTION_HARD))
    labels: dict[str, str] = field(default_factory=dict)  # --node-labels
    taints: list[dict[str, Any]] = field(default_factory=list)  # --register-with-taints
    static_pods: list[dict[str, Any]] = field(default_factory=list)  # the staticPodPath manifests
    registry_images: dict[str, int] = field(default_factory=dict)  # added to the default registry
    preloaded_images: list[str] = field(default_factory=lambda: [SANDBOX_IMAGE])
    max_parallel_image_pulls: int = 1  # serializeImagePulls: true
    # KubeletConfiguration fields a cluster spec may set; None: the cost profile's kubelet.* value
    node_status_update_frequency: float | None = None
    node_status_report_frequency: float | None = None
    node_lease_duration_seconds: int | None = None
    kube_api_qps: float | None = None
    kube_api_burst: int | None = None
    epoch: float = 0.0  # the Unix time simulated time 0 stands for
    kubelet_version: str = "v1.32.0"
    container_runtime_version: str = "containerd://1.7.24"
    os_image: str = "Ubuntu 22.04.5 LTS"
    kernel_version: str = "5.15.0-126-generic"
    architecture: str = "amd64"

    @classmethod
    def for_node(cls, index: int, name: str | None = None, *, pod_network: str = DEFAULT_POD_NETWORK,
                 **kwargs: Any) -> KubeletConfig:
        """Node `index`'s config: IP index+10 of 10.0.0.0/16 and the index-th /24 of
        `pod_network` (the node IPAM controller's range allocator hands them out in order)."""
        node_net = ipaddress.ip_network(DEFAULT_NODE_NETWORK)
        pods = ipaddress.ip_network(pod_network)
        count = 1 << (NODE_CIDR_MASK_SIZE - pods.prefixlen)
        if not 0 <= index < min(count, node_net.num_addresses - 11):
            raise ValueError(f"node index {index} is outside the pod network {pod_network}")
        subnet = ipaddress.ip_network((int(pods.network_address) + (index << (32 - NODE_CIDR_MASK_SIZE)),
                                       NODE_CIDR_MASK_SIZE))
        kwargs.setdefault("pod_cidr", str(subnet))
        return cls(node_name=name or f"node-{index}", node_ip=str(node_net.network_address + 10 + index),
                   **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KubeletConfig:
        return cls(**data)

    def allocatable(self) -> dict[str, str]:
        """capacity - kubeReserved - systemReserved - hard eviction thresholds
        (pkg/kubelet/cm GetNodeAllocatableAbsolute). The node status asks every 10 s and most
        nodes share a shape, so the arithmetic is remembered per input."""
        return dict(_allocatable(tuple(self.capacity.items()), tuple(self.kube_reserved.items()),
                                 tuple(self.system_reserved.items()), tuple(self.eviction_hard.items())))


Pairs = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=256)
def _allocatable(capacity: Pairs, kube_reserved: Pairs, system_reserved: Pairs,
                 eviction_hard: Pairs) -> dict[str, str]:
    reserved_sets = (dict(kube_reserved), dict(system_reserved))
    hard = dict(eviction_hard)
    out = {}
    for name, text in capacity:
        cap = quantity.parse(text)
        value = cap
        for reserved in reserved_sets:
            if name in reserved:
                value = value - quantity.parse(reserved[name])
        threshold = _eviction_threshold(hard, name, cap)
        if threshold is not None:
            value = value - threshold
        if value.sign() < 0:
            value = quantity.Quantity(0, cap.format)
        out[name] = str(value)
    return out


def _eviction_threshold(eviction_hard: dict[str, str], resource: str,
                        capacity: quantity.Quantity) -> quantity.Quantity | None:
    signal = {"memory": "memory.available", "ephemeral-storage": "nodefs.available"}.get(resource)
    text = eviction_hard.get(signal or "")
    if text is None:
        return None
    if text.endswith("%"):
        return quantity.Quantity(int(capacity.nanos * float(text[:-1]) / 100), capacity.format)
    return quantity.parse(text)
