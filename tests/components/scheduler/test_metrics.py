"""kube-scheduler's metric families as pkg/scheduler/metrics/metrics.go (v1.32) declares
them: names, types, label names and bucket boundaries, in the Prometheus exposition."""

from __future__ import annotations

import re

from kubesim.components.scheduler.metrics import SchedulerMetrics, attempts_label
from kubesim.runtime.metrics import MetricsRegistry


def exponential(start: float, factor: float, count: int) -> list[float]:
    return [start * factor**i for i in range(count)]


def test_families_labels_and_buckets_in_the_exposition():
    registry = MetricsRegistry()
    m = SchedulerMetrics(registry.handle({"instance": "s0"}))
    m.attempt("scheduled", "default-scheduler", 0.002)
    m.pod_scheduled_sli(3, 0.5)
    m.extension_point("Filter", "Success", "default-scheduler", 0.0003)
    m.victims(2)
    m.preemption_attempt()
    m.set_pending({"active": 4, "unschedulable": 1})
    text = registry.exposition().decode()

    def types() -> dict[str, str]:
        return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))

    def buckets(family: str) -> list[float]:
        les = re.findall(rf'^{family}_bucket{{(?:[^}}]*,)?le="([^"]+)"', text, re.M)
        return [float(le) for le in les if le != "+Inf"]

    def sample(line_start: str) -> str:
        return next(line for line in text.splitlines() if line.startswith(line_start))

    # (prometheus_client adds *_created gauges, which Kubernetes' registry does not have.)
    assert {k: v for k, v in types().items() if k.startswith("scheduler_") and not k.endswith("_created")} == {
        "scheduler_pending_pods": "gauge",
        "scheduler_schedule_attempts_total": "counter",
        "scheduler_scheduling_attempt_duration_seconds": "histogram",
        "scheduler_pod_scheduling_sli_duration_seconds": "histogram",
        "scheduler_framework_extension_point_duration_seconds": "histogram",
        "scheduler_preemption_victims": "histogram",
        "scheduler_preemption_attempts_total": "counter",
    }
    assert buckets("scheduler_scheduling_attempt_duration_seconds") == exponential(0.001, 2, 15)
    assert buckets("scheduler_pod_scheduling_sli_duration_seconds") == exponential(0.01, 2, 20)
    assert buckets("scheduler_framework_extension_point_duration_seconds") == exponential(0.0001, 2, 12)
    assert buckets("scheduler_preemption_victims") == exponential(1, 2, 7)
    assert sample("scheduler_schedule_attempts_total{") == (
        'scheduler_schedule_attempts_total{instance="s0",profile="default-scheduler",result="scheduled"} 1.0')
    assert 'attempts="3"' in sample("scheduler_pod_scheduling_sli_duration_seconds_count{")
    assert sample("scheduler_framework_extension_point_duration_seconds_count{") == (
        "scheduler_framework_extension_point_duration_seconds_count"
        '{extension_point="Filter",instance="s0",profile="default-scheduler",status="Success"} 1.0')
    pending = {q: float(v) for q, v in re.findall(r'^scheduler_pending_pods{instance="s0",queue="(\w+)"} (\S+)$',
                                                  text, re.M)}
    assert pending == {"active": 4.0, "backoff": 0.0, "unschedulable": 1.0, "gated": 0.0}
    assert sample("scheduler_preemption_victims_sum") == 'scheduler_preemption_victims_sum{instance="s0"} 2.0'


def test_attempts_label_caps_at_fifteen():
    assert [attempts_label(n) for n in (1, 14, 15, 40)] == ["1", "14", "15+", "15+"]
