"""kube-scheduler's configuration: the fields of a KubeSchedulerConfiguration
(kubescheduler.config.k8s.io/v1) kubesim honours, with v1.32's defaults
(pkg/scheduler/apis/config/v1/defaults.go), and ``from_dict`` to read one from YAML.

Errors name the field path as kube-scheduler's validation does (``profiles[1].schedulerName:
Duplicate value: "x"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubesim.cluster.durations import DurationError, parse_duration
from kubesim.components.scheduler.interfaces import EXTENSION_POINTS
from kubesim.components.scheduler.profile import MULTI_POINT, PluginRef, PluginSet, Profile

API_VERSION = "kubescheduler.config.k8s.io/v1"
_POINTS = (MULTI_POINT, *EXTENSION_POINTS)


class ConfigError(ValueError):
    """An invalid KubeSchedulerConfiguration; the message names the field."""


@dataclass
class LeaderElectionConfig:
    """``leaderElection``: on by default, lease 15 s, renew deadline 10 s, retry 2 s, on the
    Lease kube-system/kube-scheduler."""

    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"


@dataclass
class SchedulerConfig:
    """What a kube-scheduler process runs with. ``qps``/``burst`` of None take the cost
    model's ``scheduler.kube_api_qps`` / ``kube_api_burst`` (50 / 100)."""

    profiles: list[Profile] = field(default_factory=lambda: [Profile()])
    percentage_of_nodes_to_score: int | None = None
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    qps: float | None = None
    burst: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SchedulerConfig:
        """A KubeSchedulerConfiguration document (apiVersion/kind optional)."""
        if raw.get("apiVersion", API_VERSION) != API_VERSION:
            raise ConfigError(f'apiVersion: Unsupported value: "{raw["apiVersion"]}": '
                              f'supported values: "{API_VERSION}"')
        cfg = cls()
        profiles = raw.get("profiles")
        if profiles:
            cfg.profiles = [_profile(p, f"profiles[{i}]") for i, p in enumerate(profiles)]
        names = [p.scheduler_name for p in cfg.profiles]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(f'profiles[{i}].schedulerName: Duplicate value: "{name}"')
        pct = raw.get("percentageOfNodesToScore")
        if pct is not None:
            cfg.percentage_of_nodes_to_score = _percentage(pct, "percentageOfNodesToScore")
        cfg.pod_initial_backoff_seconds = float(raw.get("podInitialBackoffSeconds", 1))
        cfg.pod_max_backoff_seconds = float(raw.get("podMaxBackoffSeconds", 10))
        if cfg.pod_initial_backoff_seconds <= 0:
            raise ConfigError("podInitialBackoffSeconds: Invalid value: must be greater than 0")
        if cfg.pod_max_backoff_seconds < cfg.pod_initial_backoff_seconds:
            raise ConfigError("podMaxBackoffSeconds: Invalid value: must be greater than or equal "
                              "to PodInitialBackoffSeconds")
        le = raw.get("leaderElection") or {}
        cfg.leader_election = LeaderElectionConfig(
            bool(le.get("leaderElect", True)),
            _duration(le, "leaseDuration", "15s"),
            _duration(le, "renewDeadline", "10s"),
            _duration(le, "retryPeriod", "2s"),
            le.get("resourceName", "kube-scheduler"),
            le.get("resourceNamespace", "kube-system"))
        conn = raw.get("clientConnection") or {}
        cfg.qps = float(conn["qps"]) if "qps" in conn else None
        cfg.burst = int(conn["burst"]) if "burst" in conn else None
        return cfg


def _duration(raw: dict[str, Any], key: str, default: str) -> float:
    text = raw.get(key, default)
    try:
        return parse_duration(text)
    except DurationError as err:
        raise ConfigError(f'leaderElection.{key}: Invalid value: "{text}": {err}') from None


def _percentage(value: Any, path: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= 100:
        raise ConfigError(f"{path}: Invalid value: {value}: not in valid range [0-100]")
    return value


def _profile(raw: dict[str, Any], path: str) -> Profile:
    name = raw.get("schedulerName") or ""
    if not name:
        raise ConfigError(f"{path}.schedulerName: Required value")
    plugins: dict[str, PluginSet] = {}
    for point, body in (raw.get("plugins") or {}).items():
        if point not in _POINTS:
            raise ConfigError(f'{path}.plugins: Invalid value: "{point}": unknown extension point')
        plugins[point] = PluginSet(
            [PluginRef(p["name"], int(p.get("weight") or 0)) for p in (body or {}).get("enabled") or ()],
            [p["name"] for p in (body or {}).get("disabled") or ()])
    config = {}
    for i, entry in enumerate(raw.get("pluginConfig") or ()):
        if entry.get("name") in config:
            raise ConfigError(f'{path}.pluginConfig[{i}]: Duplicate value: "{entry.get("name")}"')
        config[entry.get("name")] = dict(entry.get("args") or {})
    pct = raw.get("percentageOfNodesToScore")
    return Profile(name, plugins, config,
                   _percentage(pct, f"{path}.percentageOfNodesToScore") if pct is not None else None)
