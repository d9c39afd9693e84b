"""The scheduler cache (pkg/scheduler/backend/cache): NodeInfos fed by node and pod events,
pods assumed onto nodes before their binding is confirmed, and incremental snapshots.

Assumed pods: ``assume_pod`` when the scheduling cycle picks a node, ``add_pod`` when the
watch confirms it, ``forget_pod`` when binding fails. An assumed pod never expires
(upstream's ``durationToExpireAssumedPod`` is 0 since v1.27).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.components.scheduler.nodeinfo import ImageStateSummary, NodeInfo, PodInfo, pod_key
from kubesim.components.scheduler.snapshot import Snapshot

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
#: entries of Snapshot.changed before a new epoch starts (its readers then revisit every node)
CHANGE_LOG_LIMIT = 100_000


class CacheError(RuntimeError):
    """An impossible pod transition (assume twice, forget a pod never assumed, ...)."""


def zone_key(node: dict[str, Any]) -> str:
    """``utilnode.GetZoneKey``: region and zone joined by ':\\x00:' ("" without either)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = next((labels[k] for k in ZONE_LABELS if k in labels), "")
    region = next((labels[k] for k in REGION_LABELS if k in labels), "")
    if not zone and not region:
        return ""
    return f"{region}:\x00:{zone}"


class NodeTree:
    """Nodes grouped by zone; ``list()`` interleaves zones so consecutive nodes differ in zone."""

    def __init__(self) -> None:
        self.zones: list[str] = []
        self.tree: dict[str, list[str]] = {}
        self.num_nodes = 0

    def add(self, name: str, zone: str) -> None:
        names = self.tree.get(zone)
        if names is None:
            self.zones.append(zone)
            self.tree[zone] = names = []
        if name not in names:
            names.append(name)
            self.num_nodes += 1

    def remove(self, name: str, zone: str) -> None:
        """``removeNode``: the other nodes (and zones) keep their order."""
        names = self.tree.get(zone)
        if names is None or name not in names:
            return
        names.remove(name)
        self.num_nodes -= 1
        if not names:
            self.zones.remove(zone)
            del self.tree[zone]

    def list(self) -> list[str]:
        out: list[str] = []
        depth = max((len(v) for v in self.tree.values()), default=0)
        for i in range(depth):
            for z in self.zones:
                names = self.tree[z]
                if i < len(names):
                    out.append(names[i])
        return out


@dataclass
class _PodState:
    info: PodInfo
    node_name: str


class Cache:
    """NodeInfos by node name, with assumed pods; produces incremental Snapshots."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._present: dict[str, str] = {}  # node name -> zone key, for nodes that exist
        self._tree = NodeTree()
        self._pods: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._images: dict[str, ImageStateSummary] = {}
        self._generation = 0
        self._tree_generation = 0
        #: node names from least to most recently changed (upstream's headNode list), so a
        #: snapshot update visits only the nodes changed since it was taken.
        self._recent: dict[str, None] = {}

    # -- helpers ------------------------------------------------------------------------
    def _touch(self, ni: NodeInfo) -> None:
        self._generation += 1
        ni.generation = self._generation
        self._recent.pop(ni.name, None)
        self._recent[ni.name] = None

    def _drop(self, name: str) -> None:
        del self._nodes[name]
        self._recent.pop(name, None)

    def _info(self, name: str) -> NodeInfo:
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo({"metadata": {"name": name}})
        return ni

    def _add_pod_to_node(self, pi: PodInfo, node_name: str) -> None:
        ni = self._info(node_name)
        ni.add_pod(pi)
        self._touch(ni)

    def _remove_pod_from_node(self, key: str, node_name: str) -> None:
        ni = self._nodes.get(node_name)
        if ni is None:
            return
        ni.remove_pod(key)
        self._touch(ni)
        if not ni.pods and node_name not in self._present:
            self._drop(node_name)

    # -- nodes --------------------------------------------------------------------------
    def add_node(self, node: dict[str, Any]) -> None:
        """Add or update a node; the node tree changes only when its zone does."""
        name = node["metadata"]["name"]
        ni = self._info(name)
        zone = zone_key(node)
        old_zone = self._present.get(name)
        if old_zone is not None:
            self._remove_images(name)
        if old_zone != zone:
            if old_zone is not None:
                self._tree.remove(name, old_zone)
            self._present[name] = zone
            self._tree.add(name, zone)
            self._tree_generation += 1
        ni.set_node(node)
        self._add_images(ni)
        self._touch(ni)

    update_node = add_node

    def remove_node(self, name: str) -> None:
        zone = self._present.pop(name, None)
        if zone is None:
            return
        self._tree.remove(name, zone)
        self._tree_generation += 1
        self._remove_images(name)
        ni = self._nodes[name]
        if ni.pods:
            ni.set_node({"metadata": {"name": name}})
            self._touch(ni)
        else:
            self._drop(name)

    def _add_images(self, ni: NodeInfo) -> None:
        """``addNodeImageStates``: the node's images, each summary shared with other nodes."""
        summary: dict[str, ImageStateSummary] = {}
        for image in (ni.node.get("status") or {}).get("images") or ():
            for name in image.get("names") or ():
                state = self._images.get(name)
                if state is None:
                    state = self._images[name] = ImageStateSummary(image.get("sizeBytes", 0))
                state.nodes.add(ni.name)
                summary[name] = state
        ni.image_states = summary

    def _remove_images(self, node_name: str) -> None:
        """``removeNodeImageStates``."""
        ni = self._nodes.get(node_name)
        for name in list(ni.image_states) if ni is not None else ():
            state = self._images.get(name)
            if state is not None:
                state.nodes.discard(node_name)
                if not state.nodes:
                    del self._images[name]

    # -- pods -----------------------------------------------------------------------------
    def assume_pod(self, pod: dict[str, Any]) -> None:
        """Account a pod on ``spec.nodeName`` before its binding is confirmed."""
        key = pod_key(pod)
        if key in self._pods:
            raise CacheError(f"pod {key} is in the cache, so can't be assumed")
        node_name = pod["spec"]["nodeName"]
        pi = PodInfo(pod)
        self._add_pod_to_node(pi, node_name)
        self._pods[key] = _PodState(pi, node_name)
        self._assumed.add(key)

    def forget_pod(self, pod: dict[str, Any]) -> None:
        """Undo ``assume_pod`` (binding failed)."""
        key = pod_key(pod)
        state = self._pods.get(key)
        if state is None or key not in self._assumed:
            raise CacheError(f"pod {key} wasn't assumed so cannot be forgotten")
        self._remove_pod_from_node(key, state.node_name)
        del self._pods[key]
        self._assumed.discard(key)

    def add_pod(self, pod: dict[str, Any]) -> None:
        """A bound pod seen by the informer; confirms an assumed pod."""
        key = pod_key(pod)
        node_name = pod["spec"]["nodeName"]
        state = self._pods.get(key)
        pi = PodInfo(pod)
        if state is not None and key in self._assumed:
            self._remove_pod_from_node(key, state.node_name)
            self._assumed.discard(key)
        elif state is not None:
            raise CacheError(f"pod {key} was already in added state")
        self._add_pod_to_node(pi, node_name)
        self._pods[key] = _PodState(pi, node_name)

    def update_pod(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = pod_key(old)
        state = self._pods.get(key)
        if state is None or key in self._assumed:
            raise CacheError(f"pod {key} is not added to scheduler cache, so cannot be updated")
        self._remove_pod_from_node(key, state.node_name)
        pi = PodInfo(new)
        self._add_pod_to_node(pi, new["spec"]["nodeName"])
        self._pods[key] = _PodState(pi, new["spec"]["nodeName"])

    def remove_pod(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        state = self._pods.pop(key, None)
        if state is None:
            raise CacheError(f"pod {key} is not found in scheduler cache, so cannot be removed from it")
        self._remove_pod_from_node(key, state.node_name)
        self._assumed.discard(key)

    def is_assumed(self, pod: dict[str, Any]) -> bool:
        return pod_key(pod) in self._assumed

    def get_pod(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        state = self._pods.get(pod_key(pod))
        return None if state is None else state.info.pod

    # -- introspection ----------------------------------------------------------------------
    def node_count(self) -> int:
        return len(self._present)

    def pod_count(self) -> int:
        return len(self._pods)

    def assumed_count(self) -> int:
        return len(self._assumed)

    def node_info(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name) if name in self._present else None

    # -- snapshot -------------------------------------------------------------------------
    def update_snapshot(self, snap: Snapshot) -> None:
        """Bring ``snap`` up to date, cloning only NodeInfos changed since its generation.

        Existing snapshot NodeInfo objects are updated in place, so lists stay valid.
        """
        rebuild = snap.tree_generation != self._tree_generation
        affinity_changed = False
        updated: list[str] = []
        for name in reversed(self._recent):
            ni = self._nodes[name]
            if ni.generation <= snap.generation:
                break
            if name not in self._present:
                continue
            updated.append(name)
            existing = snap.node_info_map.get(name)
            clone = ni.clone()
            if existing is None:
                snap.node_info_map[name] = clone
                rebuild = True
                continue
            if (bool(existing.pods_with_affinity) != bool(clone.pods_with_affinity)
                    or bool(existing.pods_with_required_anti_affinity)
                    != bool(clone.pods_with_required_anti_affinity)):
                affinity_changed = True
            existing.__dict__.update(clone.__dict__)
        if len(snap.node_info_map) != len(self._present):
            for name in [n for n in snap.node_info_map if n not in self._present]:
                del snap.node_info_map[name]
            rebuild = True
        if rebuild:
            snap.node_info_list = [snap.node_info_map[n] for n in self._tree.list()]
            snap.tree_generation = self._tree_generation
        if rebuild or len(snap.changed) > CHANGE_LOG_LIMIT:
            snap.changes_epoch += 1
            snap.changed.clear()
        else:
            snap.changed.extend(updated)
        if rebuild or affinity_changed:
            snap.have_pods_with_affinity = [n for n in snap.node_info_list if n.pods_with_affinity]
            snap.have_pods_with_required_anti_affinity = [
                n for n in snap.node_info_list if n.pods_with_required_anti_affinity]
        snap.generation = self._generation
