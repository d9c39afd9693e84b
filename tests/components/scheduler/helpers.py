"""Builders for Node and Pod dicts used by the scheduler tests."""

from __future__ import annotations

import random
from typing import Any

from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.interfaces import CycleState
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.profile import PluginRef, PluginSet, Profile
from kubesim.components.scheduler.schedule_one import (
    FitError,
    ScheduleResult,
    SchedulingAlgorithm,
    prioritize_nodes,
)
from kubesim.components.scheduler.snapshot import ClusterObjects, Snapshot


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110,
         labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None,
         images: list[tuple[list[str], int]] | None = None, unschedulable: bool = False,
         extra: dict[str, str] | None = None) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"allocatable": alloc, "capacity": alloc,
                   "images": [{"names": n, "sizeBytes": s} for n, s in images or ()]},
    }


def pod(name: str, cpu: str | None = None, memory: str | None = None, *, node_name: str = "",
        priority: int = 0, labels: dict[str, str] | None = None, namespace: str = "default",
        containers: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    if containers is None:
        containers = [{"name": "c", "image": "pause", "resources": {"requests": requests}}]
    body: dict[str, Any] = {"containers": containers, "priority": priority, **spec}
    if node_name:
        body["nodeName"] = node_name
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                     "labels": labels or {}},
        "spec": body,
        "status": {"phase": "Pending"},
    }


def only(*names: str, weights: dict[str, int] | None = None, scheduler_name: str = "only",
         config: dict[str, dict[str, Any]] | None = None, percentage: int | None = None) -> Framework:
    """A framework with exactly these plugins (plus PrioritySort and DefaultBinder)."""
    w = weights or {}
    refs = [PluginRef(n, w.get(n, 0)) for n in ("PrioritySort", "DefaultBinder", *names)]
    prof = Profile(scheduler_name, {"multiPoint": PluginSet(refs)}, config or {}, percentage)
    return Framework(prof, merge_defaults=False)


def schedule(fwk: Framework, p: dict[str, Any], snap: Snapshot, seed: int = 0,
             algorithm: SchedulingAlgorithm | None = None) -> ScheduleResult | FitError:
    """One ``schedulePod`` of ``p`` on ``snap``."""
    algo = algorithm if algorithm is not None else SchedulingAlgorithm()
    return algo.schedule_pod(fwk, CycleState(), PodInfo(p), snap, random.Random(seed))


def scores(fwk: Framework, p: dict[str, Any], nodes: list[dict[str, Any]],
           pods: list[dict[str, Any]] = (), objects: ClusterObjects | None = None) -> dict[str, int]:  # type: ignore[assignment]
    """Final (weighted, summed) score per node for ``p``: PreFilter/Filter on every node,
    then PreScore/Score on the feasible ones."""
    snap = Snapshot.from_nodes(nodes, pods, objects)
    fwk.percentage_of_nodes_to_score = 100
    state, pi = CycleState(), PodInfo(p)
    fwk.handle.snapshot, fwk.handle.rng = snap, random.Random(0)
    feasible, diagnosis = SchedulingAlgorithm().find_nodes_that_fit(fwk, state, pi, snap)
    assert feasible, diagnosis
    return {ns.name: ns.total for ns in prioritize_nodes(fwk, state, pi, feasible)}


def fit_error(fwk: Framework, p: dict[str, Any], nodes: list[dict[str, Any]],
              pods: list[dict[str, Any]] = ()) -> FitError:  # type: ignore[assignment]
    res = schedule(fwk, p, Snapshot.from_nodes(nodes, pods))
    assert isinstance(res, FitError), res
    return res
