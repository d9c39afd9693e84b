"""Deterministic names of the machines, actors and host groups a cluster plan holds.

Machines: `cp-0`.. (control plane), `etcd-0`.. (external etcd, named like the member that
runs there, as `components/etcd/cluster.py` places them), `lb` (the apiserver load
balancer), `POOL-00042` (nodes; five digits, more for pools of 100,000 nodes and up).

Actors keep the names the components already use: `etcd/etcd-N` (`member_address`),
`apiserver/apiserver-N` and `apiserver-lb/lb` (components/apiserver/cluster.py); the
scheduler and controller manager follow that pattern, and a node's agents are named after
their node (`kubelet/pool-a-00042`). Static pods are named as the kubelet names mirror
pods, `<component>-<node>` (`kube-apiserver-cp-0`).
"""

from __future__ import annotations

# actor kinds
ETCD = "etcd"
APISERVER = "apiserver"
SCHEDULER = "scheduler"
CONTROLLER_MANAGER = "controller-manager"
LOAD_BALANCER = "apiserver-lb"
KUBELET = "kubelet"
KUBE_PROXY = "kube-proxy"
CLOUD = "cloud"  # the fake cloud provider's API (cloudProvider: external)
CLOUD_CONTROLLER_MANAGER = "cloud-controller-manager"

# the static pods kubeadm writes for the control-plane actors (the component names)
STATIC_PODS = {ETCD: "etcd", APISERVER: "kube-apiserver", SCHEDULER: "kube-scheduler",
               CONTROLLER_MANAGER: "kube-controller-manager"}

ROLE_CONTROL_PLANE = "control-plane"
ROLE_ETCD = "etcd"
ROLE_LOAD_BALANCER = "load-balancer"
ROLE_WORKER = "worker"  # runtime.address.Machine's default role

CONTROL_PLANE_POOL = "control-plane"  # the pool name of the control-plane nodes' agents
LOAD_BALANCER_MACHINE = "lb"
CLOUD_MACHINE = "cloud-api"
NODE_INDEX_DIGITS = 5
HOST_INDEX_DIGITS = 3
DNS1123_LABEL_MAX = 63


def control_plane_machine(index: int) -> str:
    return f"cp-{index}"


def control_plane_actor(kind: str, index: int) -> str:
    """`apiserver-0`: the name of the `kind` actor on control-plane machine `index`."""
    return f"{kind}-{index}"


def index_width(count: int, minimum: int) -> int:
    """Digits of the zero-padded indexes 0..count-1 (at least `minimum`)."""
    return max(minimum, len(str(max(count - 1, 0))))


def node_name(pool: str, index: int, width: int) -> str:
    return f"{pool}-{index:0{width}d}"


def max_pool_name_length(count: int) -> int:
    """The longest pool name whose node names stay DNS-1123 labels."""
    return DNS1123_LABEL_MAX - 1 - index_width(count, NODE_INDEX_DIGITS)


def host_name(pool: str, index: int, width: int) -> str:
    return f"{pool}-h{index:0{width}d}"


def static_pod(kind: str, node: str) -> str:
    """The mirror pod name of the static pod that runs actor `kind` on `node`."""
    return f"{STATIC_PODS[kind]}-{node}"
