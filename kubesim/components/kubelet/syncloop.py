"""The kubelet's pod management, pure: pod sources in, pod workers, the PLEG and the node's
runtime models driven on one agenda, status updates and mirror pods out.

After kubernetes/pkg/kubelet/kubelet.go (v1.32): HandlePodAdditions (new pods admitted in
creation order against the pods already active), HandlePodUpdates / HandlePodRemoves,
the PLEG relisting every second and waking the pods whose containers changed, and the pod
startup latency tracker (kubelet_pod_start_sli_duration_seconds: creation to all containers
started as seen on the watch, minus image pulls).

Everything that happens on the node is an entry of one agenda (`next_wakeup` / `advance`),
so the actor needs a single timer however many pods it runs. A PLEG relist in which
nothing changed has no effect and is not simulated; relists happen on the 1-second grid
whenever some container changed.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any

from kubesim.api.meta import parse_timestamp
from kubesim.components.kubelet import admission, static_pods
from kubesim.components.kubelet.backoff import Backoff
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.images import ImageService, Registry
from kubesim.components.kubelet.ipam import HostLocalIPAM
from kubesim.components.kubelet.metrics import KubeletMetrics
from kubesim.components.kubelet.nodestatus import initial_node
from kubesim.components.kubelet.podstatus import TERMINAL
from kubesim.components.kubelet.podworker import (
    FINISHED,
    SYNCING,
    TERMINATING,
    NodeEnv,
    PodRuntime,
    PodWorker,
)
from kubesim.components.kubelet.status_manager import StatusManager
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.runtime.costmodel import CostModel

Obj = dict[str, Any]

_PLEG = "~pleg"
_IMAGES = "~images"


@dataclass(slots=True)
class NodeRuntime:
    """What outlives the kubelet process on its node: the image store (and the pulls under
    way), the CNI's address reservations and every pod's sandbox and containers."""

    images: ImageService
    ipam: HostLocalIPAM | None
    pods: dict[str, PodRuntime]


@dataclass(slots=True)
class MirrorAction:
    """A mirror pod to create (`pod`) or delete (`namespace`/`name`, precondition `uid`)."""

    verb: str
    pod: Obj | None = None
    namespace: str = ""
    name: str = ""
    uid: str = ""


class SyncLoop:
    """One node's pods and runtime; see the module docstring."""

    def __init__(self, cfg: KubeletConfig, cost: CostModel, rng: random.Random,
                 metrics: KubeletMetrics, registry: Registry, now: float = 0.0,
                 runtime: NodeRuntime | None = None, boot: int = 0) -> None:
        """`runtime`: what the node's container runtime already holds (a kubelet restart);
        `boot`: how many times the node rebooted."""
        self.cfg = cfg
        self.rng = rng
        self.metrics = metrics
        if runtime is None:
            images = ImageService(registry.with_images(cfg.registry_images) if cfg.registry_images else registry,
                                  cost, rng, max_parallel=cfg.max_parallel_image_pulls)
            images.preload(cfg.preloaded_images)
            ipam = HostLocalIPAM(cfg.pod_cidr) if cfg.pod_cidr else None
        else:
            images, ipam = runtime.images, runtime.ipam
        self.status = StatusManager(cfg.epoch)
        period = cost.value("kubelet.pleg_relist_period")
        self.env = NodeEnv(cfg.node_name, cfg.node_ip, cfg.epoch, cost, rng, images, self.status,
                           metrics, Backoff(), Backoff(), period, now + rng.random() * period,
                           cost.value("kubelet.sync_frequency"), ipam, boot)
        #: pods the container runtime runs that no worker has adopted yet (kubelet restart)
        self._cri: dict[str, PodRuntime] = dict(runtime.pods) if runtime is not None else {}
        self.node: Obj | None = None  # the Node as the node informer last saw it
        #: the node and the pods admitted and not yet terminated (what admission checks against)
        self.admitted = admission.node_info(initial_node(cfg, {"capacity": dict(cfg.capacity),
                                                               "allocatable": cfg.allocatable()}), [])
        self.workers: dict[str, PodWorker] = {}
        self.api_pods: dict[str, Obj] = {}  # uid -> latest pod from the API (non-mirror)
        self.rejected: set[str] = set()
        self.static: dict[str, Obj] = {}  # static pod uid -> pod
        self.mirrors: dict[str, Obj] = {}  # static pod uid -> its mirror pod in the API
        self._mirror_requested: set[str] = set()
        self._pending_adds: list[Obj] = []
        self._dirty: dict[str, None] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._seq = 0
        self._sli: dict[str, bool] = {}  # uid -> SLI still to record
        self._schedule(_IMAGES, images.next_wakeup())

    # ------------------------------------------------------------------ sources
    def pod_seen(self, pod: Obj, now: float) -> None:
        """A pod bound to this node was added or changed in the API."""
        if static_pods.is_mirror(pod):
            self._mirror_seen(pod)
            return
        uid = pod["metadata"]["uid"]
        self.api_pods[uid] = pod
        self.status.update_pod(pod)
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod, now)
            self._touch(worker)
        elif uid not in self.rejected and all(p["metadata"]["uid"] != uid for p in self._pending_adds):
            if (pod.get("status") or {}).get("phase") not in TERMINAL:
                self._pending_adds.append(pod)
                self._schedule("~adds", now)
        else:
            self._pending_adds = [pod if p["metadata"]["uid"] == uid else p for p in self._pending_adds]
        self._observe_sli(pod, now)

    def pod_gone(self, pod: Obj, now: float) -> None:
        """A pod bound to this node was deleted from the API."""
        if static_pods.is_mirror(pod):
            static_uid = static_pods.static_uid_of_mirror(pod)
            if self.mirrors.get(static_uid, {}).get("metadata", {}).get("uid") == pod["metadata"].get("uid"):
                del self.mirrors[static_uid]
            return
        uid = pod["metadata"]["uid"]
        self.api_pods.pop(uid, None)
        self.rejected.discard(uid)
        self._sli.pop(uid, None)
        self._pending_adds = [p for p in self._pending_adds if p["metadata"]["uid"] != uid]
        worker = self.workers.get(uid)
        if worker is None:
            self.status.forget(uid)
            return
        meta = pod.get("metadata") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        worker.terminate(now, float(grace if grace is not None else
                                    worker.spec.get("terminationGracePeriodSeconds", 30)))
        self._touch(worker)

    def set_static_pods(self, manifests: list[Obj], now: float) -> None:
        """The manifest set as read at `now` (file source): new pods start, removed ones stop."""
        pods = {}
        for i, manifest in enumerate(manifests):
            name = (manifest.get("metadata") or {}).get("name", f"pod{i}")
            pod = static_pods.static_pod(manifest, self.cfg.node_name, f"/etc/kubernetes/manifests/{name}.yaml",
                                         now, self.cfg.epoch)
            pods[pod["metadata"]["uid"]] = pod
        for uid in [u for u in self.static if u not in pods]:
            gone = self.static.pop(uid)
            worker = self.workers.get(uid)
            if worker is not None:
                worker.terminate(now, float(gone["spec"].get("terminationGracePeriodSeconds", 30)))
                self._touch(worker)
        for uid, pod in pods.items():
            if uid not in self.static:
                self.static[uid] = pod
                self._pending_adds.append(pod)
                self._schedule("~adds", now)

    def node_seen(self, node: Obj) -> None:
        """The Node object from the node informer (labels and taints for admission, podCIDR)."""
        self.node = node
        self.admitted.set_node(node)
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr and self.env.ipam is None:
            self.env.ipam = HostLocalIPAM(cidr)
            for worker in self.workers.values():
                self._touch(worker)

    # ------------------------------------------------------------------ agenda
    def next_wakeup(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def advance(self, now: float) -> None:
        """Everything due by `now`, in time order."""
        while True:
            due = self.next_wakeup()
            if due is None or due > now:
                return
            t, _, key = heapq.heappop(self._heap)
            del self._due[key]
            if key == "~adds":
                self._handle_additions(t)
            elif key == _PLEG:
                self._relist(t)
            elif key == _IMAGES:
                self._pulls_done(t)
            else:
                worker = self.workers.get(key)
                if worker is not None:
                    worker.advance(t)
                    self._touch(worker)

    def _schedule(self, key: str, t: float | None) -> None:
        if t is None:
            self._due.pop(key, None)
            return
        current = self._due.get(key)
        if current == t:
            return
        self._due[key] = t
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, key))

    def _touch(self, worker: PodWorker) -> None:
        """Reschedule what `worker` may have changed: itself, the PLEG, the puller."""
        if worker.dirty_since is not None:
            self._dirty[worker.uid] = None
            pleg = self.env.relist_at_or_after(worker.dirty_since)
            current = self._due.get(_PLEG)
            self._schedule(_PLEG, pleg if current is None else min(current, pleg))
        if worker.state not in (SYNCING, TERMINATING):
            self.admitted.remove_pod(worker.uid)
            if worker.state == FINISHED and worker.uid not in self.api_pods and worker.uid not in self.static:
                self._remove(worker.uid)
                return
        self._schedule(worker.uid, worker.next_wakeup())
        self._schedule(_IMAGES, self.env.images.next_wakeup())

    def _remove(self, uid: str) -> None:
        self.admitted.remove_pod(uid)
        self.workers.pop(uid, None)
        self._dirty.pop(uid, None)
        self._schedule(uid, None)
        self.status.forget(uid)
        self.mirrors.pop(uid, None)
        self._mirror_requested.discard(uid)
        self._update_running()

    # ------------------------------------------------------------------ pods
    def _handle_additions(self, now: float) -> None:
        pending, self._pending_adds = self._pending_adds, []
        pending.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
        for pod in pending:
            uid = pod["metadata"]["uid"]
            if uid in self.workers:
                continue
            static = static_pods.CONFIG_SOURCE in (pod["metadata"].get("annotations") or {})
            if not (pod["metadata"].get("deletionTimestamp")):
                rejection = admission.admit(pod, self.admitted, static=static)
                if rejection is not None:
                    self.rejected.add(uid)
                    self.status.set_pod_status(pod, admission.rejected_status(pod, rejection), now)
                    continue
            worker = PodWorker(pod, self.env, now)
            self.workers[uid] = worker
            running = self._cri.pop(uid, None)
            if running is not None:
                worker.adopt(running)
            self.admitted.add_pod(PodInfo(pod))
            if (pod.get("status") or {}).get("phase") == "Pending" and not static:
                self._sli[uid] = True
            if pod["metadata"].get("deletionTimestamp"):
                grace = pod["metadata"].get("deletionGracePeriodSeconds")
                worker.terminate(now, float(grace if grace is not None else
                                            worker.spec.get("terminationGracePeriodSeconds", 30)))
            self._touch(worker)

    # ------------------------------------------------------------------ PLEG and images
    def _relist(self, t: float) -> None:
        self.metrics.pleg_relist(self.env.cost.sample("kubelet.pleg_relist", self.rng))
        later = {}
        for uid in list(self._dirty):
            worker = self.workers.get(uid)
            if worker is None:
                continue
            if not worker.observe(t) and worker.dirty_since is not None:
                later[uid] = None
            self._schedule(uid, worker.next_wakeup())
        self._dirty = later
        if later:
            first = min(self.workers[u].dirty_since or t for u in later)
            self._schedule(_PLEG, self.env.relist_at_or_after(first))
        self._update_running()

    def _pulls_done(self, t: float) -> None:
        for result in self.env.images.advance(t):
            worker = self.workers.get(result.waiter)
            if worker is not None:
                worker.pull_done(result.image_id, result.error, result.queued_at, result.started_at, t)
                self._touch(worker)
        self._schedule(_IMAGES, self.env.images.next_wakeup())

    def _update_running(self) -> None:
        pods = 0
        states: dict[str, int] = {}
        for worker in self.workers.values():
            if worker.seen_sandbox is not None and worker.seen_sandbox.ready:
                pods += 1
            for slot in worker.slots.values():
                if slot.seen_cur is not None:
                    states[slot.seen_cur.state] = states.get(slot.seen_cur.state, 0) + 1
        self.metrics.set_running(pods, states)

    # ------------------------------------------------------------------ mirror pods
    def _mirror_seen(self, mirror: Obj) -> None:
        static_uid = static_pods.static_uid_of_mirror(mirror)
        self._mirror_requested.discard(static_uid)
        if static_uid in self.static:
            self.mirrors[static_uid] = mirror
            self.status.set_mirror(static_uid, mirror["metadata"]["uid"])

    def mirror_actions(self, node_uid: str) -> list[MirrorAction]:
        """Mirror pods to create for running static pods, and orphans to delete."""
        actions = []
        for uid, pod in self.static.items():
            worker = self.workers.get(uid)
            if worker is None or worker.state != SYNCING or uid in self.mirrors or uid in self._mirror_requested:
                continue
            self._mirror_requested.add(uid)
            actions.append(MirrorAction("create", static_pods.mirror_pod(pod, self.cfg.node_name, node_uid)))
        for uid in [u for u in self.mirrors if u not in self.static]:
            mirror = self.mirrors.pop(uid)
            meta = mirror["metadata"]
            actions.append(MirrorAction("delete", namespace=meta.get("namespace", ""),
                                        name=meta["name"], uid=meta.get("uid", "")))
        return actions

    def mirror_failed(self, static_uid: str) -> None:
        """A mirror pod create failed: try again on the next call to `mirror_actions`."""
        self._mirror_requested.discard(static_uid)

    # ------------------------------------------------------------------ kubelet restart
    def node_runtime(self, now: float) -> NodeRuntime:
        """The kubelet process stops at `now`: what the node keeps (its pulls lose their
        waiters; pods keep their sandboxes and running containers)."""
        for uid in self.workers:
            self.env.images.cancel(uid)
        pods = dict(self._cri)
        pods.update({uid: w.runtime_state(now) for uid, w in self.workers.items() if w.sandbox is not None})
        return NodeRuntime(self.env.images, self.env.ipam, pods)

    def remove_orphans(self) -> list[str]:
        """HandlePodCleanups after a restart, once the pod sources are listed: pods the
        runtime still runs that no source has any more are killed (their IPs released).
        Returns their uids."""
        wanted = {p["metadata"]["uid"] for p in self._pending_adds} | set(self.api_pods) | set(self.static)
        orphans = sorted(uid for uid in self._cri if uid not in wanted)
        for uid in orphans:
            sandbox = self._cri.pop(uid).sandbox
            if sandbox is not None and self.env.ipam is not None:
                self.env.ipam.release(sandbox.id)
        return orphans

    # ------------------------------------------------------------------ startup SLI
    def _observe_sli(self, pod: Obj, now: float) -> None:
        """ObservedPodOnWatch: all containers running, as the watch shows the pod."""
        uid = pod["metadata"]["uid"]
        if not self._sli.get(uid):
            return
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if not statuses or not all("running" in (s.get("state") or {}) for s in statuses):
            return
        self._sli[uid] = False
        worker = self.workers.get(uid)
        created = parse_timestamp(pod["metadata"]["creationTimestamp"]) - self.cfg.epoch
        pulls = worker.pull_seconds() if worker is not None else 0.0
        self.metrics.pod_start_sli(now - created - pulls)
