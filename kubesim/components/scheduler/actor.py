"""The kube-scheduler process as a kubesim actor (cmd/kube-scheduler, pkg/scheduler/scheduler.go).

Like kube-scheduler it builds three clientsets (API calls, events, leader election), each
behind its own client-side rate limiter; lists and watches pods and nodes (and the
namespaces, services, controllers and PodDisruptionBudgets plugins read) through shared
informers; waits for the pod and node caches to sync; then runs for a Lease and, while it
leads, the scheduling loop:

- one scheduling cycle at a time (``Scheduler.schedule_next``), after which the modelled
  CPU time of the cycle passes (cost model ``scheduler.filter_per_node_seconds`` and
  ``score_per_node_seconds``);
- each assumed pod's binding cycle as its own task (Permit wait with per-plugin timers,
  PreBind, Bind = POST pods/<name>/binding, PostBind), so the next pod is scheduled
  meanwhile;
- on failure, as v1.32 does inline: delete preemption victims (DisruptionTarget first),
  clear stale nominations, patch the PodScheduled condition and nominatedNodeName, and
  record a FailedScheduling event;
- backoffQ flushed every second, unschedulablePods every 30 s.

A replica that loses its Lease stops scheduling and starts over as a fresh process would
(kube-scheduler exits), rebuilding its cache from the informers, and runs for the Lease again.

One addition to upstream: a pod whose schedulerName no profile serves is ignored by
kube-scheduler, with no event at all, so it sits Pending without a word. The leading replica
records one Warning event ``UnknownScheduler`` for such a pod, unless the name is in
``known_schedulers`` (schedulers run outside this configuration); ``known_schedulers=None``
turns this off and behaves exactly as upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubesim.api.meta import new_uid
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.components.client.events import EventHandler, Informer
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.leader_election import LeaderElector, run_leader_election
from kubesim.components.client.ratelimit import RateLimitedClient
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown
from kubesim.components.scheduler.config import SchedulerConfig
from kubesim.components.scheduler.framework import CycleClock
from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.plugins.basic import DefaultBinder
from kubesim.components.scheduler.podstatus import (
    clear_nomination_patch,
    disruption_target_patch,
    truncate_message,
    unschedulable_patch,
)
from kubesim.components.scheduler.queue import BACKOFF_FLUSH_PERIOD, UNSCHEDULABLE_FLUSH_PERIOD
from kubesim.components.scheduler.registry import Registry, in_tree_registry
from kubesim.components.scheduler.scheduler import (
    Assumed,
    Failure,
    Scheduler,
    is_assigned,
    is_terminal,
    scheduler_name,
)
from kubesim.components.scheduler.status import SUCCESS, Status
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import RuntimeErrorBase

ClientFactory = Callable[[Context], APIClient]
PODS, NODES, LEASES = "pods", "nodes", "leases.coordination.k8s.io"
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"
REASON_UNKNOWN_SCHEDULER = "UnknownScheduler"
#: What plugins read besides pods and nodes; these do not hold up the start.
OBJECT_RESOURCES = ("namespaces", "services", "replicationcontrollers", "replicasets.apps",
                    "statefulsets.apps", "poddisruptionbudgets.policy")


def _obj(item: Obj | DeletedFinalStateUnknown) -> Obj:
    return item.obj if isinstance(item, DeletedFinalStateUnknown) else item


def _ns_name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


class SchedulerActor(Actor):
    """One kube-scheduler replica.

    ``client_factory(ctx)`` gives the API client (today the in-memory fake; the apiserver's
    client once wired); ``config`` a :class:`SchedulerConfig` or a KubeSchedulerConfiguration
    dict; ``registry`` out-of-tree plugins, merged with the in-tree ones; ``epoch`` the Unix
    time sim time 0 stands for (timestamps in conditions, events and the Lease);
    ``known_schedulers`` the schedulerNames other schedulers serve (None: never report pods
    asking for an unknown scheduler, as upstream).
    """

    def __init__(self, client_factory: ClientFactory, config: SchedulerConfig | dict[str, Any] | None = None,
                 registry: Registry | None = None, epoch: float = 0.0,
                 known_schedulers: tuple[str, ...] | list[str] | None = ()) -> None:
        self.client_factory = client_factory
        self.known_schedulers = None if known_schedulers is None else frozenset(known_schedulers)
        self._reported_unknown: set[str] = set()
        self.config = config if isinstance(config, SchedulerConfig) else SchedulerConfig.from_dict(config or {})
        self.registry = in_tree_registry().merged(registry) if registry else in_tree_registry()
        self.epoch = epoch
        self.leading = False
        self.core: Scheduler | None = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._bindings: dict[str, asyncio.Task[None]] = {}
        self._timers: list[Timer] = []
        self._objects_dirty = True

    # -- start-up ---------------------------------------------------------------------------
    def on_start(self) -> None:
        ctx = self.ctx
        qps = self.config.qps if self.config.qps is not None else float(ctx.cost.value("scheduler.kube_api_qps"))
        burst = self.config.burst if self.config.burst is not None else int(ctx.cost.value("scheduler.kube_api_burst"))
        base = self.client_factory(ctx)
        self.client = RateLimitedClient(base, ctx, qps, burst)
        self.event_client = RateLimitedClient(base, ctx, qps, burst)
        self.election_client = RateLimitedClient(base, ctx, qps, burst)
        self.metrics = SchedulerMetrics(ctx.metrics)
        self.clock = CycleClock(ctx.now, float(ctx.cost.value("scheduler.filter_per_node_seconds")),
                                float(ctx.cost.value("scheduler.score_per_node_seconds")))
        self.identity = f"{ctx.address.name}_{new_uid(ctx.random)}"
        self.recorders = {p.scheduler_name: EventRecorder(self.event_client, ctx, p.scheduler_name, self._wall)
                          for p in self.config.profiles}
        self.core = self._new_core()
        self.informers = SharedInformerFactory(self.client, ctx)
        # kube-scheduler's pod informer leaves out terminated pods.
        self.pod_informer = self.informers.informer(PODS, field_selector=NON_TERMINAL_PODS)
        self.node_informer = self.informers.informer(NODES)
        self.pod_informer.add_event_handler(EventHandler(
            self._handler("on_pod_add"), self._handler("on_pod_update"), self._handler("on_pod_delete")))
        self.pod_informer.add_event_handler(EventHandler(
            self._report_unknown_scheduler, lambda old, new: self._report_unknown_scheduler(new),
            self._forget_unknown_scheduler))
        self.node_informer.add_event_handler(EventHandler(
            self._handler("on_node_add"), self._handler("on_node_update"), self._handler("on_node_delete")))
        self.object_informers = SharedInformerFactory(self.client, ctx)
        dirty = EventHandler(self._objects_changed, lambda old, new: self._objects_changed(new),
                             self._objects_changed)
        self.objects: dict[str, Informer] = {}
        for resource in OBJECT_RESOURCES:
            self.objects[resource] = self.object_informers.informer(resource)
            self.objects[resource].add_event_handler(dirty)
        self.informers.start()
        self.object_informers.start()
        ctx.spawn(self._run())

    def _wall(self) -> float:
        return self.epoch + self.ctx.now()

    def _new_core(self) -> Scheduler:
        cfg = self.config
        return Scheduler(cfg.profiles, self.registry,
                         percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
                         initial_backoff=cfg.pod_initial_backoff_seconds,
                         max_backoff=cfg.pod_max_backoff_seconds,
                         metrics=self.metrics, clock=self.clock)

    async def _run(self) -> None:
        await self.informers.wait_for_cache_sync()
        le = self.config.leader_election
        if not le.leader_elect:
            self._start_leading()
            return
        while True:
            elector = LeaderElector(
                self.identity, le.resource_name, le.resource_namespace,
                lease_duration=le.lease_duration, renew_deadline=le.renew_deadline,
                retry_period=le.retry_period, epoch=self.epoch,
                on_started_leading=self._start_leading, on_stopped_leading=self._stop_leading)
            await run_leader_election(self.ctx, self._get_lease, self._write_lease, elector)

    def receive(self, sender: Address, message: Any) -> Any:
        """Introspection for tests and tools: ``["status"]``."""
        if message == ["status"]:
            core = self.core
            return {"leading": self.leading, "identity": self.identity,
                    "pending": core.queue.pending_counts() if core else {},
                    "assumed": core.cache.assumed_count() if core else 0,
                    "binding": len(self._bindings)}
        raise ValueError(f"unknown message {message!r}")

    # -- leader election --------------------------------------------------------------------
    async def _get_lease(self) -> Obj | None:
        """The Lease, or None when it does not exist (or the read failed: the write that
        follows then fails too, and the attempt counts as failed)."""
        le = self.config.leader_election
        try:
            return await self.election_client.get(LEASES, le.resource_namespace, le.resource_name)
        except APIError:
            return None

    async def _write_lease(self, lease: Obj, create: bool) -> bool:
        try:
            if create:
                await self.election_client.create(LEASES, lease)
            else:
                await self.election_client.update(LEASES, lease)
        except APIError:
            return False
        return True

    def _start_leading(self) -> None:
        self.leading = True
        self._timers = [
            self.ctx.call_every(BACKOFF_FLUSH_PERIOD, self._flush_backoff),
            self.ctx.call_every(UNSCHEDULABLE_FLUSH_PERIOD, self._flush_unschedulable),
        ]
        self._loop_task = self.ctx.spawn(self._schedule_loop())
        for pod in self.pod_informer.indexer.list():
            self._report_unknown_scheduler(pod)

    def _stop_leading(self) -> None:
        """kube-scheduler exits when it loses its Lease: stop everything and come back as a
        fresh process would, with a cache rebuilt from the informers."""
        self.leading = False
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None
        for task in self._bindings.values():
            task.cancel()
        self._bindings.clear()
        self._reported_unknown.clear()
        self.core = self._new_core()
        now = self.ctx.now()
        for node in self.node_informer.indexer.list():
            self.core.on_node_add(node, now)
        for pod in self.pod_informer.indexer.list():
            self.core.on_pod_add(pod, now)
        self._objects_dirty = True

    # -- informer handlers (eventhandlers.go) -----------------------------------------------
    def _kick(self) -> None:
        self._wake.set()

    def _handler(self, method: str) -> Callable[..., None]:
        """An informer callback that feeds ``Scheduler.<method>`` and wakes the loop."""
        def handle(*objs: Obj | DeletedFinalStateUnknown) -> None:
            getattr(self._core(), method)(*(_obj(o) for o in objs), self.ctx.now())
            self._kick()
        return handle

    def _report_unknown_scheduler(self, item: Obj | DeletedFinalStateUnknown) -> None:
        """While leading: one Warning event for a pending pod no profile and no known
        scheduler serves (a kubesim addition; see the module docstring)."""
        pod = _obj(item)
        if self.known_schedulers is None or not self.leading or is_assigned(pod) or is_terminal(pod):
            return
        name = scheduler_name(pod)
        uid = (pod.get("metadata") or {}).get("uid", "")
        if self._core().responsible_for(pod) or name in self.known_schedulers or uid in self._reported_unknown:
            return
        self._reported_unknown.add(uid)
        profiles = ", ".join(p.scheduler_name for p in self.config.profiles)
        recorder = self.recorders[self.config.profiles[0].scheduler_name]
        recorder.event(pod, "Warning", REASON_UNKNOWN_SCHEDULER,
                       f'no scheduler serves schedulerName "{name}" (this kube-scheduler\'s profiles: '
                       f"{profiles}); the pod stays Pending until one does")

    def _forget_unknown_scheduler(self, item: Obj | DeletedFinalStateUnknown) -> None:
        self._reported_unknown.discard((_obj(item).get("metadata") or {}).get("uid", ""))

    def _objects_changed(self, item: Obj | DeletedFinalStateUnknown) -> None:
        self._objects_dirty = True

    def _core(self) -> Scheduler:
        assert self.core is not None, "scheduler used before on_start"
        return self.core

    def _refresh_objects(self) -> None:
        objects = self._core().objects
        objects.namespace_labels = {
            ns["metadata"]["name"]: (ns["metadata"].get("labels") or {})
            for ns in self.objects["namespaces"].indexer.list()}
        objects.services = self.objects["services"].indexer.list()
        objects.replication_controllers = self.objects["replicationcontrollers"].indexer.list()
        objects.replica_sets = self.objects["replicasets.apps"].indexer.list()
        objects.stateful_sets = self.objects["statefulsets.apps"].indexer.list()
        objects.pdbs = self.objects["poddisruptionbudgets.policy"].indexer.list()
        self._objects_dirty = False

    # -- periodic work ----------------------------------------------------------------------
    def _flush_backoff(self) -> None:
        core = self._core()
        if core.queue.flush_backoff_completed(self.ctx.now()):
            self._kick()
        core.update_pending_metric()

    def _flush_unschedulable(self) -> None:
        if self._core().queue.flush_unschedulable_left_over(self.ctx.now()):
            self._kick()

    # -- scheduling cycle -------------------------------------------------------------------
    async def _schedule_loop(self) -> None:
        """``ScheduleOne`` forever: one cycle at a time, binding cycles run beside it."""
        while True:
            core = self._core()
            if self._objects_dirty:
                self._refresh_objects()
            out = core.schedule_next(self.ctx.now(), self.ctx.random)
            if out is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self.ctx.sleep(self.clock.take())
            if isinstance(out, Failure):
                await self._handle_failure(out)
            else:
                key = out.qpi.key
                self._bindings[key] = self.ctx.spawn(self._binding_cycle(out))

    async def _handle_failure(self, f: Failure) -> None:
        """What ``handleSchedulingFailure`` (and PostFilter before it) writes to the API."""
        pod = f.pod
        now = self._wall()
        name = scheduler_name(pod)
        for victim in f.victims:
            await self._preempt(victim, pod, f.nominated_node or "", name, now)
        for other in f.clear_nominations:
            await self._patch_status(other, clear_nomination_patch())
        recorder = self.recorders.get(name)
        if recorder is not None:
            recorder.event(pod, "Warning", "FailedScheduling", truncate_message(f.message))
        if not f.queue:
            return  # deleted or bound meanwhile: nothing to tell the pod
        patch = unschedulable_patch(pod, f.reason, f.message, f.nominated_node, now)
        if patch is not None:
            await self._patch_status(pod, patch)

    async def _preempt(self, victim: Obj, preemptor: Obj, node: str, name: str, now: float) -> None:
        """``prepareCandidate`` for one victim: DisruptionTarget condition, delete, event."""
        patch = disruption_target_patch(victim, name, now)
        if patch is not None and not await self._patch_status(victim, patch):
            return
        ns, victim_name = _ns_name(victim)
        try:
            await self.client.delete(PODS, ns, victim_name,
                                     preconditions={"uid": victim["metadata"].get("uid", "")})
        except (APIError, RuntimeErrorBase):
            return
        recorder = self.recorders.get(name)
        if recorder is not None:
            recorder.event(victim, "Normal", "Preempted",
                           f"Preempted by pod {preemptor['metadata'].get('uid', '')} on node {node}")

    async def _patch_status(self, pod: Obj, patch: Obj) -> bool:
        ns, name = _ns_name(pod)
        try:
            await self.client.patch(PODS, ns, name, {"status": patch}, subresource="status")
        except (APIError, RuntimeErrorBase):
            return False
        return True

    # -- binding cycle ----------------------------------------------------------------------
    async def _binding_cycle(self, a: Assumed) -> None:
        try:
            permit = await self._wait_on_permit(a) if a.waiting else SUCCESS
            core = self._core()
            outcome = core.bind(a, permit, self.ctx.now())
            if outcome.failure is not None:
                await self._handle_failure(outcome.failure)
                return
            error: str | None = None
            if outcome.binding is not None:
                ns, name = _ns_name(a.pod)
                try:
                    await self.client.create(PODS, outcome.binding, ns, subresource="binding")
                except APIError as err:
                    error = f'running Bind plugin "{DefaultBinder.name}": {err.message}'
                except RuntimeErrorBase as err:
                    error = f'running Bind plugin "{DefaultBinder.name}": {err}'
            failure = core.finish_binding(a, error, self.ctx.now())
            if failure is not None:
                await self._handle_failure(failure)
                return
            recorder = self.recorders.get(a.framework.profile_name)
            if recorder is not None:
                ns, name = _ns_name(a.pod)
                recorder.event(a.pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {a.node_name}")
        finally:
            self._bindings.pop(a.qpi.key, None)

    async def _wait_on_permit(self, a: Assumed) -> Status:
        """``WaitOnPermit``: until every waiting plugin allows the pod, one rejects it, or a
        plugin's timeout passes."""
        wp = a.framework.get_waiting_pod(a.qpi.key)
        if wp is None:
            return SUCCESS
        if wp.result is not None:
            return wp.result
        done: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        wp.on_done = lambda s: done.done() or done.set_result(s)
        timers = [self.ctx.call_later(timeout, wp.time_out, plugin) for plugin, timeout in sorted(wp.pending.items())]
        try:
            return await done
        finally:
            for timer in timers:
                timer.cancel()
