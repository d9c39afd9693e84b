"""Scheduler profiles: a schedulerName, the plugins enabled per extension point (with score
weights) and per-plugin args, merged onto the 1.32 defaults as kube-scheduler's config does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_SCHEDULER_NAME = "default-scheduler"
MULTI_POINT = "multiPoint"


@dataclass(frozen=True)
class PluginRef:
    """A plugin enabled at a point; ``weight`` matters for Score (0 means the default, 1)."""

    name: str
    weight: int = 0


@dataclass
class PluginSet:
    enabled: list[PluginRef] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


# pkg/scheduler/apis/config/v1/default_plugins.go (1.32), without the volume plugins
# (VolumeRestrictions, *Limits, VolumeBinding, VolumeZone), which kubesim does not model.
DEFAULT_MULTI_POINT: tuple[PluginRef, ...] = (
    PluginRef("SchedulingGates"),
    PluginRef("PrioritySort"),
    PluginRef("NodeUnschedulable"),
    PluginRef("NodeName"),
    PluginRef("TaintToleration", 3),
    PluginRef("NodeAffinity", 2),
    PluginRef("NodePorts"),
    PluginRef("NodeResourcesFit", 1),
    PluginRef("PodTopologySpread", 2),
    PluginRef("InterPodAffinity", 2),
    PluginRef("DefaultPreemption"),
    PluginRef("NodeResourcesBalancedAllocation", 1),
    PluginRef("ImageLocality", 1),
    PluginRef("DefaultBinder"),
)


@dataclass
class Profile:
    """One KubeSchedulerProfile. ``plugins`` is keyed by ``multiPoint`` and the extension
    point names of :data:`interfaces.EXTENSION_POINTS`; ``plugin_config`` by plugin name."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: dict[str, PluginSet] = field(default_factory=dict)
    plugin_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> Profile:
    return Profile(scheduler_name, {MULTI_POINT: PluginSet(list(DEFAULT_MULTI_POINT))})


def _merge_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """``mergePluginSet``: drop disabled defaults, re-configure in place, append the rest."""
    disabled = set(custom.disabled) | set(default.disabled)
    custom_by_name = {p.name: i for i, p in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginRef] = []
    if "*" not in disabled:
        for p in default.enabled:
            if p.name in disabled:
                continue
            if p.name in custom_by_name:
                i = custom_by_name[p.name]
                p = custom.enabled[i]
                replaced.add(i)
            enabled.append(p)
    enabled.extend(p for i, p in enumerate(custom.enabled) if i not in replaced)
    return PluginSet(enabled, list(custom.disabled) + list(default.disabled))


def with_defaults(custom: Profile) -> Profile:
    """The profile kube-scheduler runs for ``custom``: its plugin sets merged onto the defaults."""
    base = default_profile(custom.scheduler_name)
    points = set(base.plugins) | set(custom.plugins)
    merged = {
        p: _merge_set(base.plugins.get(p, PluginSet()), custom.plugins.get(p, PluginSet()))
        for p in points
    }
    return Profile(custom.scheduler_name, merged, dict(custom.plugin_config),
                   custom.percentage_of_nodes_to_score)
