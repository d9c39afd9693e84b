"""The kubelet actor: one node's agent on the kubesim runtime, around the pure `SyncLoop`.

It does the kubelet's I/O through an `APIClient` (kubernetes/pkg/kubelet, v1.32):
- registers its Node (POST; on AlreadyExists it restores the default labels), retrying with
  the kubelet's 100 ms .. 7 s backoff;
- renews its Lease in kube-node-lease every nodeLeaseRenewInterval (10 s, a PUT of the
  cached Lease; a conflict or a missing Lease is fetched or created again);
- every nodeStatusUpdateFrequency (10 s) computes the node status and PATCHes
  ``nodes/status`` when it changed or nodeStatusReportFrequency (5 min) has passed;
- watches the pods bound to it (fieldSelector spec.nodeName=<node>) and its own Node
  through a shared informer factory, and feeds them to the sync loop;
- writes pod statuses as the status manager asks (GET, PATCH ``pods/status``, then DELETE
  with grace period 0 and the pod's uid as precondition once a deleted pod has finished),
  creates and deletes mirror pods, and re-reads the static pod manifests every
  fileCheckFrequency (20 s) after they change.
The sync loop's agenda needs one timer; lease renewal and node status share another.

Clients as in cmd/kubelet/app/server.go: the kube client (registration, informers, pod
status, mirror pods) is rate limited client-side by kubeAPIQPS / kubeAPIBurst (50 / 100);
the heartbeat client (Lease renewal, node status) has QPS -1, no throttling, so a kubelet
busy writing pod statuses never lets its node go NotReady.

Spawn it with ``metric_labels={"node": <name>}`` so every kubelet metric carries the node.

Node faults (what a fault executor calls; every op is a message, so they work on every
runtime, and `ask` returns once the fault is in place):
- ``{"op": "stop_kubelet"}`` stops the kubelet service (``systemctl stop kubelet``): no more
  Lease renewals, node status, watches or pod syncs, so the node controller marks the node
  NotReady after its grace period and evicts the pods after their tolerationSeconds. The
  container runtime keeps running the pods' containers.
  ``{"op": "start_kubelet"}`` starts it again with empty memory: it registers (adopting its
  Node), lists its pods, finds their sandboxes and containers in the runtime and goes on
  with them (containers that exited meanwhile are restarted per restartPolicy); pods deleted
  while it was down are killed.
- ``{"op": "network_down"}`` / ``{"op": "network_up"}`` cut the node off the control plane
  (`network.NetworkLink`): every request fails, watches end; the kubelet keeps running its
  pods (probes, restarts) and catches up through its informers once the link is back.
- A runtime-level restart of the actor (`Runtime.restart_actor`) is a node reboot: the
  runtime's state is in the actor's memory, so every pod starts again from scratch.
- ``{"op": "state"}`` answers ``{"running", "network", "registered", "pods"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.components.client.events import EventHandler
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.ratelimit import RateLimitedClient
from kubesim.components.client.store import DeletedFinalStateUnknown
from kubesim.components.kubelet import nodestatus
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.images import Registry
from kubesim.components.kubelet.metrics import KubeletMetrics
from kubesim.components.kubelet.network import NetworkLink
from kubesim.components.kubelet.status_manager import SYNC_PERIOD
from kubesim.components.kubelet.syncloop import NodeRuntime, SyncLoop
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import RuntimeErrorBase

ClientFactory = Callable[[Context], APIClient]

#: registerWithAPIServer: retry delay 100 ms, doubling, at most 7 s.
REGISTER_BACKOFF_INITIAL = 0.1
REGISTER_BACKOFF_MAX = 7.0
#: nodelease retryUpdateLease / nodeStatusUpdateRetry: attempts per period.
UPDATE_RETRIES = 5
#: one registry for every kubelet of the process (immutable, shared).
DEFAULT_REGISTRY = Registry()


class Kubelet(Actor):
    """A node's kubelet; `config` is a `KubeletConfig` or its dict form."""

    def __init__(self, config: KubeletConfig | dict[str, Any], client_factory: ClientFactory) -> None:
        self.cfg = config if isinstance(config, KubeletConfig) else KubeletConfig.from_dict(config)
        self.client_factory = client_factory
        self.node_uid = ""
        self.running = False
        self._manifests = list(self.cfg.static_pods)
        self._tasks: dict[asyncio.Task[Any], None] = {}
        self._timers: dict[str, Timer] = {}
        self._runtime: NodeRuntime | None = None  # what the node keeps while the kubelet is stopped

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        ctx = self.ctx
        self.link = NetworkLink(self.client_factory(ctx), self.cfg.node_name)
        self.heartbeat_client: APIClient = self.link
        self.client: APIClient = RateLimitedClient(
            self.link, ctx, float(self.cfg.kube_api_qps or ctx.cost.value("kubelet.kube_api_qps")),
            int(self.cfg.kube_api_burst or ctx.cost.value("kubelet.kube_api_burst")))
        self.metrics = KubeletMetrics(ctx.metrics, self.cfg.node_name)
        cfg = self.cfg
        self.lease_duration = int(cfg.node_lease_duration_seconds or ctx.cost.value("kubelet.node_lease_duration"))
        self.lease_interval = float(ctx.cost.value("kubelet.node_lease_renew_interval"))
        self.status_frequency = float(cfg.node_status_update_frequency
                                      or ctx.cost.value("kubelet.node_status_update_frequency"))
        self.report_frequency = float(cfg.node_status_report_frequency
                                      or ctx.cost.value("kubelet.node_status_report_frequency"))
        self.file_check_frequency = float(ctx.cost.value("kubelet.file_check_frequency"))
        self._start_service(None)

    def on_stop(self) -> None:
        if self.running:
            self.factory.stop()

    def _start_service(self, runtime: NodeRuntime | None) -> None:
        """The kubelet process starts: fresh memory over what the node's runtime holds."""
        ctx = self.ctx
        self.running = True
        self.registered = False
        self._lease: Obj | None = None
        self._posted: Obj | None = None
        self._last_report = -float("inf")
        self._timer_at: float | None = None
        self._syncing_status = False
        self._started_at = ctx.now()
        self.loop = SyncLoop(self.cfg, ctx.cost, ctx.random, self.metrics, DEFAULT_REGISTRY, ctx.now(), runtime,
                             boot=ctx.incarnation)
        self.factory = SharedInformerFactory(self.client, ctx)
        name = self.cfg.node_name
        self.factory.informer("pods", field_selector=f"spec.nodeName={name}").add_event_handler(
            EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.factory.informer("nodes", field_selector=f"metadata.name={name}").add_event_handler(
            EventHandler(self._node_event, lambda old, new: self._node_event(new)))
        self.factory.start()
        if self._manifests:
            self.loop.set_static_pods(self._manifests, ctx.now())
        self._after()
        self._spawn(self._register())
        if runtime is not None and runtime.pods:
            self._spawn(self._cleanup_after_sync())

    def _stop_service(self) -> None:
        """The kubelet process stops: its loops, watches and requests end with it; the node
        keeps what its container runtime holds."""
        self.running = False
        self.factory.stop()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.ctx.spawn(coro)
        self._tasks[task] = None
        task.add_done_callback(lambda t: self._tasks.pop(t, None))

    def _later(self, key: str, delay: float, fn: Callable[[], Any]) -> None:
        """A one-shot timer of the kubelet process, replacing the one under `key`."""
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> Any:
            self._timers.pop(key, None)
            return fn()

        self._timers[key] = self.ctx.call_later(delay, fire)

    async def _cleanup_after_sync(self) -> None:
        await self.factory.wait_for_cache_sync()
        self.loop.remove_orphans()

    def receive(self, sender: Address, message: Any) -> Any:
        """Static pod manifests and node faults; see the module docstring.
        ``{"op": "set_static_pods", "manifests": [...]}`` replaces the manifest set (as
        editing staticPodPath does); the kubelet notices at its next file check."""
        op = message.get("op") if isinstance(message, dict) else None
        if op == "set_static_pods":
            self._manifests = list(message.get("manifests") or [])
            if self.running and "files" not in self._timers:
                elapsed = self.ctx.now() - self._started_at
                self._later("files", self.file_check_frequency - elapsed % self.file_check_frequency,
                            self._check_files)
            return None
        if op == "stop_kubelet":
            if self.running:
                runtime = self.loop.node_runtime(self.ctx.now())
                self._stop_service()
                self._runtime = runtime
            return None
        if op == "start_kubelet":
            if not self.running:
                self._start_service(self._runtime)
                self._runtime = None
            return None
        if op == "network_down":
            for stream in self.link.cut():
                self.ctx.spawn(stream.stop())
            return None
        if op == "network_up":
            self.link.restore()
            return None
        if op == "state":
            return {"running": self.running, "network": self.link.up,
                    "registered": self.running and self.registered,
                    "pods": len(self.loop.workers if self.running else (self._runtime.pods if self._runtime else ()))}
        raise ValueError(f"kubelet {self.cfg.node_name}: unknown message {message!r}")

    def _check_files(self) -> None:
        self.loop.set_static_pods(self._manifests, self.ctx.now())
        self._after()

    # ------------------------------------------------------------------ informer events
    def _pod_added(self, pod: Obj) -> None:
        self.loop.pod_seen(pod, self.ctx.now())
        self._after()

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self.loop.pod_seen(new, self.ctx.now())
        self._after()

    def _pod_deleted(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        self.loop.pod_gone(pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod, self.ctx.now())
        self._after()

    def _node_event(self, node: Obj | DeletedFinalStateUnknown) -> None:
        if isinstance(node, dict):
            self.node_uid = (node.get("metadata") or {}).get("uid", self.node_uid)
            self.loop.node_seen(node)
            self._after()

    # ------------------------------------------------------------------ the sync loop's timer
    def _after(self) -> None:
        """After any input: re-arm the agenda timer and start the writes the loop asks for."""
        due = self.loop.next_wakeup()
        if due != self._timer_at:
            self._timer_at = due
            if due is not None:
                self._later("agenda", max(0.0, due - self.ctx.now()), self._on_timer)
            elif "agenda" in self._timers:
                self._timers.pop("agenda").cancel()
        if not self._syncing_status and self.loop.status.pending():
            self._syncing_status = True
            self._spawn(self._sync_statuses())
        if self.registered:
            for action in self.loop.mirror_actions(self.node_uid):
                self._spawn(self._mirror(action))

    def _on_timer(self) -> None:
        self._timer_at = None
        self.loop.advance(self.ctx.now())
        self._after()

    # ------------------------------------------------------------------ status manager I/O
    async def _sync_statuses(self) -> None:
        """syncBatch: write every pending status; failures retry after the 10 s period."""
        status = self.loop.status
        failed = False
        try:
            while True:
                pending = [uid for uid in status.pending()]
                if not pending or failed:
                    break
                for uid in pending:
                    if not await self._sync_pod(uid):
                        failed = True
        finally:
            self._syncing_status = False
        if failed and "statuses" not in self._timers:
            self._later("statuses", SYNC_PERIOD, self._after)

    async def _sync_pod(self, uid: str) -> bool:
        """syncPod: GET, PATCH the merged status, DELETE a finished deleted pod. False on an
        error worth retrying."""
        status = self.loop.status
        target = status.target(uid)
        if target is None:
            return True
        namespace, name, version = target
        try:
            api_pod = await self.client.get("pods", namespace, name)
        except APIError as err:
            if err.code == 404:
                status.synced(uid, version)
                return True
            return False
        except RuntimeErrorBase:
            return False
        if (api_pod.get("metadata") or {}).get("uid") != status.api_uid(uid):
            status.forget(uid)  # deleted and recreated under the same name
            return True
        body = status.prepare(uid, api_pod)
        try:
            if body is not None:
                await self.client.patch("pods", namespace, name, body, subresource="status")
            status.synced(uid, version)
            if status.can_be_deleted(uid, api_pod):
                await self.client.delete("pods", namespace, name, grace_period_seconds=0,
                                         preconditions={"uid": uid})
                status.forget(uid)
        except APIError as err:
            return err.code == 404
        except RuntimeErrorBase:
            return False
        return True

    async def _mirror(self, action: Any) -> None:
        try:
            if action.verb == "create":
                await self.client.create("pods", action.pod)
            else:
                await self.client.delete("pods", action.namespace, action.name, grace_period_seconds=0,
                                         preconditions={"uid": action.uid})
        except (APIError, RuntimeErrorBase):
            if action.verb == "create":
                uid = action.pod["metadata"]["annotations"]["kubernetes.io/config.mirror"]
                self.loop.mirror_failed(uid)

    # ------------------------------------------------------------------ node registration
    def _node_status(self, old: Obj | None) -> Obj:
        problems = []
        if self.ctx.now() < self.loop.env.relist_phase:
            problems.append(nodestatus.PLEG_NOT_HEALTHY)
        if self.loop.env.ipam is None:
            problems.append(nodestatus.NETWORK_NOT_READY)
        return nodestatus.node_status(self.cfg, self.loop.env.images.node_status_images(), problems,
                                      old, self.ctx.now(), self.ctx.incarnation)

    async def _register(self) -> None:
        """registerWithAPIServer: create the Node, or adopt the existing one."""
        delay = REGISTER_BACKOFF_INITIAL
        while not self.registered:
            status = self._node_status(None)
            try:
                created = await self.client.create("nodes", nodestatus.initial_node(self.cfg, status))
                self.node_uid = created["metadata"]["uid"]
                self._posted = status
                self.registered = True
            except APIError as err:
                if err.code == 409:
                    try:
                        existing = await self.client.get("nodes", "", self.cfg.node_name)
                        update = nodestatus.reconcile_existing(self.cfg, existing)
                        if update is not None:
                            existing = await self.client.update("nodes", update)
                        self.node_uid = existing["metadata"]["uid"]
                        self.registered = True
                    except (APIError, RuntimeErrorBase):
                        pass
            except RuntimeErrorBase:
                pass
            if not self.registered:
                await self.ctx.sleep(delay)
                delay = min(delay * 2, REGISTER_BACKOFF_MAX)
        self._last_report = self.ctx.now() if self._posted is not None else -float("inf")
        self._next_lease = self.ctx.now()
        self._next_status = self.ctx.now() + self.status_frequency
        self._heartbeat()
        self._after()

    def _heartbeat(self) -> None:
        """The lease and node status loops on one timer."""
        now = self.ctx.now()
        if now >= self._next_lease:
            self._next_lease = now + self.lease_interval
            self._spawn(self._renew_lease())
        if now >= self._next_status:
            self._next_status = now + self.status_frequency
            self._spawn(self._update_node_status())
        self._later("heartbeat", min(self._next_lease, self._next_status) - now, self._heartbeat)

    async def _renew_lease(self) -> None:
        """nodelease controller sync: PUT the cached Lease with a new renewTime."""
        for _ in range(UPDATE_RETRIES):
            now = self.ctx.now()
            try:
                if self._lease is None:
                    try:
                        self._lease = await self.heartbeat_client.get(
                            "leases.coordination.k8s.io", nodestatus.LEASE_NAMESPACE, self.cfg.node_name)
                    except APIError as err:
                        if err.code != 404:
                            raise
                        self._lease = await self.heartbeat_client.create(
                            "leases.coordination.k8s.io",
                            nodestatus.new_lease(self.cfg, self.node_uid, self.lease_duration, now))
                        return
                self._lease = await self.heartbeat_client.update(
                    "leases.coordination.k8s.io",
                    nodestatus.renewed(self._lease, self.cfg, self.node_uid, self.lease_duration, now))
                return
            except APIError as err:
                if err.code not in (404, 409):
                    return
                self._lease = None
            except RuntimeErrorBase:
                return

    async def _update_node_status(self) -> None:
        """updateNodeStatus: PATCH nodes/status when changed or the report interval passed."""
        lister = self.factory.lister("nodes", field_selector=f"metadata.name={self.cfg.node_name}")
        node = lister.get("", self.cfg.node_name)
        old = (node or {}).get("status") or self._posted or {}  # read only: the informer's copy
        status = self._node_status(old)
        now = self.ctx.now()
        if not nodestatus.status_changed(self._posted, status) and now - self._last_report < self.report_frequency:
            return
        try:
            await self.heartbeat_client.patch("nodes", "", self.cfg.node_name,
                                              nodestatus.status_patch(old, status), subresource="status")
        except (APIError, RuntimeErrorBase):
            return
        self._posted = status
        self._last_report = now


def kubelet_spec(config: KubeletConfig, client_factory: ClientFactory, *, machine: str | None = None,
                 host: str | None = None) -> ActorSpec:
    """The actor spec of `config`'s kubelet: address ``kubelet/<node>`` on the node's machine
    (default: a machine named after the node), packed with the other node agents of host
    group `host` onto one host actor, every metric labelled ``node=<node>``."""
    name = config.node_name
    return ActorSpec(Address("kubelet", name), Kubelet, machine or name,
                     kwargs={"config": config, "client_factory": client_factory},
                     host=host, metric_labels={"node": name})
