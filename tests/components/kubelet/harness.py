"""The kubelet actor's test cluster: the sim runtime, the in-memory apiserver (graceful pod
deletion) and kubelets whose requests are counted and logged."""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any

from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.kubelet import Kubelet
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer

from .helpers import TEST_IMAGES, constant_costs

EPOCH = 1_700_000_000.0
Obj = dict[str, Any]


class Cluster:
    """The sim runtime, the fake apiserver (graceful pod deletion) and kubelets; `calls`
    counts the kubelets' requests by (verb, resource, subresource)."""

    def __init__(self, seed: int = 1, api: type[FakeAPIServer] = FakeAPIServer) -> None:
        self.rt = SimRuntime(seed=seed, cost=constant_costs())
        self.api = api(clock=lambda: EPOCH + self.rt.now(), rng=random.Random(seed), graceful_pods=True)
        self.calls: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.log: list[tuple[float, str, str, str]] = []
        self._client = _Counting(self)

    def kubelet(self, index: int, **kwargs: Any) -> str:
        name = f"node-{index}"
        self.rt.add_machine(Machine(name, zone="zone-a", role="worker"))
        kwargs.setdefault("registry_images", dict(TEST_IMAGES))
        cfg = KubeletConfig.for_node(index, epoch=EPOCH, zone="zone-a", instance_type="m5.xlarge", **kwargs)
        client = self._client
        self.rt.spawn(ActorSpec(Address("kubelet", name), Kubelet, name,
                                kwargs={"config": cfg, "client_factory": lambda ctx: client},
                                metric_labels={"node": name}))
        return name

    def run(self, main: Callable[[], Any], limit: float = 3600.0) -> Any:
        return self.rt.run(lambda rt: main(), limit=limit)

    async def until(self, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        async def check() -> bool:
            return predicate()
        await self.rt.wait_until(check, timeout, poll=0.25)

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        found = [o for o in self.api.objects(resource, namespace or None) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def metric(self, name: str, **labels: str) -> float | None:
        return self.rt.metrics.registry.get_sample_value(name, labels)

    def close(self) -> None:
        self.rt.close()


class _Counting:
    """The fake apiserver seen through a client that records each request."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    def __getattr__(self, verb: str) -> Any:
        target = getattr(self._cluster.api, verb)

        def call(resource: str, *args: Any, **kwargs: Any) -> Any:
            key = (verb, resource, kwargs.get("subresource", ""))
            self._cluster.calls[key] += 1
            self._cluster.log.append((self._cluster.rt.now(), *key))
            return target(resource, *args, **kwargs)

        return call


def web_pod(name: str = "web", node: str = "node-1", **annotations: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "app", "image": "example.com/small:1",
                                     "ports": [{"containerPort": 80}]}]}}
