"""Node agents' memory: what one simulated node (its kubelet, its kube-proxy and its pods)
costs on a host, for 1,000 and 5,000 nodes.

On the `sim` runtime (one host, as a Ray host actor runs a node pool) the nodes register
against the in-memory apiserver and run until every pod they were given is Running. Memory
is what tracemalloc sees allocated by then, minus what the apiserver itself keeps (its
stored objects, measured by walking them): the kubelet actor and its runtime slot, its
informer caches, pod workers, status cache and metrics, and the kube-proxy with its rule
table over `SERVICES` Services (the kube-proxies of a host share one view of them).

Measured in one run of the bench: idle nodes at 1,000 and 5,000; and 200 nodes without pods
and with `PODS_PER_NODE` pods bound by hand (30: the scalability envelope's 150,000 pods
over 5,000 nodes), whose difference is the cost of a pod. A node with its pods is the idle
node at that scale plus `PODS_PER_NODE` pods.

    python -m bench.node_bench
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
import tracemalloc
from typing import Any

from kubesim.components.kube_proxy.config import KubeProxyConfig
from kubesim.components.kube_proxy.proxier import kube_proxy_spec
from kubesim.components.kubelet.config import LARGE_POD_NETWORK, KubeletConfig
from kubesim.components.kubelet.kubelet import kubelet_spec
from kubesim.runtime import Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer

EPOCH = 1_700_000_000.0
PODS_PER_NODE = 30
NODES_PER_HOST = 100
SIZES = (1000, 5000)
POD_RUN_NODES = 200
#: Services the kube-proxies program, each with an EndpointSlice of ENDPOINTS endpoints.
SERVICES = 100
ENDPOINTS = 3


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by a tree of dicts, lists and scalars (each object counted once)."""
    seen = set() if seen is None else seen
    stack = [obj]
    total = 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def pod(node: int, index: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p-{node}-{index}", "namespace": "default", "labels": {"app": f"app-{index}"}},
            "spec": {"nodeName": f"node-{node}", "containers": [{
                "name": "app", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def service(index: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{index}", "namespace": "default"},
            "spec": {"clusterIP": f"10.96.{index // 250}.{index % 250 + 1}", "type": "ClusterIP",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}


def endpoint_slice(index: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"svc-{index}-x", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": f"svc-{index}"}},
            "endpoints": [{"addresses": [f"100.96.{index % 250}.{j + 2}"], "conditions": {"ready": True},
                           "nodeName": f"node-{j}"} for j in range(ENDPOINTS)],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def run(nodes: int, pods_per_node: int) -> dict[str, Any]:
    """`nodes` kubelets, each with `pods_per_node` pods once registered; traced memory."""
    rt = SimRuntime(seed=1)
    api = FakeAPIServer(clock=lambda: EPOCH + rt.now(), rng=random.Random(1), graceful_pods=True)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for i in range(nodes):
        cfg = KubeletConfig.for_node(i, epoch=EPOCH, pod_network=LARGE_POD_NETWORK)
        rt.add_machine(Machine(cfg.node_name))
        host = f"nodes-{i // NODES_PER_HOST}"
        rt.spawn(kubelet_spec(cfg, lambda ctx: api, host=host))
        proxy = KubeProxyConfig(node_name=cfg.node_name, node_ip=cfg.node_ip, cluster_cidr=LARGE_POD_NETWORK,
                                epoch=EPOCH)
        rt.spawn(kube_proxy_spec(proxy, lambda ctx: api, host=host))

    async def main(rt: SimRuntime) -> float:
        for k in range(SERVICES):
            await api.create("services", service(k))
            await api.create("endpointslices.discovery.k8s.io", endpoint_slice(k))
        async def registered() -> bool:
            return len(api.objects("nodes")) == nodes
        await rt.wait_until(registered, 120.0, poll=1.0)
        for i in range(nodes):
            for j in range(pods_per_node):
                await api.create("pods", pod(i, j))
        created = rt.now()

        async def settled() -> bool:
            return all(p["status"].get("phase") == "Running" for p in api.objects("pods", "default")) and all(
                any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                for n in api.objects("nodes"))
        await rt.wait_until(settled, 600.0, poll=5.0)
        return rt.now() - created

    simulated = rt.run(main)
    wall = time.perf_counter() - started
    api.compact()
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    apiserver = deep_size(api._objects)
    rt.close()
    return {"nodes": nodes, "pods": nodes * pods_per_node, "services": SERVICES, "wall_seconds_traced": wall,
            "simulated_seconds_to_settled": simulated, "traced_bytes": traced,
            "apiserver_store_bytes": apiserver, "bytes_per_node": (traced - apiserver) / nodes}


def nodes_memory() -> dict[str, Any]:
    idle = {n: run(n, 0) for n in SIZES}
    bare, loaded = run(POD_RUN_NODES, 0), run(POD_RUN_NODES, PODS_PER_NODE)
    per_pod = (loaded["bytes_per_node"] - bare["bytes_per_node"]) / PODS_PER_NODE
    return {
        "what": "memory per simulated node on one host (sim runtime): the kubelet (actor, runtime slot, "
                "informer caches, pod workers, status cache, metrics) and the kube-proxy (iptables mode, "
                f"{SERVICES} Services of {ENDPOINTS} endpoints, the host's shared view); the apiserver's "
                "store excluded",
        "runs": {"idle": {str(n): r for n, r in idle.items()},
                 f"{POD_RUN_NODES}_nodes_bare": bare, f"{POD_RUN_NODES}_nodes_with_pods": loaded},
        "pods_per_node": PODS_PER_NODE,
        "bytes_per_pod": per_pod,
        "kib_per_idle_node": {str(n): round(r["bytes_per_node"] / 1024, 1) for n, r in idle.items()},
        "kib_per_node_with_pods": {str(n): round((r["bytes_per_node"] + PODS_PER_NODE * per_pod) / 1024, 1)
                                   for n, r in idle.items()},
        "mib_per_host_of_100_nodes_with_pods": {
            str(n): round(100 * (r["bytes_per_node"] + PODS_PER_NODE * per_pod) / 2**20, 1)
            for n, r in idle.items()},
    }


if __name__ == "__main__":
    print(json.dumps(nodes_memory(), indent=2))
