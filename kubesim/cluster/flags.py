"""The flag sections of the cluster spec: etcd, kube-apiserver, kube-controller-manager.

Keys are the components' own command-line flags, as kubeadm passes them through
`ClusterConfiguration.{etcd.local,apiServer,controllerManager}.extraArgs`. A flag left
unset (None) takes the value the cost-model profile holds for it
(`kubesim/runtime/profiles/default.yaml`, each with its upstream source), so one default
has one home; flags the profile does not hold carry their upstream default here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from kubesim.cluster.fields import FlagModel, PositiveDuration
from kubesim.components.client.leader_election import LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class EtcdFlags(FlagModel):
    """etcd 3.4 flags (`etcd --help`) every member runs with. Times are milliseconds, as
    etcd takes them; unset: the profile's `etcd.*` value (etcd's default)."""

    heartbeat_interval: PositiveInt | None = None  # --heartbeat-interval, ms (100)
    election_timeout: PositiveInt | None = None  # --election-timeout, ms (1000)
    snapshot_count: PositiveInt | None = None  # --snapshot-count (100000 in 3.4)
    quota_backend_bytes: PositiveInt | None = None  # --quota-backend-bytes (2 GiB)
    max_request_bytes: PositiveInt | None = None  # --max-request-bytes (1.5 MiB)
    max_txn_ops: PositiveInt | None = None  # --max-txn-ops (128)

    def member_settings(self) -> dict[str, Any]:
        """The flags set here as `EtcdSettings` overrides (seconds where etcd takes ms)."""
        out: dict[str, Any] = {}
        if self.heartbeat_interval is not None:
            out["heartbeat_interval"] = self.heartbeat_interval / 1000.0
        if self.election_timeout is not None:
            out["election_timeout"] = self.election_timeout / 1000.0
        if self.snapshot_count is not None:
            out["snapshot_count"] = self.snapshot_count
        if self.quota_backend_bytes is not None:
            out["quota_bytes"] = self.quota_backend_bytes
        if self.max_request_bytes is not None:
            out["max_request_bytes"] = self.max_request_bytes
        if self.max_txn_ops is not None:
            out["max_txn_ops"] = self.max_txn_ops
        return out


class ApiserverFlags(FlagModel):
    """kube-apiserver flags (kube-apiserver reference, v1.32). Unset: the profile's
    `apiserver.*` value."""

    max_requests_inflight: NonNegativeInt | None = None  # (400)
    max_mutating_requests_inflight: NonNegativeInt | None = None  # (200)
    enable_priority_and_fairness: bool = True  # default true since v1.20
    watch_cache: bool = True  # --watch-cache, default true
    default_watch_cache_size: NonNegativeInt | None = None  # (100)
    watch_cache_sizes: list[str] = []  # --watch-cache-sizes: resource[.group]#size
    request_timeout: PositiveDuration | None = None  # (1m0s)
    min_request_timeout: PositiveInt | None = None  # seconds (1800)

    @field_validator("watch_cache_sizes")
    @classmethod
    def _watch_cache_sizes(cls, entries: list[str]) -> list[str]:
        """`ParseWatchCacheSizes` (k8s.io/apiserver/pkg/server/options/etcd.go)."""
        for entry in entries:
            resource, sep, size = entry.partition("#")
            if not sep or "#" in size or not resource:
                raise _flag_error(f"invalid value of watch cache size: {entry}")
            try:
                value = int(size)
            except ValueError:
                raise _flag_error(f"invalid size of watch cache size: {entry}") from None
            if value < 0:
                raise _flag_error(f"watch cache size cannot be negative: {entry}")
        return entries

    def watch_cache_size_by_resource(self) -> dict[str, int]:
        """--watch-cache-sizes as `{"pods": 1000, "deployments.apps": 0}`."""
        out: dict[str, int] = {}
        for entry in self.watch_cache_sizes:
            resource, _, size = entry.partition("#")
            out[resource] = int(size)
        return out


# kube-controller-manager --concurrent-*-syncs defaults: the SetDefaults_* functions of
# pkg/controller/*/config/v1alpha1/defaults.go (kube-controller-manager reference, v1.32).
class ControllerManagerFlags(FlagModel):
    """kube-controller-manager flags. Unset: the profile's `controller_manager.*` value."""

    node_monitor_period: PositiveDuration | None = None  # (5s)
    node_monitor_grace_period: PositiveDuration | None = None  # (50s since v1.32, 40s before)
    node_eviction_rate: Annotated[float, Field(ge=0)] = 0.1  # nodes/s per healthy zone
    secondary_node_eviction_rate: Annotated[float, Field(ge=0)] = 0.01  # nodes/s per unhealthy zone
    unhealthy_zone_threshold: Annotated[float, Field(gt=0, le=1)] = 0.55
    large_cluster_size_threshold: NonNegativeInt = 50
    pod_eviction_timeout: Any = None  # removed upstream; rejected below
    concurrent_deployment_syncs: PositiveInt = 5
    concurrent_replicaset_syncs: PositiveInt = 5
    concurrent_statefulset_syncs: PositiveInt = 5
    concurrent_daemonset_syncs: PositiveInt = 2
    concurrent_job_syncs: PositiveInt = 5
    concurrent_cron_job_syncs: PositiveInt = 5
    concurrent_endpoint_syncs: PositiveInt = 5
    concurrent_service_endpoint_syncs: PositiveInt = 5  # the EndpointSlice controller
    concurrent_service_syncs: PositiveInt = 1
    concurrent_namespace_syncs: PositiveInt = 10
    concurrent_gc_syncs: PositiveInt = 20
    concurrent_resource_quota_syncs: PositiveInt = 5
    kube_api_qps: Annotated[float, Field(gt=0)] | None = None  # (20)
    kube_api_burst: PositiveInt | None = None  # (30)
    leader_elect: bool = True  # kubeadm's static pod sets --leader-elect=true
    leader_elect_lease_duration: PositiveDuration = LEASE_DURATION  # component-base default 15s
    leader_elect_renew_deadline: PositiveDuration = RENEW_DEADLINE  # 10s
    leader_elect_retry_period: PositiveDuration = RETRY_PERIOD  # 2s

    @field_validator("pod_eviction_timeout")
    @classmethod
    def _removed(cls, value: Any) -> Any:
        raise _flag_error(
            "removed in Kubernetes v1.27 (deprecated in v1.26, kubernetes/kubernetes#113710): "
            "pods on a not-ready or unreachable node are evicted by taint-based eviction once "
            "their NoExecute tolerationSeconds run out (300 s by default, the apiserver's "
            "--default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds)"
        )


def _flag_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("flag", "{message}", {"message": message})
