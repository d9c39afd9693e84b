"""The kubelet's Prometheus metrics with their upstream names, help texts, labels and buckets
(kubernetes/pkg/kubelet/metrics/metrics.go, v1.32). The runtime adds the actor's own
labels (a kubelet is spawned with ``node=<name>``)."""

from __future__ import annotations

from kubesim.runtime.metrics import MetricsHandle

#: prometheus.DefBuckets
DEF_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: PodStartDuration / PodStartSLIDuration buckets
POD_START_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480,
                     600, 900, 1200, 1800, 2700, 3600)
#: RuntimeOperationsDuration: metrics.ExponentialBuckets(.005, 2.5, 14)
RUNTIME_BUCKETS = tuple(0.005 * 2.5 ** i for i in range(14))
CONTAINER_STATES = ("created", "running", "exited", "unknown")


class KubeletMetrics:
    """One kubelet's metric children."""

    def __init__(self, handle: MetricsHandle, node_name: str) -> None:
        self._pod_start = handle.histogram(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
            buckets=POD_START_BUCKETS)
        self._pod_start_sli = handle.histogram(
            "kubelet_pod_start_sli_duration_seconds",
            "Duration in seconds to start a pod, excluding time to pull images and run init "
            "containers, measured from pod creation timestamp to when all its containers are "
            "reported as started and observed via watch",
            buckets=POD_START_BUCKETS)
        self._pod_worker = handle.histogram(
            "kubelet_pod_worker_duration_seconds",
            "Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync",
            ["operation_type"], buckets=DEF_BUCKETS)
        self._runtime = handle.histogram(
            "kubelet_runtime_operations_duration_seconds",
            "Duration in seconds of runtime operations. Broken down by operation type.",
            ["operation_type"], buckets=RUNTIME_BUCKETS)
        self._runtime_total = handle.counter(
            "kubelet_runtime_operations_total",
            "Cumulative number of runtime operations by operation type.", ["operation_type"])
        self._running_pods = handle.gauge(
            "kubelet_running_pods", "Number of pods that have a running pod sandbox")
        self._running_containers = handle.gauge(
            "kubelet_running_containers", "Number of containers currently running", ["container_state"])
        self._pleg_relist = handle.histogram(
            "kubelet_pleg_relist_duration_seconds", "Duration in seconds for relisting pods in PLEG.",
            buckets=DEF_BUCKETS)
        help_text = "The node's name. The count is always 1."
        if "node" in handle.const_labels:
            handle.gauge("kubelet_node_name", help_text).set(1)
        else:
            handle.gauge("kubelet_node_name", help_text, ["node"]).labels(node_name).set(1)

    def pod_started(self, seconds: float) -> None:
        self._pod_start.observe(seconds)

    def pod_start_sli(self, seconds: float) -> None:
        self._pod_start_sli.observe(seconds)

    def pod_worker(self, operation_type: str, seconds: float) -> None:
        self._pod_worker.labels(operation_type).observe(seconds)

    def runtime_operation(self, operation_type: str, seconds: float) -> None:
        self._runtime.labels(operation_type).observe(seconds)
        self._runtime_total.labels(operation_type).inc()

    def pleg_relist(self, seconds: float) -> None:
        self._pleg_relist.observe(seconds)

    def set_running(self, pods: int, containers: dict[str, int]) -> None:
        self._running_pods.set(pods)
        for state in CONTAINER_STATES:
            self._running_containers.labels(state).set(containers.get(state, 0))
