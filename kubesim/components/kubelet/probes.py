"""Startup, readiness and liveness probes: one prober worker per container and probe, after
kubernetes/pkg/kubelet/prober/worker.go (v1.32), pure.

A worker starts when its pod is first synced and probes at that moment and every
periodSeconds after (the kubelet's ticker). Each probe looks at the container as the
status manager last reported it (`ContainerView`): nothing happens before the container
has an id, a container that is not running makes the result Failure, probes wait
initialDelaySeconds after the container started, startup probes run until the container
has started and readiness/liveness probes only after. A result changes once
successThreshold successes or failureThreshold failures in a row are seen; a liveness or
startup Failure puts the worker on hold until a new container appears. Initial results:
readiness Failure, liveness Success, startup Unknown. The kubelet also runs a readiness
probe at once when a started container is not ready yet (prober_manager.UpdatePodStatus).

What a probe answers comes from the container's `Behavior` (the kubesim.io annotations),
a function of how long the container has run. Because that function is piecewise constant,
a worker does not need to be woken at every tick: `next_due` returns the first tick at which
its result would change, and `advance` accounts for the ticks in between in one step (they
only lengthen the current run of equal results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kubesim.components.kubelet.behavior import Behavior

STARTUP = "startup"
READINESS = "readiness"
LIVENESS = "liveness"
KINDS = (STARTUP, READINESS, LIVENESS)
_SPEC_FIELD = {STARTUP: "startupProbe", READINESS: "readinessProbe", LIVENESS: "livenessProbe"}

SUCCESS = "Success"
FAILURE = "Failure"
UNKNOWN = "Unknown"
INITIAL_RESULT = {STARTUP: UNKNOWN, READINESS: FAILURE, LIVENESS: SUCCESS}


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """The timing fields of a v1.Probe (defaults as the apiserver sets them)."""

    initial_delay: int = 0
    period: float = 10.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, container: dict[str, Any], kind: str) -> ProbeSpec | None:
        probe = container.get(_SPEC_FIELD[kind])
        if not isinstance(probe, dict):
            return None
        return cls(int(probe.get("initialDelaySeconds") or 0), float(probe.get("periodSeconds") or 10),
                   int(probe.get("successThreshold") or 1), int(probe.get("failureThreshold") or 3))


@dataclass(frozen=True, slots=True)
class ContainerView:
    """A container as the status manager last reported it."""

    container_id: str
    running: bool
    started_at: float  # when running: the start of the current run
    started: bool  # status.containerStatuses[].started
    terminated: bool


class ProbeWorker:
    """One container's probe of one kind; see the module docstring."""

    __slots__ = ("kind", "spec", "behavior", "anchor", "never_restart", "view", "container_id",
                 "result", "last_result", "run", "on_hold", "stopped", "next_k")

    def __init__(self, kind: str, spec: ProbeSpec, behavior: Behavior, anchor: float,
                 never_restart: bool) -> None:
        self.kind = kind
        self.spec = spec
        self.behavior = behavior
        self.anchor = anchor
        self.never_restart = never_restart
        self.view: ContainerView | None = None
        self.container_id = ""
        self.result = ""  # "" until the first container is seen
        self.last_result = ""
        self.run = 0
        self.on_hold = False
        self.stopped = False
        self.next_k = 0  # index of the next grid tick: anchor + k * period

    # -- inputs ---------------------------------------------------------------------------
    def observe(self, view: ContainerView | None) -> bool:
        """The status manager's view of the container changed (call `advance` first).

        A new container id resets the result to the initial value and resumes probing.
        Returns whether the result changed.
        """
        self.view = view
        if view is None or not view.container_id or view.container_id == self.container_id:
            return False
        self.container_id = view.container_id
        self.on_hold = False
        old, self.result = self.result, INITIAL_RESULT[self.kind]
        return old != self.result

    def stop(self) -> None:
        self.stopped = True

    def advance(self, now: float) -> float | None:
        """Run the ticks due by `now`, stopping at the first that changes the result:
        returns that tick's time (call again to continue), or None."""
        return self._scan(now, apply=True)

    def next_due(self) -> float | None:
        """The time of the next tick that changes the result (None: no change ahead)."""
        return self._scan(math.inf, apply=False)

    def probe_now(self, now: float) -> bool:
        """A probe outside the ticker (the manual readiness trigger); returns whether the
        result changed."""
        return self._block(now, 1, apply=True) is not None if self._active_at(now) else False

    # -- internals ------------------------------------------------------------------------
    def _time(self, k: int) -> float:
        return self.anchor + k * self.spec.period

    def _first_k_from(self, t: float, strict: bool) -> int:
        """The smallest k >= 0 with tick(k) > t (strict) or >= t."""
        k = max(0, math.ceil((t - self.anchor) / self.spec.period))
        while k > 0 and (self._time(k - 1) > t or (not strict and self._time(k - 1) >= t)):
            k -= 1
        while self._time(k) < t or (strict and self._time(k) <= t):
            k += 1
        return k

    def _active_at(self, t: float) -> bool:
        """Whether a probe at `t` does anything under the current view."""
        v = self.view
        if self.stopped or v is None or not v.container_id or self.on_hold:
            return False
        if not v.running:
            return True
        if (self.kind == STARTUP) == v.started:
            return False
        return math.floor(t - v.started_at) >= self.spec.initial_delay

    def _block(self, t: float, n: int | float, apply: bool) -> float | None:
        """`n` probes from time `t` on (ticks `period` apart) with one outcome; returns the
        time of the probe that changes the result, if one does."""
        v = self.view
        assert v is not None
        if not v.running:
            changed = self.result != FAILURE
            if apply:
                self.result = FAILURE
                if v.terminated and self.never_restart:
                    self.stopped = True
            return t if changed else None
        healthy = self.behavior.healthy(self.kind, t - v.started_at)
        target = SUCCESS if healthy else FAILURE
        run = self.run if self.last_result == target else 0
        threshold = self.spec.success_threshold if healthy else self.spec.failure_threshold
        if self.result != target:
            need = max(1, threshold - run)
            if need <= n:
                at = t + (need - 1) * self.spec.period
                if apply:
                    self.last_result, self.run, self.result = target, run + need, target
                    if target == FAILURE and self.kind in (LIVENESS, STARTUP):
                        self.on_hold, self.run = True, 0
                return at
        if apply:
            self.last_result, self.run = target, run + int(min(n, 1 << 30))
        return None

    def _scan(self, until: float, apply: bool) -> float | None:
        v = self.view
        k = self.next_k
        if self.stopped or v is None or not v.container_id or self.on_hold:
            if apply:
                self.next_k = self._first_k_from(until, strict=True)
            return None
        if v.running:
            if (self.kind == STARTUP) == v.started:
                if apply:
                    self.next_k = self._first_k_from(until, strict=True)
                return None
            k = max(k, self._first_k_from(v.started_at + self.spec.initial_delay, strict=False))
            breaks = [v.started_at + b for b in self.behavior.outcome_changes(self.kind)]
        else:
            breaks = []
        saved = (self.result, self.last_result, self.run, self.on_hold, self.stopped)
        changed_at: float | None = None
        while True:
            t = self._time(k)
            if t > until:
                break
            seg_end = min((b for b in breaks if b > t), default=math.inf)
            if seg_end == math.inf and until == math.inf:
                n: int | float = math.inf
                last_k = k
            else:
                last_k = self._first_k_from(min(seg_end, until), strict=seg_end > until) - 1
                n = last_k - k + 1
            changed_at = self._block(t, n, apply=True)
            if changed_at is not None:
                k = self._first_k_from(changed_at, strict=True)
                break
            if n == math.inf or not v.running:
                k = self._first_k_from(until, strict=True) if until != math.inf else k
                break
            k = last_k + 1
        if apply:
            self.next_k = k if changed_at is not None else max(k, self._first_k_from(until, strict=True))
        else:
            self.result, self.last_result, self.run, self.on_hold, self.stopped = saved
        return changed_at
