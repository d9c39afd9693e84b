"""kube-scheduler's Prometheus metrics with the real names, help texts, labels and buckets
(pkg/scheduler/metrics/metrics.go, v1.32), created through the runtime's metrics handle.

Durations are in the scheduler's clock: on the runtimes that is modelled time (see
:class:`kubesim.components.scheduler.framework.CycleClock`), never the wall clock.
"""

from __future__ import annotations

from kubesim.runtime.metrics import MetricsHandle, MetricsRegistry


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    """``prometheus.ExponentialBuckets``."""
    return tuple(start * factor**i for i in range(count))


ATTEMPT_BUCKETS = exponential_buckets(0.001, 2, 15)
EXTENSION_POINT_BUCKETS = exponential_buckets(0.0001, 2, 12)
PREEMPTION_VICTIMS_BUCKETS = exponential_buckets(1, 2, 7)
SLI_BUCKETS = exponential_buckets(0.01, 2, 20)
PENDING_QUEUES = ("active", "backoff", "unschedulable", "gated")
#: ``getAttemptsLabel``: attempts are capped at this label value.
MAX_ATTEMPTS_LABEL = 15


def attempts_label(attempts: int) -> str:
    return f"{MAX_ATTEMPTS_LABEL}+" if attempts >= MAX_ATTEMPTS_LABEL else str(attempts)


class SchedulerMetrics:
    """The scheduler_* families of one scheduler; a private registry when no handle is given."""

    def __init__(self, handle: MetricsHandle | None = None) -> None:
        self.handle = handle if handle is not None else MetricsRegistry().handle({})
        h = self.handle
        self.pending_pods = h.gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; "
            "'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in "
            "unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the "
            "number of unschedulable pods that the scheduler never attempted to schedule because "
            "they are gated.", ["queue"])
        self.schedule_attempts = h.counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could "
            "not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"])
        self.attempt_duration = h.histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"], ATTEMPT_BUCKETS)
        self.sli_duration = h.histogram(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling "
            "queue and might involve multiple scheduling attempts.", ["attempts"], SLI_BUCKETS)
        self.extension_point_duration = h.histogram(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point.",
            ["extension_point", "status", "profile"], EXTENSION_POINT_BUCKETS)
        self.preemption_victims = h.histogram(
            "scheduler_preemption_victims", "Number of selected preemption victims",
            buckets=PREEMPTION_VICTIMS_BUCKETS)
        self.preemption_attempts = h.counter(
            "scheduler_preemption_attempts_total", "Total preemption attempts in the cluster till now")

    def attempt(self, result: str, profile: str, seconds: float) -> None:
        """One scheduling attempt; result is scheduled, unschedulable or error."""
        self.schedule_attempts.labels(result, profile).inc()
        self.attempt_duration.labels(result, profile).observe(seconds)

    def pod_scheduled_sli(self, attempts: int, seconds: float) -> None:
        self.sli_duration.labels(attempts_label(attempts)).observe(seconds)

    def extension_point(self, point: str, status: str, profile: str, seconds: float) -> None:
        self.extension_point_duration.labels(point, status, profile).observe(seconds)

    def preemption_attempt(self) -> None:
        self.preemption_attempts.inc()

    def victims(self, count: int) -> None:
        self.preemption_victims.observe(count)

    def set_pending(self, counts: dict[str, int]) -> None:
        for queue in PENDING_QUEUES:
            self.pending_pods.labels(queue).set(counts.get(queue, 0))
