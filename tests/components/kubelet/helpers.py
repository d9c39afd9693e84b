"""A node's pure sync loop on a hand-driven clock, with constant runtime costs, for the
kubelet tests: pods are added as the apiserver would serve them and the agenda is run to a
time; every status the status manager accepted is recorded."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from kubesim.api import defaults
from kubesim.api.meta import timestamp
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.images import Registry
from kubesim.components.kubelet.metrics import KubeletMetrics
from kubesim.components.kubelet.syncloop import SyncLoop
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.metrics import MetricsRegistry

Obj = dict[str, Any]

#: test images: pull = 1 s fixed + size at 1 MB/s
APP_IMAGE = "example.com/app:1"  # 4 s transfer
SMALL_IMAGE = "example.com/small:1"  # 1 s transfer
TEST_IMAGES = {APP_IMAGE: 4_000_000, SMALL_IMAGE: 1_000_000}
PLEG_PHASE = 0.5

# Binary fractions, so sums are exact.
COSTS = {
    "image_pull_fixed": 1.0, "sandbox_create": 0.5, "cni_setup": 0.25, "container_create": 0.25,
    "container_start": 0.125, "container_stop": 0.125, "sandbox_stop": 0.125, "cni_teardown": 0.125,
    "csi_attach": 8.0, "csi_mount": 1.0, "local_volume_setup": 0.0625, "volume_teardown": 0.0625,
    "pleg_relist": 0.015625,
}
#: sandbox (0.5) + CNI (0.25)
SANDBOX = 0.75
#: create (0.25) + start (0.125)
CREATE_START = 0.375


def constant_costs(**overrides: Any) -> CostModel:
    flat: dict[str, Any] = {f"kubelet.{k}": {"median": v, "p99": v} for k, v in COSTS.items()}
    flat["kubelet.image_pull_bytes_per_second"] = 1_000_000
    flat.update(overrides)
    return CostModel.load(overrides=flat)


def container(name: str = "app", image: str = APP_IMAGE, **fields: Any) -> Obj:
    return {"name": name, "image": image, **fields}


class Node:
    """One node's SyncLoop driven by hand; `history` holds (time, name, status) per status."""

    def __init__(self, cfg: KubeletConfig | None = None, seed: int = 0, **cost_overrides: Any) -> None:
        self.cfg = cfg or KubeletConfig.for_node(1, name="n1", registry_images=dict(TEST_IMAGES))
        self.registry = MetricsRegistry()
        self.metrics = KubeletMetrics(self.registry.handle({"node": self.cfg.node_name}), self.cfg.node_name)
        self.loop = SyncLoop(self.cfg, constant_costs(**cost_overrides), random.Random(seed), self.metrics,
                             Registry())
        self.loop.env.relist_phase = PLEG_PHASE
        self.now = 0.0
        self.history: list[tuple[float, str, Obj]] = []
        self._uids = 0
        self.pods: dict[str, Obj] = {}
        status = self.loop.status
        original = status.set_pod_status

        def record(pod: Obj, new: Obj, now: float, finished: bool = False) -> Obj:
            stored = original(pod, new, now, finished)
            if not self.history or self.history[-1][2] is not stored:
                self.history.append((now, pod["metadata"]["name"], stored))
            return stored

        status.set_pod_status = record  # type: ignore[method-assign]

    # -- pods -----------------------------------------------------------------------------
    def pod(self, name: str, containers: list[Obj] | None = None, *, annotations: dict[str, str] | None = None,
            init: list[Obj] | None = None, **spec: Any) -> Obj:
        """A pod bound to this node, defaulted and prepared as the apiserver stores it."""
        self._uids += 1
        body: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{self._uids:04d}",
                         "creationTimestamp": timestamp(self.cfg.epoch + self.now),
                         "annotations": dict(annotations or {})},
            "spec": {"nodeName": self.cfg.node_name, "containers": containers or [container()], **spec},
        }
        if init:
            body["spec"]["initContainers"] = init
        defaults.apply_defaults(body)
        defaults.prepare_for_create(body)
        return body

    def add(self, pod: Obj) -> Obj:
        self.pods[pod["metadata"]["name"]] = pod
        self.loop.pod_seen(pod, self.now)
        return pod

    def delete(self, name: str, grace: int | None = None) -> None:
        """The apiserver's graceful delete: deletionTimestamp and deletionGracePeriodSeconds."""
        pod = copy.deepcopy(self.pods[name])
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        pod["metadata"]["deletionTimestamp"] = timestamp(self.cfg.epoch + self.now)
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        self.pods[name] = pod
        self.loop.pod_seen(pod, self.now)

    def uid(self, name: str) -> str:
        return self.pods[name]["metadata"]["uid"]

    def worker(self, name: str) -> Any:
        return self.loop.workers[self.uid(name)]

    def status(self, name: str) -> Obj:
        found = self.loop.status.get(self.uid(name))
        assert found is not None, f"no status for {name}"
        return found

    def phase(self, name: str) -> str:
        """The cached phase ("" before the first status)."""
        return (self.loop.status.get(self.uid(name)) or {}).get("phase", "")

    def container_status(self, name: str, container_name: str = "app") -> Obj:
        status = self.status(name)
        for s in [*(status.get("initContainerStatuses") or []), *status["containerStatuses"]]:
            if s["name"] == container_name:
                return s
        raise KeyError(container_name)

    def condition(self, name: str, ctype: str) -> Obj:
        return next(c for c in self.status(name)["conditions"] if c["type"] == ctype)

    # -- time -----------------------------------------------------------------------------
    def run_until(self, t: float) -> None:
        while True:
            due = self.loop.next_wakeup()
            if due is None or due > t:
                break
            self.now = due
            self.loop.advance(due)
        self.now = t

    def run_until_true(self, predicate: Callable[[], bool], limit: float = 3600.0) -> float:
        """Advance event by event until `predicate` holds; returns that time."""
        while not predicate():
            due = self.loop.next_wakeup()
            assert due is not None and due <= limit, f"condition not met by t={limit}"
            self.now = due
            self.loop.advance(due)
        return self.now

    def first(self, name: str, predicate: Callable[[Obj], bool]) -> float:
        """When the first recorded status of `name` matching `predicate` was set."""
        return next(t for t, n, s in self.history if n == name and predicate(s))

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.registry.get_sample_value(name, {"node": self.cfg.node_name, **labels})


def phase(status: Obj) -> str:
    return status.get("phase", "")


def state_of(status: Obj, container_name: str = "app") -> Obj:
    for s in [*(status.get("initContainerStatuses") or []), *status.get("containerStatuses", [])]:
        if s["name"] == container_name:
            return s["state"]
    raise KeyError(container_name)
