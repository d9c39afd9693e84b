"""A Reserve plugin, registered from test code as an out-of-tree plugin, that checks every
decision of the scheduler it runs in against the plugin chain of the default profile.

At Reserve, the cycle's snapshot is still the one the pod was scheduled on. A fresh
default-profile Framework (its own plugin instances and cycle state) then works out what
the chain says for the pod there: PreFilter, the nominated node if it passes, Filter on
every node (with the nominated pods of at least the pod's priority, as the scheduler does),
and, when the cluster is small enough that every feasible node is scored, the weighted
Score sum. The chosen node must be feasible and, then, have the highest total (ties are
broken at random, so any highest node will do).

With ``track_pods`` the oracle also keeps its own record of what it reserved (and saw
unreserved) and checks that each cycle's snapshot holds exactly those pods: the cache and
its incremental snapshot against a replay. Only for runs in which no pod is deleted.
"""

from __future__ import annotations

import random
from typing import Any

from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.interfaces import CycleState, Handle, ReservePlugin
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.registry import Registry
from kubesim.components.scheduler.schedule_one import num_feasible_nodes_to_find, prioritize_nodes
from kubesim.components.scheduler.status import SUCCESS, Status

NAME = "ChainOracle"


class ChainOracle:
    """Decisions checked so far and what was wrong with them (``errors``)."""

    def __init__(self, track_pods: bool = False) -> None:
        self.track_pods = track_pods
        self.checked = 0
        self.scored = 0
        self.errors: list[str] = []
        self.reserved: dict[str, set[str]] = {}

    def registry(self) -> Registry:
        reg = Registry()
        reg.register(lambda args, handle: _OraclePlugin(args, handle, self), NAME)
        return reg

    @staticmethod
    def profile_plugins() -> dict[str, Any]:
        """The ``plugins`` of a KubeSchedulerProfile that adds the oracle at Reserve."""
        return {"reserve": {"enabled": [{"name": NAME}]}}

    def check(self, fwk: Framework, pi: PodInfo, chosen: str) -> None:
        snap = fwk.handle.snapshot
        assert snap is not None
        name = pi.name
        if self.track_pods:
            seen = {ni.name: {p.key for p in ni.pods} for ni in snap.node_info_list if ni.pods}
            want = {node: keys for node, keys in self.reserved.items() if keys}
            if seen != want:
                self.errors.append(f"{name}: snapshot pods {seen} differ from the replay {want}")
        ref = Framework(nominator=fwk.nominator)
        ref.handle.snapshot, ref.handle.rng = snap, random.Random(0)
        state = CycleState()
        pre, status, _ = ref.run_pre_filter(state, pi, snap.node_info_list)
        if not status.is_success():
            self.errors.append(f"{name} -> {chosen}: PreFilter says {status.message()}")
            return
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated and snap.get(nominated) is not None and \
                ref.run_filter_plugins_with_nominated_pods(state, pi, snap.get(nominated)).is_success():
            self.checked += 1
            if chosen != nominated:
                self.errors.append(f"{name} -> {chosen}: its nominated node {nominated} fits")
            return
        nodes = snap.node_info_list
        if pre is not None and pre.node_names is not None:
            nodes = [ni for ni in nodes if ni.name in pre.node_names]
        feasible, rejected = [], {}
        for ni in nodes:
            s = ref.run_filter_plugins_with_nominated_pods(state, pi, ni)
            if s.is_success():
                feasible.append(ni)
            else:
                rejected[ni.name] = s.message()
        self.checked += 1
        if chosen not in {ni.name for ni in feasible}:
            self.errors.append(f"{name} -> {chosen}: Filter says {rejected.get(chosen, 'not a candidate')}")
            return
        if len(feasible) == 1 or num_feasible_nodes_to_find(fwk.percentage_of_nodes_to_score, len(nodes)) < len(nodes):
            return  # one choice, or only a share of the nodes would have been scored
        totals = {ns.name: ns.total for ns in prioritize_nodes(ref, state, pi, feasible)}
        self.scored += 1
        best = max(totals.values())
        if totals[chosen] != best:
            top = sorted(n for n, t in totals.items() if t == best)
            self.errors.append(f"{name} -> {chosen} scores {totals[chosen]}, but {top} score {best}")

    def on_reserve(self, pi: PodInfo, node: str) -> None:
        self.reserved.setdefault(node, set()).add(pi.key)

    def on_unreserve(self, pi: PodInfo, node: str) -> None:
        self.reserved.get(node, set()).discard(pi.key)


class _OraclePlugin(ReservePlugin):
    name = NAME

    def __init__(self, args: dict[str, Any] | None, handle: Handle, oracle: ChainOracle) -> None:
        super().__init__(args, handle)
        self.oracle = oracle

    def reserve(self, state: CycleState, pi: PodInfo, node_name: str) -> Status:
        self.oracle.check(self.handle.framework, pi, node_name)
        self.oracle.on_reserve(pi, node_name)
        return SUCCESS

    def unreserve(self, state: CycleState, pi: PodInfo, node_name: str) -> None:
        self.oracle.on_unreserve(pi, node_name)
