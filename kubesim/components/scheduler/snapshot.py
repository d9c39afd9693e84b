"""The per-cycle Snapshot of the scheduler cache, and the other cluster objects plugins read.

A Snapshot is refreshed from the cache at the start of every scheduling cycle
(``Cache.update_snapshot``) and is never written to by the cycle itself; preemption works
on clones of its NodeInfos.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.scheduler.nodeinfo import NodeInfo


@dataclass
class ClusterObjects:
    """Objects some plugins read besides nodes and pods (informer listers upstream).

    ``namespace_labels``: namespace name -> labels (affinity namespaceSelector);
    ``services``/``replica_sets``/``stateful_sets``/``replication_controllers``: for the
    default topology-spread selector; ``pdbs``: PodDisruptionBudgets for preemption.
    """

    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    stateful_sets: list[dict[str, Any]] = field(default_factory=list)
    replication_controllers: list[dict[str, Any]] = field(default_factory=list)
    pdbs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Snapshot:
    """Node infos as of one point in the cache's history, listed in node-tree (zone round-robin) order."""

    node_info_map: dict[str, NodeInfo] = field(default_factory=dict)
    node_info_list: list[NodeInfo] = field(default_factory=list)
    have_pods_with_affinity: list[NodeInfo] = field(default_factory=list)
    have_pods_with_required_anti_affinity: list[NodeInfo] = field(default_factory=list)
    generation: int = 0
    tree_generation: int = -1
    objects: ClusterObjects = field(default_factory=ClusterObjects)
    #: names of the nodes each update changed, in order, since `changes_epoch` began (a
    #: rebuild of the node list, or a long log, starts a new epoch): lets a plugin that keeps
    #: per-node figures across cycles revisit only what changed
    changed: list[str] = field(default_factory=list)
    changes_epoch: int = 0

    @classmethod
    def from_nodes(cls, nodes: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]] = (),
                   objects: ClusterObjects | None = None) -> Snapshot:
        """A snapshot built directly from objects (tests, one-off scheduling); pods need spec.nodeName."""
        from kubesim.components.scheduler.cache import Cache

        cache = Cache()
        for n in nodes:
            cache.add_node(n)
        for p in pods:
            cache.add_pod(p)
        snap = cls(objects=objects or ClusterObjects())
        cache.update_snapshot(snap)
        return snap

    def get(self, name: str) -> NodeInfo | None:
        return self.node_info_map.get(name)

    def num_nodes(self) -> int:
        return len(self.node_info_list)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return self.objects.namespace_labels.get(namespace, {})
