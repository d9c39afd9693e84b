"""The controllers kube-controller-manager can run, their default worker counts
(`--concurrent-*-syncs`) and the `--controllers` flag syntax."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubesim.components.controllers.base import Controller, ControllerContext
from kubesim.components.controllers.daemonset import DaemonSetController
from kubesim.components.controllers.deployment.controller import DeploymentController
from kubesim.components.controllers.endpoints import EndpointsController
from kubesim.components.controllers.endpointslice import EndpointSliceController
from kubesim.components.controllers.garbagecollector.collector import GarbageCollector
from kubesim.components.controllers.job.controller import JobController
from kubesim.components.controllers.namespace import NamespaceController
from kubesim.components.controllers.nodelifecycle.controller import (
    NodeLifecycleController,
    NodeLifecycleOptions,
)
from kubesim.components.controllers.nodelifecycle.taint_eviction import TaintEvictionController
from kubesim.components.controllers.podgc import PodGCController
from kubesim.components.controllers.replicaset import ReplicaSetController
from kubesim.components.controllers.resourcequota import ResourceQuotaController

Builder = Callable[[ControllerContext, int, NodeLifecycleOptions], Controller]


@dataclass(frozen=True)
class Entry:
    workers: int
    build: Builder


CONTROLLERS: dict[str, Entry] = {
    "deployment": Entry(5, lambda cc, w, _: DeploymentController(cc, w)),
    "replicaset": Entry(5, lambda cc, w, _: ReplicaSetController(cc, w)),
    "endpoint": Entry(5, lambda cc, w, _: EndpointsController(cc, w)),
    "endpointslice": Entry(5, lambda cc, w, _: EndpointSliceController(cc, w)),
    "nodelifecycle": Entry(8, lambda cc, w, opts: NodeLifecycleController(cc, opts, w)),
    "taint-eviction-controller": Entry(8, lambda cc, w, _: TaintEvictionController(cc, w)),
    "daemonset": Entry(2, lambda cc, w, _: DaemonSetController(cc, w)),
    "job": Entry(5, lambda cc, w, _: JobController(cc, w)),
    "pod-garbage-collector": Entry(0, lambda cc, w, _: PodGCController(cc)),
    "namespace": Entry(10, lambda cc, w, _: NamespaceController(cc, w)),
    "garbagecollector": Entry(20, lambda cc, w, _: GarbageCollector(cc, w)),
    "resourcequota": Entry(5, lambda cc, w, _: ResourceQuotaController(cc, w)),
}


def enabled(flags: tuple[str, ...] | list[str]) -> list[str]:
    """The controllers `--controllers` enables: "*" all, "name" one, "-name" not that one."""
    names: list[str] = []
    star = "*" in flags
    for name in CONTROLLERS:
        if f"-{name}" in flags:
            continue
        if star or name in flags:
            names.append(name)
    unknown = [f for f in flags if f != "*" and f.lstrip("-") not in CONTROLLERS]
    if unknown:
        raise ValueError(f"unknown controllers {unknown}; known: {sorted(CONTROLLERS)}")
    return names
