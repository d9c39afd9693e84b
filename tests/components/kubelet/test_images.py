"""The modelled registry and a node's image service."""

from __future__ import annotations

import random

from kubesim.components.kubelet.images import ImageService, Registry, normalize
from kubesim.runtime.costmodel import CostModel


def test_normalize_like_containerd():
    assert normalize("nginx") == "docker.io/library/nginx:latest"
    assert normalize("nginx:1.27") == "docker.io/library/nginx:1.27"
    assert normalize("bitnami/redis") == "docker.io/bitnami/redis:latest"
    assert normalize("registry.k8s.io/pause:3.10") == "registry.k8s.io/pause:3.10"
    assert normalize("localhost:5000/app") == "localhost:5000/app:latest"
    assert normalize("busybox@sha256:abc") == "docker.io/library/busybox@sha256:abc"


def costs():
    return CostModel.load(overrides={"kubelet.image_pull_fixed": {"median": 2.0, "p99": 2.0},
                                     "kubelet.image_pull_bytes_per_second": 1_000_000})


def test_parallel_pulls_when_configured():
    reg = Registry({"a:1": 3_000_000, "b:1": 1_000_000})
    svc = ImageService(reg, costs(), random.Random(0), max_parallel=0)
    svc.enqueue("p1", "a:1", 0.0)
    svc.enqueue("p2", "b:1", 0.0)
    assert svc.next_wakeup() == 3.0
    done = svc.advance(5.0)
    assert [(r.waiter, r.finished_at) for r in done] == [("p2", 3.0), ("p1", 5.0)]
    assert svc.image_ref("a:1") and svc.image_ref("b:1")


def test_cancelled_waiters_get_no_result_but_the_image_lands():
    reg = Registry({"a:1": 1_000_000})
    svc = ImageService(reg, costs(), random.Random(0))
    svc.enqueue("p1", "a:1", 0.0)
    svc.enqueue("p2", "a:1", 0.0)
    svc.cancel("p1")
    svc.cancel("p2")
    assert svc.advance(10.0) == []
    assert svc.image_ref("docker.io/library/a:1")


def test_default_registry_knows_the_common_images():
    reg = Registry()
    assert reg.lookup("registry.k8s.io/pause:3.10") is not None
    assert reg.lookup("nginx:1.27").size > 10_000_000
    assert reg.lookup("nginx:does-not-exist") is None
