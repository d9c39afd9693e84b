"""The scheduling queue (backend/queue/scheduling_queue.go ``PriorityQueue``, v1.32 with
QueueingHints): activeQ ordered by the QueueSort plugin (priority, then timestamp),
backoffQ ordered by backoff expiry (1 s doubling per attempt up to 10 s), unschedulablePods
moved back when a cluster event one of their rejecting plugins registered for gets a
Queue hint (or after 5 minutes), gated pods held back by PreEnqueue, the events seen
while pods were in flight, and the nominator (pods nominated to nodes by preemption).

Pure: callers pass ``now``; the actor calls ``flush_backoff_completed`` every second and
``flush_unschedulable_left_over`` every 30 s, as kube-scheduler's goroutines do.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.components.scheduler.interfaces import (
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
    pod_update_event,
)
from kubesim.components.scheduler.nodeinfo import PodInfo, pod_key
from kubesim.components.scheduler.status import Status

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
DEFAULT_MAX_IN_UNSCHEDULABLE = 5 * 60.0
#: How often the actor flushes backoffQ and unschedulablePods (``wait.Until`` periods).
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
UNSCHEDULED_POD_UPDATE = "UnschedulablePodUpdate"
ACTIVE, BACKOFF, UNSCHEDULABLE, GATED, IN_FLIGHT = "active", "backoff", "unschedulable", "gated", "in-flight"

#: Per profile (schedulerName), per plugin: the events it registered, with their hints.
HintMap = Mapping[str, Mapping[str, list[ClusterEventWithHint]]]


@dataclass
class QueuedPodInfo:
    """A pod in the queue with its scheduling history (``framework.QueuedPodInfo``)."""

    pi: PodInfo
    timestamp: float
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    gating_message: str = ""
    pop_seq: int = 0

    @property
    def key(self) -> str:
        return self.pi.key

    @property
    def scheduler_name(self) -> str:
        return (self.pi.pod.get("spec") or {}).get("schedulerName") or "default-scheduler"


class _ActiveEntry:
    __slots__ = ("q", "less", "valid")

    def __init__(self, q: QueuedPodInfo, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool]) -> None:
        self.q, self.less, self.valid = q, less, True

    def __lt__(self, other: _ActiveEntry) -> bool:
        return self.less(self.q, other.q)


@dataclass
class _InFlightEvent:
    seq: int
    event: ClusterEvent
    old: Any
    new: Any


def _pod_spec_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``isPodUpdated``: anything besides status and bookkeeping metadata changed."""
    def strip(p: Mapping[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (p.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields")}
        return {"metadata": meta, "spec": p.get("spec")}
    return strip(old) != strip(new)


def _nominated_node_name(pod: Mapping[str, Any]) -> str:
    return (pod.get("status") or {}).get("nominatedNodeName") or ""


class SchedulingQueue:
    """activeQ, backoffQ, unschedulablePods, in-flight pods and nominations."""

    def __init__(
        self,
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool],
        pre_enqueue: Callable[[dict[str, Any]], Status] | None = None,
        hints: HintMap | None = None,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
    ) -> None:
        self.less = less
        self.pre_enqueue = pre_enqueue
        self.hints = hints or {}
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._active: list[_ActiveEntry] = []
        self._active_by_key: dict[str, _ActiveEntry] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_by_key: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._gone_in_flight: set[str] = set()
        self._events: list[_InFlightEvent] = []
        self._seq = itertools.count(1)
        self._nominated: dict[str, dict[str, PodInfo]] = {}
        self._nominated_node: dict[str, str] = {}

    # -- backoff --------------------------------------------------------------------------
    def backoff_duration(self, q: QueuedPodInfo) -> float:
        """``calculateBackoffDuration``: none before the first attempt, then 1 s doubled per
        further attempt, at most ``max_backoff``."""
        if q.attempts == 0:
            return 0.0
        d = self.initial_backoff
        for _ in range(1, q.attempts):
            if d > self.max_backoff - d:
                return self.max_backoff
            d += d
        return d

    def backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.timestamp + self.backoff_duration(q)

    # -- moving between queues ------------------------------------------------------------
    def _move_to_active(self, q: QueuedPodInfo, now: float) -> str:
        """``moveToActiveQ``: PreEnqueue first; a gated pod waits in unschedulablePods."""
        if self.pre_enqueue is not None:
            s = self.pre_enqueue(q.pi.pod)
            if not s.is_success():
                q.gated, q.gating_message = True, s.message()
                self._unschedulable[q.key] = q
                return GATED
        q.gated = False
        if q.initial_attempt_timestamp is None:
            q.initial_attempt_timestamp = now
        entry = _ActiveEntry(q, self.less)
        self._active_by_key[q.key] = entry
        heapq.heappush(self._active, entry)
        return ACTIVE

    def _requeue(self, q: QueuedPodInfo, now: float) -> str:
        """``requeuePodViaQueueingHint`` for a Queue hint: backoffQ while backing off, else activeQ."""
        if self.backoff_expiry(q) > now:
            self._backoff_by_key[q.key] = q
            heapq.heappush(self._backoff, (self.backoff_expiry(q), next(self._seq), q.key))
            return BACKOFF
        return self._move_to_active(q, now)

    def _where(self, key: str) -> str | None:
        if key in self._active_by_key:
            return ACTIVE
        if key in self._backoff_by_key:
            return BACKOFF
        if key in self._unschedulable:
            return UNSCHEDULABLE
        return None

    def _remove(self, key: str) -> QueuedPodInfo | None:
        entry = self._active_by_key.pop(key, None)
        if entry is not None:
            entry.valid = False
            return entry.q
        q = self._backoff_by_key.pop(key, None)
        if q is not None:
            return q
        return self._unschedulable.pop(key, None)

    def worth_requeuing(self, q: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> QueueingHint:
        """``isPodWorthRequeuing``: Queue when nothing rejected the pod (an error), for a
        wildcard event, or when a hint of a rejecting plugin registered for the event says so."""
        if not q.unschedulable_plugins or event.is_wildcard():
            return QueueingHint.QUEUE
        by_plugin = self.hints.get(q.scheduler_name, {})
        for plugin in sorted(q.unschedulable_plugins):
            for reg in by_plugin.get(plugin, ()):
                if not reg.event.matches(event):
                    continue
                if reg.hint is None:
                    return QueueingHint.QUEUE
                try:
                    if reg.hint(q.pi.pod, old, new) == QueueingHint.QUEUE:
                        return QueueingHint.QUEUE
                except Exception:  # a failing hint means "queue", as upstream
                    return QueueingHint.QUEUE
        return QueueingHint.SKIP

    # -- pods in and out ------------------------------------------------------------------
    def add(self, pod: dict[str, Any], now: float) -> str:
        """A new pending pod; returns the queue it went to ("active" or "gated")."""
        q = QueuedPodInfo(PodInfo(pod), now)
        self._update_nomination(None, q.pi)
        return self._move_to_active(q, now)

    def pop(self) -> QueuedPodInfo | None:
        """The head of activeQ (attempts incremented, now in flight), or None if empty."""
        while self._active:
            entry = heapq.heappop(self._active)
            if not entry.valid:
                continue
            q = entry.q
            del self._active_by_key[q.key]
            q.attempts += 1
            q.unschedulable_plugins = set()
            q.pop_seq = next(self._seq)
            self._in_flight[q.key] = q
            return q
        return None

    def done(self, key: str) -> None:
        """The pod's scheduling attempt is over; events recorded for it alone are dropped."""
        self._in_flight.pop(key, None)
        self._gone_in_flight.discard(key)
        if not self._in_flight:
            self._events.clear()
        else:
            oldest = min(q.pop_seq for q in self._in_flight.values())
            self._events = [e for e in self._events if e.seq > oldest]

    def add_unschedulable_if_not_present(self, q: QueuedPodInfo, unschedulable_plugins: set[str],
                                         now: float) -> str:
        """Requeue a pod whose attempt failed (``AddUnschedulableIfNotPresent``): an error
        (no rejecting plugin) or an event during the attempt worth requeuing for ->
        backoffQ/activeQ, else unschedulablePods. Returns the queue chosen ("" when the pod
        was deleted or bound while in flight: it does not come back)."""
        if q.key in self._gone_in_flight:
            self.done(q.key)
            return ""
        where = self._where(q.key)
        if where is not None:
            self.done(q.key)
            return where
        q.timestamp = now
        q.unschedulable_plugins = set(unschedulable_plugins)
        events = [e for e in self._events if e.seq > q.pop_seq]
        self.done(q.key)
        if not q.unschedulable_plugins or any(
                self.worth_requeuing(q, e.event, e.old, e.new) == QueueingHint.QUEUE for e in events):
            return self._requeue(q, now)
        self._unschedulable[q.key] = q
        return UNSCHEDULABLE

    def update(self, old: dict[str, Any], new: dict[str, Any], now: float) -> str | None:
        """An unscheduled pod changed. Returns the queue it is in afterwards (None: in flight)."""
        key = pod_key(new)
        pi = PodInfo(new)
        self._update_nomination(old, pi)
        event = pod_update_event(old, new, UNSCHEDULED_POD_UPDATE)
        if key in self._in_flight:
            self._in_flight[key].pi = pi
            self._record(event, old, new)
            return None
        entry = self._active_by_key.get(key)
        if entry is not None:
            entry.q.pi = pi
            return ACTIVE
        if key in self._backoff_by_key:
            self._backoff_by_key[key].pi = pi
            return BACKOFF
        q = self._unschedulable.get(key)
        if q is None:
            return self._move_to_active(QueuedPodInfo(pi, now), now)
        q.pi = pi
        if q.gated:
            del self._unschedulable[key]
            return self._move_to_active(q, now)
        if _pod_spec_changed(old, new) and self.worth_requeuing(q, event, old, new) == QueueingHint.QUEUE:
            del self._unschedulable[key]
            return self._requeue(q, now)
        return UNSCHEDULABLE

    def delete(self, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        self._remove(key)
        if key in self._in_flight:
            self._gone_in_flight.add(key)
        self.delete_nomination(key)

    def activate(self, keys: list[str], now: float) -> None:
        """``Activate``: move the given pods from backoffQ/unschedulablePods to activeQ."""
        for key in keys:
            q = self._backoff_by_key.get(key) or self._unschedulable.get(key)
            if q is not None and not q.gated:
                self._remove(key)
                self._move_to_active(q, now)

    # -- cluster events -------------------------------------------------------------------
    def _record(self, event: ClusterEvent, old: Any, new: Any) -> None:
        if self._in_flight:
            self._events.append(_InFlightEvent(next(self._seq), event, old, new))

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any, new: Any, now: float,
                                      pre_check: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """``MoveAllToActiveOrBackoffQueue``: unschedulable pods (never gated ones) that pass
        ``pre_check`` and get a Queue hint for the event move; returns how many moved."""
        moved = 0
        for key in list(self._unschedulable):
            q = self._unschedulable[key]
            if q.gated or (pre_check is not None and not pre_check(q.pi.pod)):
                continue
            if self.worth_requeuing(q, event, old, new) == QueueingHint.SKIP:
                continue
            del self._unschedulable[key]
            self._requeue(q, now)
            moved += 1
        self._record(event, old, new)
        return moved

    def flush_backoff_completed(self, now: float) -> int:
        """Pods whose backoff expired move to activeQ."""
        moved = 0
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            q = self._backoff_by_key.pop(key, None)
            if q is not None:
                self._move_to_active(q, now)
                moved += 1
        return moved

    def flush_unschedulable_left_over(self, now: float) -> int:
        """Pods in unschedulablePods longer than 5 minutes get another try."""
        stale = [k for k, q in self._unschedulable.items()
                 if not q.gated and now - q.timestamp > self.max_in_unschedulable]
        for key in stale:
            self._requeue(self._unschedulable.pop(key), now)
        return len(stale)

    # -- nominator ------------------------------------------------------------------------
    def _update_nomination(self, old: dict[str, Any] | None, pi: PodInfo) -> None:
        """``updateNominatedPod``: follow the pod's nominatedNodeName, but keep an in-memory
        nomination the API object does not show yet."""
        node = _nominated_node_name(pi.pod)
        if not node and (old is None or not _nominated_node_name(old)):
            node = self._nominated_node.get(pi.key, "")
        self.delete_nomination(pi.key)
        if node:
            self.add_nomination(pi, node)

    def add_nomination(self, pi: PodInfo, node_name: str) -> None:
        self.delete_nomination(pi.key)
        self._nominated.setdefault(node_name, {})[pi.key] = pi
        self._nominated_node[pi.key] = node_name

    def delete_nomination(self, key: str) -> None:
        node = self._nominated_node.pop(key, None)
        if node is not None:
            pods = self._nominated[node]
            pods.pop(key, None)
            if not pods:
                del self._nominated[node]

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._nominated.get(node_name, {}).values())

    def nominated_node(self, key: str) -> str | None:
        return self._nominated_node.get(key)

    # -- introspection --------------------------------------------------------------------
    def pending_counts(self) -> dict[str, int]:
        """Values of scheduler_pending_pods by queue label."""
        gated = sum(1 for q in self._unschedulable.values() if q.gated)
        return {ACTIVE: len(self._active_by_key), BACKOFF: len(self._backoff_by_key),
                UNSCHEDULABLE: len(self._unschedulable) - gated, GATED: gated}

    def where(self, pod: dict[str, Any]) -> str | None:
        """"active", "backoff", "unschedulable", "gated", "in-flight" or None."""
        key = pod_key(pod)
        if key in self._in_flight:
            return IN_FLIGHT
        w = self._where(key)
        if w == UNSCHEDULABLE and self._unschedulable[key].gated:
            return GATED
        return w

    def get(self, pod: dict[str, Any]) -> QueuedPodInfo | None:
        key = pod_key(pod)
        entry = self._active_by_key.get(key)
        if entry is not None:
            return entry.q
        return self._backoff_by_key.get(key) or self._unschedulable.get(key) or self._in_flight.get(key)

    def __len__(self) -> int:
        """Pending pods in every queue, in flight excluded."""
        return len(self._active_by_key) + len(self._backoff_by_key) + len(self._unschedulable)
