"""Pod admission on the node: resources against allocatable, the pod count, host ports,
node affinity and NoExecute taints, and the Failed status a rejected pod gets."""

from __future__ import annotations

from typing import Any

from kubesim.components.kubelet.admission import admit, node_info, rejected_status
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.nodestatus import initial_node, node_status

from .helpers import TEST_IMAGES, Node, container


def node_obj(**kwargs: Any) -> dict[str, Any]:
    cfg = KubeletConfig.for_node(1, name="n1", **kwargs)
    return initial_node(cfg, node_status(cfg, [], [], None, 0.0))


def requests(cpu: str = "", memory: str = "") -> dict[str, Any]:
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"resources": {"requests": req}}


def test_cpu_is_checked_against_allocatable_minus_what_admitted_pods_request():
    node = Node(KubeletConfig.for_node(1, name="n1", kube_reserved={"cpu": "500m"},
                                       registry_images=dict(TEST_IMAGES)))
    node.add(node.pod("a", [container(**requests(cpu="2"))]))
    node.add(node.pod("b", [container(**requests(cpu="2"))]))
    node.run_until(0.0)
    assert node.phase("a") == "Pending"
    status = node.status("b")
    assert status["phase"] == "Failed"
    assert status["reason"] == "OutOfcpu"
    assert status["message"] == ("Pod was rejected: Node didn't have enough resource: cpu, "
                                 "requested: 2000, used: 2000, capacity: 3500")
    assert status["qosClass"] == "Burstable"
    assert node.loop.workers.keys() == {node.uid("a")}


def test_admission_follows_creation_order_and_memory_counts_eviction_reserve():
    node = Node()
    # allocatable memory = 16Gi - 100Mi (evictionHard memory.available)
    node.now = 5.0
    late = node.pod("late", [container(**requests(memory="8Gi"))])
    node.now = 1.0
    early = node.pod("early", [container(**requests(memory="8Gi"))])
    node.add(late)
    node.add(early)
    node.run_until(5.0)
    assert node.phase("early") == "Pending"
    assert node.status("late")["reason"] == "OutOfmemory"
    assert "capacity: 17075011584" in node.status("late")["message"]


def test_pod_count_host_ports_affinity_and_taints():
    n = node_obj(capacity={"cpu": "4", "memory": "16Gi", "pods": "2"},
                 taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}])
    plain = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [container()]}}
    tolerant = {"metadata": {"name": "t", "namespace": "default"},
                "spec": {"containers": [container()],
                         "tolerations": [{"key": "dedicated", "operator": "Exists"}]}}
    assert admit(plain, node_info(n, [])).reason == "TaintToleration"
    assert admit(plain, node_info(n, [])).message == "Predicate TaintToleration failed: node(s) had untolerated taint"
    assert admit(plain, node_info(n, []), static=True) is None  # static pods ignore taints
    assert admit(tolerant, node_info(n, [])) is None
    full = admit(tolerant, node_info(n, [tolerant, tolerant]))
    assert (full.reason, full.message) == (
        "OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2")

    free = node_obj()
    ported = {"metadata": {"name": "hp", "namespace": "default"},
              "spec": {"containers": [container(ports=[{"containerPort": 80, "hostPort": 8080,
                                                        "protocol": "TCP"}])]}}
    assert admit(ported, node_info(free, [])) is None
    clash = admit(ported, node_info(free, [ported]))
    assert (clash.reason, clash.message) == (
        "NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports")

    picky = {"metadata": {"name": "a", "namespace": "default"},
             "spec": {"containers": [container()], "nodeSelector": {"disk": "ssd"}}}
    assert admit(picky, node_info(free, [])).reason == "NodeAffinity"
    assert admit(picky, node_info(node_obj(labels={"disk": "ssd"}), [])) is None

    windows = {"metadata": {"name": "w", "namespace": "default", "labels": {"kubernetes.io/os": "windows"}},
               "spec": {"containers": [container()]}}
    assert admit(windows, node_info(free, [])).reason == "PodOSSelectorNodeLabelDoesNotMatch"


def test_rejected_status_shape():
    pod = {"metadata": {"name": "x"}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}
    rejection = admit({"metadata": {"name": "x"}, "spec": {"containers": [container(**requests(cpu="64"))]}},
                      node_info(node_obj(), []))
    assert rejected_status(pod, rejection) == {
        "phase": "Failed", "reason": "OutOfcpu", "qosClass": "BestEffort",
        "message": "Pod was rejected: Node didn't have enough resource: cpu, requested: 64000, used: 0, capacity: 4000"}
