"""kube-scheduler minus its I/O (pkg/scheduler/scheduler.go, eventhandlers.go and
schedule_one.go): profiles (one Framework per schedulerName), the cache and its per-cycle
Snapshot, the queue, the informer event handlers, the scheduling cycle
(``schedule_next``) and the steps of the binding cycle (``bind``, ``finish_binding``).

Everything is synchronous; the actor performs what the outcomes ask for (POST the
Binding, patch the pod's PodScheduled condition and nominatedNodeName, delete preemption
victims, record events) and reports the results back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.scheduler.cache import Cache
from kubesim.components.scheduler.framework import CycleClock, Framework
from kubesim.components.scheduler.interfaces import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_DELETE,
    ActionType,
    ClusterEvent,
    CycleState,
    NodeToStatus,
    pod_update_event,
)
from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.nodeinfo import pod_key
from kubesim.components.scheduler.plugins.basic import BINDING_KEY
from kubesim.components.scheduler.profile import DEFAULT_SCHEDULER_NAME, Profile
from kubesim.components.scheduler.queue import (
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    QueuedPodInfo,
    SchedulingQueue,
)
from kubesim.components.scheduler.registry import Registry, in_tree_registry
from kubesim.components.scheduler.schedule_one import (
    Diagnosis,
    FitError,
    NoNodesAvailable,
    ScheduleResult,
    SchedulingAlgorithm,
)
from kubesim.components.scheduler.snapshot import ClusterObjects, Snapshot
from kubesim.components.scheduler.status import Code, Status

#: v1.PodReasonUnschedulable and v1.PodReasonSchedulerError.
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"


@dataclass
class Failure:
    """A failed attempt and what the actor must do about it (``handleSchedulingFailure``).

    ``nominated_node``: None leaves the pod's nominatedNodeName alone, "" clears it, a
    name sets it. ``victims`` are pods preemption chose to delete; ``clear_nominations``
    lower-priority pods whose nomination to that node must be cleared. ``queue`` is where
    the pod went ("" when it is gone or bound meanwhile).
    """

    qpi: QueuedPodInfo
    message: str
    reason: str
    queue: str
    nominated_node: str | None = None
    victims: list[dict[str, Any]] = field(default_factory=list)
    clear_nominations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pod(self) -> dict[str, Any]:
        return self.qpi.pi.pod


@dataclass
class Assumed:
    """The pod is assumed on ``node_name``; its binding cycle is still to run.
    ``waiting`` is set when Permit parked the pod (``framework.waiting_pods``)."""

    qpi: QueuedPodInfo
    framework: Framework
    state: CycleState
    pod: dict[str, Any]
    node_name: str
    result: ScheduleResult
    started: float
    waiting: bool = False


@dataclass
class BindOutcome:
    """After PreBind and Bind: the Binding to POST (None if a custom binder did the work),
    or the failure."""

    binding: dict[str, Any] | None = None
    failure: Failure | None = None


def scheduler_name(pod: dict[str, Any]) -> str:
    return (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME


def is_assigned(pod: dict[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def is_terminal(pod: dict[str, Any]) -> bool:
    """Succeeded or Failed: kube-scheduler's pod informer filters these out."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def node_update_event(old: dict[str, Any], new: dict[str, Any]) -> ClusterEvent | None:
    """``NodeSchedulingPropertiesChange``: the update bits of a node change (None: nothing
    the scheduler cares about changed)."""
    action = ActionType(0)
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= ActionType.UPDATE_NODE_LABEL
    if old_spec.get("taints") != new_spec.get("taints") or \
            bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        action |= ActionType.UPDATE_NODE_TAINT
    if old_status.get("conditions") != new_status.get("conditions"):
        action |= ActionType.UPDATE_NODE_CONDITION
    return ClusterEvent("Node", action, "NodeUpdate") if action else None


class Scheduler:
    """The scheduler's state and cycles for a set of profiles."""

    def __init__(
        self,
        profiles: Sequence[Profile] = (),
        registry: Registry | None = None,
        *,
        percentage_of_nodes_to_score: int | None = None,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        metrics: SchedulerMetrics | None = None,
        clock: CycleClock | None = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else SchedulerMetrics()
        self.clock = clock if clock is not None else CycleClock()
        self.registry = registry if registry is not None else in_tree_registry()
        self.cache = Cache()
        self.snapshot = Snapshot()
        self.algorithm = SchedulingAlgorithm(percentage_of_nodes_to_score)
        self.frameworks: dict[str, Framework] = {}
        for prof in profiles or (Profile(),):
            if prof.scheduler_name in self.frameworks:
                raise ValueError(f"duplicate profile with scheduler name {prof.scheduler_name!r}")
            self.frameworks[prof.scheduler_name] = Framework(
                prof, self.registry, metrics=self.metrics, clock=self.clock)
        first = next(iter(self.frameworks.values()))
        self.queue = SchedulingQueue(
            first.less, self._pre_enqueue,
            {name: fwk.events_to_register() for name, fwk in self.frameworks.items()},
            initial_backoff, max_backoff)
        for fwk in self.frameworks.values():
            fwk.nominator = self.queue

    @property
    def objects(self) -> ClusterObjects:
        return self.snapshot.objects

    def _pre_enqueue(self, pod: dict[str, Any]) -> Status:
        return self.frameworks[scheduler_name(pod)].run_pre_enqueue(pod)

    def responsible_for(self, pod: dict[str, Any]) -> bool:
        return scheduler_name(pod) in self.frameworks

    def update_pending_metric(self) -> dict[str, int]:
        counts = self.queue.pending_counts()
        self.metrics.set_pending(counts)
        return counts

    # -- informer event handlers (eventhandlers.go) ---------------------------------------
    def on_node_add(self, node: dict[str, Any], now: float) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD, None, node, now)

    def on_node_update(self, old: dict[str, Any], new: dict[str, Any], now: float) -> None:
        self.cache.update_node(new)
        event = node_update_event(old, new)
        if event is not None:
            self.queue.move_all_to_active_or_backoff(event, old, new, now)

    def on_node_delete(self, node: dict[str, Any], now: float) -> None:
        self.cache.remove_node(node["metadata"]["name"])
        self.queue.move_all_to_active_or_backoff(NODE_DELETE, node, None, now)

    def on_pod_add(self, pod: dict[str, Any], now: float) -> None:
        if is_terminal(pod):
            return
        if is_assigned(pod):
            self.cache.add_pod(pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD, None, pod, now)
        elif self.responsible_for(pod):
            self.queue.add(pod, now)

    def on_pod_update(self, old: dict[str, Any], new: dict[str, Any], now: float) -> None:
        if not is_assigned(new):
            if self.responsible_for(new) and not is_terminal(new):
                self.queue.update(old, new, now)
            elif self.responsible_for(old):
                self.queue.delete(old)
            return
        in_cache = self.cache.get_pod(new) is not None and not self.cache.is_assumed(new)
        if is_terminal(new):
            if in_cache:
                self.on_pod_delete(old, now)
            return
        if in_cache:
            self.cache.update_pod(old, new)
            self.queue.move_all_to_active_or_backoff(
                pod_update_event(old, new, "AssignedPodUpdate"), old, new, now)
            return
        # Bound since we last saw it: it leaves the queue and confirms (or enters) the cache.
        self.queue.delete(old)
        self.on_pod_add(new, now)

    def on_pod_delete(self, pod: dict[str, Any], now: float) -> None:
        if is_assigned(pod) and self.cache.get_pod(pod) is not None:
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod, None, now)
            return
        self.queue.delete(pod)
        fwk = self.frameworks.get(scheduler_name(pod))
        # A waiting pod was assumed: its room frees up once its binding cycle forgets it.
        if fwk is not None and fwk.reject_waiting_pod(pod_key(pod), "", "removed"):
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod, None, now)

    # -- scheduling cycle (schedulingCycle) -----------------------------------------------
    def schedule_next(self, now: float, rng: random.Random) -> Assumed | Failure | None:
        """Pop one pod and run its scheduling cycle; None when activeQ is empty."""
        qpi = self.queue.pop()
        if qpi is None:
            return None
        fwk = self.frameworks[scheduler_name(qpi.pi.pod)]
        start = self.clock()
        self.cache.update_snapshot(self.snapshot)
        state = CycleState()
        try:
            result = self.algorithm.schedule_pod(fwk, state, qpi.pi, self.snapshot, rng)
        except NoNodesAvailable as exc:
            return self._fail(qpi, fwk, Status.unresolvable(str(exc)), start, now, nominated_node="")
        except RuntimeError as exc:
            return self._fail(qpi, fwk, Status.error(str(exc)), start, now, nominated_node="")
        if isinstance(result, FitError):
            return self._fit_error(qpi, fwk, state, result, start, now)
        return self._assume(qpi, fwk, state, result, start, now)

    def _fit_error(self, qpi: QueuedPodInfo, fwk: Framework, state: CycleState, err: FitError,
                   start: float, now: float) -> Failure:
        """Run PostFilter (preemption) and fail the attempt with the FitError's message."""
        plugins = err.diagnosis.unschedulable_plugins
        if not fwk.has_post_filter_plugins():
            return self._fail(qpi, fwk, Status.unschedulable(err.message()), start, now, plugins)
        post, status = fwk.run_post_filter(state, qpi.pi, err.diagnosis.node_to_status)
        err.diagnosis.post_filter_msg = status.message()
        nominated = post.nominated_node_name if post is not None else None
        failure = self._fail(qpi, fwk, Status.unschedulable(err.message()), start, now, plugins,
                             nominated_node=nominated)
        if post is not None and post.nominated_node_name:
            failure.victims = self._prepare_victims(post.victims)
            failure.clear_nominations = post.clear_nominations
        return failure

    def _prepare_victims(self, victims: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``prepareCandidate``: victims waiting at Permit are rejected; the rest must be deleted."""
        to_delete = []
        for victim in victims:
            fwk = self.frameworks.get(scheduler_name(victim))
            if fwk is None or not fwk.reject_waiting_pod(pod_key(victim), "DefaultPreemption", "preempted"):
                to_delete.append(victim)
        return to_delete

    def _assume(self, qpi: QueuedPodInfo, fwk: Framework, state: CycleState,
                result: ScheduleResult, start: float, now: float) -> Assumed | Failure:
        """Assume the pod on the host, then Reserve and Permit."""
        host = result.suggested_host
        assumed = dict(qpi.pi.pod)
        assumed["spec"] = {**(assumed.get("spec") or {}), "nodeName": host}
        self.cache.assume_pod(assumed)
        s = fwk.run_reserve(state, qpi.pi, host)
        if s.is_success():
            s = fwk.run_permit(state, qpi.pi, host)
            if s.is_success() or s.is_wait():
                self.queue.delete_nomination(qpi.key)
                return Assumed(qpi, fwk, state, assumed, host, result, start, waiting=s.is_wait())
        fwk.run_unreserve(state, qpi.pi, host)
        self.cache.forget_pod(assumed)
        return self._fail(qpi, fwk, self._single_node_fit_error(qpi, host, s), start, now,
                          {s.plugin} if s.is_rejected() else set(), nominated_node="")

    @staticmethod
    def _single_node_fit_error(qpi: QueuedPodInfo, host: str, s: Status) -> Status:
        """A rejection at Reserve/Permit reads as a FitError over the one chosen node."""
        if not s.is_rejected():
            return s
        statuses = NodeToStatus()
        statuses.set(host, s)
        err = FitError(qpi.pi.pod, 1, Diagnosis(node_to_status=statuses))
        return Status(s.code, (err.message(),), s.plugin)

    def _fail(self, qpi: QueuedPodInfo, fwk: Framework, status: Status, start: float, now: float,
              plugins: set[str] = frozenset(), *, nominated_node: str | None = None) -> Failure:  # type: ignore[assignment]
        """``handleSchedulingFailure``: metrics, back to the queue, the nomination."""
        error = status.code == Code.ERROR
        self.metrics.attempt("error" if error else "unschedulable", fwk.profile_name, self.clock() - start)
        queue = self.queue.add_unschedulable_if_not_present(qpi, set() if error else set(plugins), now)
        if nominated_node:
            self.queue.add_nomination(qpi.pi, nominated_node)
        elif nominated_node == "":
            self.queue.delete_nomination(qpi.key)
        reason = REASON_SCHEDULER_ERROR if error else REASON_UNSCHEDULABLE
        return Failure(qpi, status.message(), reason, queue, nominated_node)

    # -- binding cycle (bindingCycle) -----------------------------------------------------
    def bind(self, a: Assumed, permit: Status, now: float) -> BindOutcome:
        """WaitOnPermit's outcome, then PreBind and Bind. ``permit`` is Success for a pod
        that did not wait, else the waiting pod's final status."""
        fwk, pi = a.framework, a.qpi.pi
        fwk.finish_waiting(a.qpi.key)
        if not permit.is_success():
            status = permit
            if permit.is_rejected():
                status = self._single_node_fit_error(a.qpi, a.node_name, permit)
            return BindOutcome(failure=self.binding_failed(a, status, now))
        s = fwk.run_pre_bind(a.state, pi, a.node_name)
        if s.is_success():
            s = fwk.run_bind(a.state, pi, a.node_name)
            if s.is_skip():
                s = Status.error("no bind plugin bound the pod")
        if not s.is_success():
            return BindOutcome(failure=self.binding_failed(a, s, now))
        return BindOutcome(binding=a.state.read(BINDING_KEY))

    def finish_binding(self, a: Assumed, error: str | None, now: float) -> Failure | None:
        """The Binding call returned (``error`` None on success): metrics and PostBind, or
        undo the assumption and requeue."""
        fwk, pi = a.framework, a.qpi.pi
        if error is not None:
            return self.binding_failed(a, Status.error(error), now)
        self.metrics.attempt("scheduled", fwk.profile_name, self.clock() - a.started)
        first = a.qpi.initial_attempt_timestamp
        self.metrics.pod_scheduled_sli(a.qpi.attempts, now - (first if first is not None else now))
        self.queue.done(a.qpi.key)
        fwk.run_post_bind(a.state, pi, a.node_name)
        return None

    def binding_failed(self, a: Assumed, s: Status, now: float) -> Failure:
        """``handleBindingCycleError``: Unreserve, forget the pod (an AssignedPodDelete for the
        others; after requeueing the pod itself when it was rejected), then fail."""
        fwk = a.framework
        fwk.run_unreserve(a.state, a.qpi.pi, a.node_name)
        forgotten = self.cache.is_assumed(a.pod)
        if forgotten:
            self.cache.forget_pod(a.pod)
        own_key = a.qpi.key

        def others(pod: dict[str, Any]) -> bool:
            return pod_key(pod) != own_key

        if forgotten and not s.is_rejected():
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, a.pod, None, now)
        failure = self._fail(a.qpi, fwk, s, a.started, now, {s.plugin} if s.is_rejected() else set(),
                             nominated_node="")
        if forgotten and s.is_rejected():
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, a.pod, None, now, others)
        return failure
