"""The scheduling framework of one profile (framework/runtime/framework.go): the plugins
wired per extension point from the profile, the code that runs each extension point in
order, and the pods waiting at Permit.

Pure: no I/O, no wall clock. The :class:`CycleClock` gives the metrics modelled time: the
scheduler's clock plus the CPU time the cost model charges per node filtered and scored,
which the actor then lets pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from kubesim.components.scheduler.interfaces import (
    EXTENSION_POINTS,
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BindPlugin,
    ClusterEventWithHint,
    CycleState,
    FilterPlugin,
    Handle,
    NodeToStatus,
    PermitPlugin,
    Plugin,
    PostBindPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
)
from kubesim.components.scheduler.metrics import SchedulerMetrics
from kubesim.components.scheduler.nodeinfo import NodeInfo, PodInfo
from kubesim.components.scheduler.profile import MULTI_POINT, Profile, with_defaults
from kubesim.components.scheduler.registry import Registry, in_tree_registry
from kubesim.components.scheduler.status import SUCCESS, Code, Status

P = TypeVar("P", bound=Plugin)
#: framework/runtime: no plugin may make a pod wait at Permit longer than 15 minutes.
MAX_PERMIT_TIMEOUT = 15 * 60.0
#: cost-model defaults (profiles/default.yaml scheduler.filter_per_node_seconds / score_per_node_seconds).
FILTER_PER_NODE_SECONDS = 1.0e-6
SCORE_PER_NODE_SECONDS = 1.0e-6


class CycleClock:
    """The time the framework's metrics read: ``now()`` plus the modelled CPU time charged
    since the owner last took it (the owner then lets that much time pass)."""

    def __init__(self, now: Callable[[], float] = lambda: 0.0,
                 filter_per_node: float = FILTER_PER_NODE_SECONDS,
                 score_per_node: float = SCORE_PER_NODE_SECONDS) -> None:
        self._now = now
        self.filter_per_node = filter_per_node
        self.score_per_node = score_per_node
        self.charged = 0.0

    def __call__(self) -> float:
        return self._now() + self.charged

    def charge(self, seconds: float) -> None:
        self.charged += seconds

    def take(self) -> float:
        """The time charged so far, reset to zero."""
        charged, self.charged = self.charged, 0.0
        return charged


class Nominator(Protocol):
    """Pods nominated to nodes (the queue implements it)."""

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for the durations Permit reports ("10s", "1m30s", "500ms")."""
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:g}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


@dataclass
class WaitingPod:
    """A pod parked at Permit (``waitingPod``): plugin name -> timeout, until every plugin
    allows it, one rejects it, or a timeout passes. ``on_done`` hears the final status."""

    pi: PodInfo
    node_name: str
    pending: dict[str, float]
    on_done: Callable[[Status], None] | None = None
    result: Status | None = None

    def allow(self, plugin: str) -> None:
        """``Allow``: once the last waiting plugin allows, the pod may bind."""
        self.pending.pop(plugin, None)
        if not self.pending:
            self._finish(SUCCESS)

    def reject(self, plugin: str, message: str) -> None:
        self._finish(Status.unschedulable(message).with_plugin(plugin))

    def time_out(self, plugin: str) -> None:
        """The timer of ``plugin`` fired (a no-op once the pod was allowed or rejected)."""
        if plugin in self.pending:
            self.reject(plugin, f"rejected due to timeout after waiting "
                                f"{go_duration(self.pending[plugin])} at plugin {plugin}")

    def _finish(self, status: Status) -> None:
        if self.result is None:
            self.result = status
            if self.on_done is not None:
                self.on_done(status)


class Framework:
    """The plugins of one profile and the code that runs them at each extension point."""

    def __init__(
        self,
        profile: Profile | None = None,
        registry: Registry | None = None,
        *,
        nominator: Nominator | None = None,
        metrics: SchedulerMetrics | None = None,
        clock: CycleClock | None = None,
        merge_defaults: bool = True,
    ) -> None:
        prof = profile or Profile()
        self.profile = with_defaults(prof) if merge_defaults else prof
        self.profile_name = self.profile.scheduler_name
        self.percentage_of_nodes_to_score = self.profile.percentage_of_nodes_to_score
        self.registry = registry if registry is not None else in_tree_registry()
        self.nominator = nominator
        self.metrics = metrics if metrics is not None else SchedulerMetrics()
        self.clock = clock if clock is not None else CycleClock()
        self.handle = Handle(self)
        self.waiting_pods: dict[str, WaitingPod] = {}
        self._instances: dict[str, Plugin] = {}
        self.score_weights: dict[str, int] = {}
        self.points: dict[str, list[Plugin]] = {p: self._expand(p) for p in EXTENSION_POINTS}
        if len(self.points["queueSort"]) != 1:
            raise ValueError(f"one queue sort plugin required for profile {self.profile_name}, "
                             f"got {len(self.points['queueSort'])}")
        self.queue_sort = cast(QueueSortPlugin, self.points["queueSort"][0])
        self.pre_enqueue_plugins = cast(list[PreEnqueuePlugin], self.points["preEnqueue"])
        self.pre_filter_plugins = cast(list[PreFilterPlugin], self.points["preFilter"])
        self.filter_plugins = cast(list[FilterPlugin], self.points["filter"])
        self.post_filter_plugins = cast(list[PostFilterPlugin], self.points["postFilter"])
        self.pre_score_plugins = cast(list[PreScorePlugin], self.points["preScore"])
        self.score_plugins = cast(list[ScorePlugin], self.points["score"])
        self.reserve_plugins = cast(list[ReservePlugin], self.points["reserve"])
        self.permit_plugins = cast(list[PermitPlugin], self.points["permit"])
        self.pre_bind_plugins = cast(list[PreBindPlugin], self.points["preBind"])
        self.bind_plugins = cast(list[BindPlugin], self.points["bind"])
        self.post_bind_plugins = cast(list[PostBindPlugin], self.points["postBind"])
        if not self.points["bind"]:
            raise ValueError(f"at least one bind plugin is needed for profile {self.profile_name}")

    # -- wiring ---------------------------------------------------------------------------
    def _instance(self, name: str) -> Plugin:
        plugin = self._instances.get(name)
        if plugin is None:
            factory = self.registry.get(name)
            if factory is None:
                raise ValueError(f"{name} does not exist in the plugin registry")
            plugin = factory(self.profile.plugin_config.get(name), self.handle)
            self._instances[name] = plugin
        return plugin

    def _expand(self, point: str) -> list[Plugin]:
        """``expandMultiPointPlugins``: explicit overrides first, then multiPoint plugins, then
        the other plugins enabled at this point."""
        iface = EXTENSION_POINTS[point]
        specific = self.profile.plugins.get(point)
        specific_enabled = list(specific.enabled) if specific else []
        disabled = set(specific.disabled) if specific else set()
        multi = self.profile.plugins.get(MULTI_POINT)
        multi_enabled = [] if multi is None or "*" in disabled else [
            r for r in multi.enabled if r.name not in disabled]
        multi_names = {r.name for r in multi_enabled}
        overrides = [r for r in specific_enabled if r.name in multi_names]
        override_names = {r.name for r in overrides}
        refs = overrides + [r for r in multi_enabled if r.name not in override_names]
        refs += [r for r in specific_enabled if r.name not in multi_names]
        out: list[Plugin] = []
        for ref in refs:
            plugin = self._instance(ref.name)
            if not isinstance(plugin, iface):
                if ref.name in multi_names and ref not in overrides:
                    continue
                raise ValueError(f"plugin {ref.name} does not extend {point} plugin")
            if point == "score":
                self.score_weights[ref.name] = ref.weight or 1
            out.append(plugin)
        return out

    def has_filter_plugins(self) -> bool:
        return bool(self.points["filter"])

    def has_post_filter_plugins(self) -> bool:
        return bool(self.points["postFilter"])

    def has_score_plugins(self) -> bool:
        return bool(self.points["score"])

    def events_to_register(self) -> dict[str, list[ClusterEventWithHint]]:
        """The cluster events each plugin wants requeues for (``EnqueueExtensions``)."""
        return {name: p.events_to_register() for name, p in self._instances.items()}

    def _observe(self, point: str, status: Status, start: float) -> None:
        self.metrics.extension_point(point, str(status.code), self.profile_name, self.clock() - start)

    def _until_failure(self, point: str, plugins: Sequence[P], call: Callable[[P], Status]) -> Status:
        """Run ``call`` on each plugin of a point until one does not succeed."""
        start = self.clock()
        for pl in plugins:
            s = call(pl)
            if not s.is_success():
                s = _failed(point, pl.name, s)
                self._observe(point, s, start)
                return s
        self._observe(point, SUCCESS, start)
        return SUCCESS

    # -- queueing -------------------------------------------------------------------------
    def run_pre_enqueue(self, pod: dict[str, Any]) -> Status:
        for pl in self.pre_enqueue_plugins:
            s = pl.pre_enqueue(pod)
            if not s.is_success():
                return s.with_plugin(pl.name)
        return SUCCESS

    def less(self, a: Any, b: Any) -> bool:
        return self.queue_sort.less(a, b)

    # -- filtering ------------------------------------------------------------------------
    def run_pre_filter(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                       ) -> tuple[PreFilterResult | None, Status, set[str]]:
        """``RunPreFilterPlugins``: the merged node subset, the status, and the plugins that
        narrowed the nodes (or the one that rejected the pod)."""
        start = self.clock()
        result: PreFilterResult | None = None
        with_nodes: set[str] = set()
        status = SUCCESS
        for pl in self.pre_filter_plugins:
            r, s = pl.pre_filter(state, pi, nodes)
            if s.is_skip():
                state.skip_filter_plugins.add(pl.name)
                continue
            if not s.is_success():
                s = s.with_plugin(pl.name)
                if s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    self._observe("PreFilter", s, start)
                    return None, s, {pl.name}
                if s.code == Code.UNSCHEDULABLE:
                    # Run the remaining PreFilters: preemption needs their state (kubernetes#119770).
                    status = s
                    continue
                s = Status.error(f"running PreFilter plugin {pl.name!r}: {s.message()}").with_plugin(pl.name)
                self._observe("PreFilter", s, start)
                return None, s, {pl.name}
            if r is None or r.node_names is None:
                continue
            with_nodes.add(pl.name)
            result = (result or PreFilterResult()).merge(r)
            if result.node_names is not None and not result.node_names:
                names = sorted(with_nodes)
                msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1
                       else f"node(s) didn't satisfy plugin(s) {go_list(names)} simultaneously")
                s = Status.unresolvable(msg)
                self._observe("PreFilter", s, start)
                return result, s, with_nodes
        self._observe("PreFilter", status, start)
        if not status.is_success():
            return None, status, with_nodes | {status.plugin}
        return result, status, with_nodes

    def run_pre_filter_add_pod(self, state: CycleState, pi: PodInfo, added: PodInfo,
                               ni: NodeInfo) -> Status:
        """``RunPreFilterExtensionAddPod``: PreFilter state as if ``added`` ran on ``ni``."""
        return self._pre_filter_extension("add_pod", state, pi, added, ni)

    def run_pre_filter_remove_pod(self, state: CycleState, pi: PodInfo, removed: PodInfo,
                                  ni: NodeInfo) -> Status:
        """``RunPreFilterExtensionRemovePod``."""
        return self._pre_filter_extension("remove_pod", state, pi, removed, ni)

    def _pre_filter_extension(self, method: str, state: CycleState, pi: PodInfo, other: PodInfo,
                              ni: NodeInfo) -> Status:
        for pl in self.pre_filter_plugins:
            if pl.name in state.skip_filter_plugins:
                continue
            s = getattr(pl, method)(state, pi, other, ni)
            if not s.is_success():
                return s.with_plugin(pl.name)
        return SUCCESS

    def run_filter_plugins(self, state: CycleState, pi: PodInfo, ni: NodeInfo) -> Status:
        """``RunFilterPlugins``: the first rejection wins (with the plugin recorded)."""
        self.clock.charge(self.clock.filter_per_node)
        skip = state.skip_filter_plugins
        for pl in self.filter_plugins:
            if pl.name in skip:
                continue
            s = pl.filter(state, pi, ni)
            if not s.is_success():
                if not s.is_rejected():
                    return Status.error(f"running {pl.name!r} filter plugin: {s.message()}").with_plugin(pl.name)
                return s.with_plugin(pl.name)
        return SUCCESS

    def _add_nominated_pods(self, state: CycleState, pi: PodInfo, ni: NodeInfo
                            ) -> tuple[bool, CycleState, NodeInfo]:
        """``addGENominatedPods``: pods nominated to ``ni`` with priority >= the pod's."""
        if self.nominator is None:
            return False, state, ni
        chosen = [p for p in self.nominator.nominated_pods_for_node(ni.name)
                  if p.priority >= pi.priority and p.key != pi.key]
        if not chosen:
            return False, state, ni
        state_out, ni_out = state.clone(), ni.clone()
        for p in chosen:
            ni_out.add_pod(p)
            s = self.run_pre_filter_add_pod(state_out, pi, p, ni_out)
            if not s.is_success():
                raise RuntimeError(s.message())
        return True, state_out, ni_out

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pi: PodInfo,
                                               ni: NodeInfo) -> Status:
        """Filters run twice when higher-or-equal priority pods are nominated to the node:
        with them (so they keep their room) and without (so affinity to them is not assumed)."""
        added, state_with, ni_with = self._add_nominated_pods(state, pi, ni)
        status = self.run_filter_plugins(state_with, pi, ni_with)
        if added and status.is_success():
            status = self.run_filter_plugins(state, pi, ni)
        return status

    def run_post_filter(self, state: CycleState, pi: PodInfo, statuses: NodeToStatus
                        ) -> tuple[PostFilterResult | None, Status]:
        """``RunPostFilterPlugins``: the first success wins; rejections are collected."""
        start = self.clock()
        reasons: list[str] = []
        rejector = ""
        result: PostFilterResult | None = None
        for pl in self.post_filter_plugins:
            r, s = pl.post_filter(state, pi, statuses)
            if s.is_success() or s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                s = s.with_plugin(pl.name)
                self._observe("PostFilter", s, start)
                return r, s
            if not s.is_rejected():
                s = Status(Code.ERROR, s.reasons, pl.name)
                self._observe("PostFilter", s, start)
                return None, s
            if r is not None and r.nominated_node_name is not None:
                result = r
            reasons.extend(s.reasons)
            rejector = rejector or pl.name
        final = Status(Code.UNSCHEDULABLE, tuple(reasons), rejector)
        self._observe("PostFilter", final, start)
        return result, final

    # -- scoring --------------------------------------------------------------------------
    def run_pre_score(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        start = self.clock()
        for pl in self.pre_score_plugins:
            s = pl.pre_score(state, pi, nodes)
            if s.is_skip():
                state.skip_score_plugins.add(pl.name)
            elif not s.is_success():
                s = Status.error(f"running PreScore plugin {pl.name!r}: {s.message()}").with_plugin(pl.name)
                self._observe("PreScore", s, start)
                return s
        self._observe("PreScore", SUCCESS, start)
        return SUCCESS

    def run_score_plugins(self, state: CycleState, pi: PodInfo, nodes: Sequence[NodeInfo]
                          ) -> list[dict[str, int]]:
        """``RunScorePlugins``: per node (same order as ``nodes``) the weighted score of each
        plugin after NormalizeScore. Raises ``RuntimeError`` on a plugin error."""
        start = self.clock()
        self.clock.charge(self.clock.score_per_node * len(nodes))
        per_node: list[dict[str, int]] = [{} for _ in nodes]
        for pl in self.score_plugins:
            if pl.name in state.skip_score_plugins:
                continue
            scores = pl.score_nodes(state, pi, nodes)
            s = pl.normalize_score(state, pi, nodes, scores)
            if not s.is_success():
                raise RuntimeError(f"running Normalize on Score plugins: {s.message()}")
            weight = self.score_weights[pl.name]
            for i, sc in enumerate(scores):
                if sc > MAX_NODE_SCORE or sc < MIN_NODE_SCORE:
                    raise RuntimeError(
                        f"plugin {pl.name!r} returns an invalid score {sc}, it should in the range "
                        f"of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing")
                per_node[i][pl.name] = sc * weight
        self._observe("Score", SUCCESS, start)
        return per_node

    # -- reserve and permit ---------------------------------------------------------------
    def run_reserve(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        return self._until_failure("Reserve", self.reserve_plugins,
                                   lambda pl: pl.reserve(state, pi, node_name))

    def run_unreserve(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        """Unreserve runs in reverse order of Reserve."""
        start = self.clock()
        for pl in reversed(self.reserve_plugins):
            pl.unreserve(state, pi, node_name)
        self._observe("Unreserve", SUCCESS, start)

    def run_permit(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        """``RunPermitPlugins``: Success, a rejection, or Wait (the pod is parked in
        ``waiting_pods``; the caller arms one timer per entry of ``pending``)."""
        start = self.clock()
        waits: dict[str, float] = {}
        for pl in self.permit_plugins:
            s, timeout = pl.permit(state, pi, node_name)
            if s.is_wait():
                waits[pl.name] = min(timeout, MAX_PERMIT_TIMEOUT)
            elif not s.is_success():
                s = _failed("Permit", pl.name, s)
                self._observe("Permit", s, start)
                return s
        if waits:
            self.waiting_pods[pi.key] = WaitingPod(pi, node_name, waits)
            s = Status.wait("one or more plugins asked to wait and no plugin rejected pod")
            self._observe("Permit", s, start)
            return s
        self._observe("Permit", SUCCESS, start)
        return SUCCESS

    def get_waiting_pod(self, key: str) -> WaitingPod | None:
        """``GetWaitingPod`` by pod UID: what Permit plugins use to allow or reject others."""
        return self.waiting_pods.get(key)

    def iterate_over_waiting_pods(self) -> list[WaitingPod]:
        return list(self.waiting_pods.values())

    def reject_waiting_pod(self, key: str, plugin: str, message: str) -> bool:
        """``RejectWaitingPod``; False if no such pod waits."""
        wp = self.waiting_pods.get(key)
        if wp is None:
            return False
        wp.reject(plugin, message)
        return True

    def finish_waiting(self, key: str) -> None:
        """The binding cycle of a waiting pod is past WaitOnPermit."""
        self.waiting_pods.pop(key, None)

    # -- binding --------------------------------------------------------------------------
    def run_pre_bind(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        return self._until_failure("PreBind", self.pre_bind_plugins,
                                   lambda pl: pl.pre_bind(state, pi, node_name))

    def run_bind(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        """``RunBindPlugins``: the first bind plugin that does not Skip decides."""
        start = self.clock()
        for pl in self.bind_plugins:
            s = pl.bind(state, pi, node_name)
            if s.is_skip():
                continue
            if not s.is_success():
                s = _failed("Bind", pl.name, s)
            self._observe("Bind", s, start)
            return s
        s = Status.skip()
        self._observe("Bind", s, start)
        return s

    def run_post_bind(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        start = self.clock()
        for pl in self.post_bind_plugins:
            pl.post_bind(state, pi, node_name)
        self._observe("PostBind", SUCCESS, start)


def _failed(point: str, plugin: str, s: Status) -> Status:
    """A plugin's non-success: a rejection keeps its code, anything else becomes an Error."""
    if not s.is_rejected():
        s = Status.error(f"running {point} plugin {plugin!r}: {s.message()}")
    return s.with_plugin(plugin)


def go_list(items: Sequence[str]) -> str:
    """A Go ``%v`` of a []string: ``[A B]``."""
    return "[" + " ".join(items) + "]"
