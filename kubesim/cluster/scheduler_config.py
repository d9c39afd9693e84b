"""The scheduler section of the cluster spec: a KubeSchedulerConfiguration
(kubescheduler.config.k8s.io/v1) reduced to what kube-scheduler instances share.

Profiles, plugin sets (enabled with weights, disabled, per extension point and
`multiPoint`) and pluginConfig are spelled as in the upstream file; the scheduler merges
them onto its default plugins at start, as kube-scheduler does. Checks across profiles
(unique names, one queueSort) are in `checks.py`, worded as
pkg/scheduler/apis/config/validation/validation.go.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from kubesim.cluster.fields import CamelModel, PositiveDuration
from kubesim.components.client.leader_election import LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD

DEFAULT_SCHEDULER_NAME = "default-scheduler"
Percentage = Annotated[int, Field(ge=0, le=100)]


class Plugin(CamelModel):
    name: Annotated[str, Field(min_length=1)]
    weight: Annotated[int, Field(ge=0)] = 0  # score plugins; 0 means the default weight, 1


class PluginSet(CamelModel):
    enabled: list[Plugin] = []
    disabled: list[Plugin] = []  # `name: '*'` disables every default plugin of the point


class Plugins(CamelModel):
    """Plugin sets by extension point (the fields of v1 `Plugins`)."""

    multi_point: PluginSet | None = None
    pre_enqueue: PluginSet | None = None
    queue_sort: PluginSet | None = None
    pre_filter: PluginSet | None = None
    filter: PluginSet | None = None
    post_filter: PluginSet | None = None
    pre_score: PluginSet | None = None
    score: PluginSet | None = None
    reserve: PluginSet | None = None
    permit: PluginSet | None = None
    pre_bind: PluginSet | None = None
    bind: PluginSet | None = None
    post_bind: PluginSet | None = None


class PluginConfig(CamelModel):
    name: Annotated[str, Field(min_length=1)]
    args: dict[str, Any] = {}


class SchedulerProfile(CamelModel):
    """One KubeSchedulerProfile: pods choose it by `spec.schedulerName`."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: Percentage | None = None
    plugins: Plugins | None = None
    plugin_config: list[PluginConfig] = []


class LeaderElection(CamelModel):
    """LeaderElectionConfiguration (component-base defaults: 15s / 10s / 2s)."""

    leader_elect: bool = True
    lease_duration: PositiveDuration = LEASE_DURATION
    renew_deadline: PositiveDuration = RENEW_DEADLINE
    retry_period: PositiveDuration = RETRY_PERIOD


class SchedulerSettings(CamelModel):
    """KubeSchedulerConfiguration (defaults of pkg/scheduler/apis/config/v1/defaults.go)."""

    profiles: Annotated[list[SchedulerProfile], Field(min_length=1)] = [SchedulerProfile()]
    parallelism: Annotated[int, Field(ge=1)] = 16
    percentage_of_nodes_to_score: Percentage | None = None  # None: adaptive (50% - nodes/125)
    pod_initial_backoff_seconds: Annotated[int, Field(ge=1)] = 1
    pod_max_backoff_seconds: Annotated[int, Field(ge=1)] = 10
    leader_election: LeaderElection = LeaderElection()
