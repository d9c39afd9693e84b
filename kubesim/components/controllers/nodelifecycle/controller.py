"""The node lifecycle controller (pkg/controller/nodelifecycle/node_lifecycle_controller.go, v1.32).

Every `--node-monitor-period` (5 s) it checks each node's health (`health.py`): a node
whose Lease and Ready heartbeat stopped for 40 s gets Ready=Unknown, its pods are marked
not Ready (reason NodeNotReady events), and the next pass queues it for the NoExecute taint
`node.kubernetes.io/unreachable` (Ready=Unknown) or `node.kubernetes.io/not-ready`
(Ready=False). Taints are applied every 100 ms through the zone's rate-limited queue
(`zones.py`), so a zone losing many nodes at once is tainted slowly or not at all; the
taint-eviction controller then deletes the pods that do not tolerate the taint in time.
A node Ready again loses both taints. Independently, NoSchedule taints mirror the node's
conditions (TaintNodesByCondition): not-ready, unreachable, memory-pressure,
disk-pressure, pid-pressure, network-unavailable and unschedulable.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import Obj, pod_node_name_index
from kubesim.components.controllers.base import Controller, ControllerContext, object_key
from kubesim.components.controllers.indexes import NODE_NAME
from kubesim.components.controllers.nodelifecycle import health as nodehealth
from kubesim.components.controllers.nodelifecycle import zones
from kubesim.runtime.context import Timer

NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASES = "leases.coordination.k8s.io"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
#: scheduler.NodeEvictionPeriod: how often the tainting queues are worked.
NODE_EVICTION_PERIOD = 0.1
#: EvictionRateLimiterBurst.
EVICTION_BURST = 1
#: conditions that become NoSchedule taints (nodeConditionToTaintKeyStatusMap).
CONDITION_TAINTS = (
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
)
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINT_KEYS = frozenset([key for _, _, key in CONDITION_TAINTS] + [UNSCHEDULABLE])


@dataclass(frozen=True)
class NodeLifecycleOptions:
    """The node lifecycle controller's flags, with kube-controller-manager's defaults."""

    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55


def taints_of(node: Obj) -> list[Obj]:
    return list((node.get("spec") or {}).get("taints") or [])


def has_taint(node: Obj, key: str, effect: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == effect for t in taints_of(node))


class NodeLifecycleController(Controller):
    """The NoSchedule taint queue (`node_lifecycle_controller`) plus the monitor loops."""

    name = "node_lifecycle_controller"

    def __init__(self, cc: ControllerContext, options: NodeLifecycleOptions, workers: int = 8) -> None:
        super().__init__(cc, workers)
        self.options = options
        self.rates = zones.EvictionRates(options.node_eviction_rate, options.secondary_node_eviction_rate,
                                         options.large_cluster_size_threshold)
        self.recorder = EventRecorder(cc.client, cc.ctx, "node-controller", cc.now)
        self.node_informer = cc.informers.informer("nodes")
        self.lease_informer = cc.informers.informer(LEASES)
        self.pod_informer = cc.informers.informer("pods", indexers={NODE_NAME: pod_node_name_index})
        self.node_informer.add_event_handler(EventHandler(
            on_add=lambda n: self.enqueue(object_key(n)), on_update=lambda old, cur: self.enqueue(object_key(cur))))
        self.health: dict[str, nodehealth.NodeHealth] = {}
        self.known: dict[str, Obj] = {}
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, zones.RateLimitedTimedQueue] = {}
        self.nodes_to_retry: set[str] = set()
        self._monitor_timer: Timer | None = None
        self._monitoring = False
        self._taint_timer: Timer | None = None
        handle = cc.ctx.metrics
        self._zone_health = handle.gauge("node_collector_zone_health",
                                         "Gauge measuring percentage of healthy nodes per zone.", ["zone"])
        self._zone_size = handle.gauge("node_collector_zone_size", "Gauge measuring number of registered Nodes per zones.", ["zone"])
        self._unhealthy = handle.gauge("node_collector_unhealthy_nodes_in_zone",
                                       "Gauge measuring number of not Ready Nodes per zones.", ["zone"])
        self._evictions = handle.counter("node_collector_evictions_total",
                                         "Number of Node evictions that happened since current instance of NodeController started.",
                                         ["zone"])

    def start(self) -> None:
        super().start()
        self._monitor_timer = self.ctx.call_every(self.options.node_monitor_period, self._monitor,
                                                  first=self.options.node_monitor_period)

    def stop(self) -> None:
        super().stop()
        for timer in (self._monitor_timer, self._taint_timer):
            if timer is not None:
                timer.cancel()
        self._monitor_timer = self._taint_timer = None

    # -- NoSchedule taints from conditions ------------------------------------------------
    async def sync(self, key: str) -> None:
        """doNoScheduleTaintingPass."""
        node = self.node_informer.indexer.get_by_key(key)
        if node is None:
            return
        wanted: list[Obj] = []
        for cond in (node.get("status") or {}).get("conditions") or []:
            for cond_type, cond_status, taint_key in CONDITION_TAINTS:
                if cond.get("type") == cond_type and cond.get("status") == cond_status:
                    wanted.append({"key": taint_key, "effect": "NoSchedule"})
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
        current = [t for t in taints_of(node) if t.get("effect") == "NoSchedule" and t.get("key") in CONDITION_TAINT_KEYS]
        to_add = [t for t in wanted if not has_taint(node, t["key"], "NoSchedule")]
        to_remove = [t for t in current if not any(w["key"] == t["key"] for w in wanted)]
        if to_add or to_remove:
            await self._swap_taints(node["metadata"]["name"], to_add, to_remove)

    async def _swap_taints(self, name: str, add: list[Obj], remove: list[Obj]) -> bool:
        """controller.SwapNodeControllerTaint / AddOrUpdateTaintOnNode / RemoveTaintOffNode:
        re-read the node and update its taints (timeAdded set on new ones), retrying conflicts.
        False when it could not: the node is gone, or a request failed (upstream logs it
        and the caller tries again on its next pass)."""
        for _ in range(5):
            try:
                node = await self.client.get("nodes", "", name)
            except APIError:
                return False
            taints = [t for t in taints_of(node)
                      if not any(t.get("key") == r["key"] and t.get("effect") == r["effect"] for r in remove)]
            for t in add:
                if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in taints):
                    taints.append({**t, "timeAdded": self.cc.timestamp()})
            if taints == taints_of(node):
                return True
            node.setdefault("spec", {})["taints"] = taints
            if not taints:
                del node["spec"]["taints"]
            try:
                await self.client.update("nodes", node)
                return True
            except APIError as err:
                if err.code != 409:
                    return False
        return False

    # -- monitorNodeHealth ----------------------------------------------------------------
    async def _monitor(self) -> None:
        """One monitorNodeHealth pass (passes never overlap, as with wait.Until)."""
        if self._monitoring:
            return
        self._monitoring = True
        try:
            await self._monitor_pass()
        finally:
            self._monitoring = False

    async def _monitor_pass(self) -> None:
        now = self.cc.now()
        nodes = self.node_informer.indexer.list()
        names = {n["metadata"]["name"] for n in nodes}
        for node in nodes:
            zone = zones.zone_key(node)
            if zone not in self.zone_states:
                self.zone_states[zone] = zones.INITIAL
                self.tainters[zone] = zones.RateLimitedTimedQueue(self.options.node_eviction_rate, EVICTION_BURST, now)
                self._evictions.labels(zone).inc(0)
            if node["metadata"]["name"] not in self.known:
                self.known[node["metadata"]["name"]] = node
                await self._mark_reachable(node)
        for name in sorted(self.known):
            if name not in names:
                gone = self.known.pop(name)
                self.tainters[zones.zone_key(gone)].remove(name)
                self.health.pop(name, None)
        zone_conditions: dict[str, list[str | None]] = {}
        for node in nodes:
            verdict = await self._update_health(deep_copy(node))
            if verdict is None:
                continue
            if not zones.excluded_from_disruption(node):
                current = verdict.current
                zone_conditions.setdefault(zones.zone_key(node), []).append(current.get("status") if current else None)
            if verdict.current is None:
                continue
            name = node["metadata"]["name"]
            await self._process_taint_based_eviction(node, verdict.observed)
            went_down = verdict.current.get("status") != "True" and verdict.observed.get("status") == "True"
            if went_down:
                self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            if went_down or (name in self.nodes_to_retry and verdict.observed.get("status") != "True"):
                if not await self._mark_pods_not_ready(name):
                    self.nodes_to_retry.add(name)
                    continue
            self.nodes_to_retry.discard(name)
        await self._handle_disruption(zone_conditions, nodes)
        self._arm_tainting()

    async def _update_health(self, node: Obj) -> nodehealth.HealthVerdict | None:
        name = node["metadata"]["name"]
        lease = self.lease_informer.indexer.get_by_key(f"{NODE_LEASE_NAMESPACE}/{name}")
        for _ in range(5):  # NodeHealthUpdateRetry
            verdict = nodehealth.try_update_node_health(
                node, self.health.get(name), lease, self.cc.now(),
                self.options.node_monitor_grace_period, self.options.node_startup_grace_period)
            self.health[name] = verdict.health
            if verdict.update is None:
                return verdict
            try:
                await self.client.update("nodes", verdict.update, "status")
            except APIError:
                try:
                    node = await self.client.get("nodes", "", name)
                except APIError:
                    return None
                continue
            nodehealth.written(verdict, self.cc.now())
            self.health[name] = verdict.health
            return verdict
        return None

    async def _mark_pods_not_ready(self, node_name: str) -> bool:
        """controller.MarkPodsNotReady: the pods' Ready condition becomes False."""
        ok = True
        for pod in self.pod_informer.indexer.by_index(NODE_NAME, node_name):
            cond = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
            if cond is None or cond.get("status") == "False":
                continue
            body = deep_copy(pod)
            for c in body["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=self.cc.timestamp())
            try:
                await self.client.update("pods", body, "status")
            except APIError as err:
                if err.code != 404:
                    ok = False
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
        return ok

    async def _process_taint_based_eviction(self, node: Obj, observed: Obj) -> None:
        name = node["metadata"]["name"]
        status = observed.get("status")
        if status == "False":
            if has_taint(node, UNREACHABLE, "NoExecute"):
                await self._swap_taints(name, [{"key": NOT_READY, "effect": "NoExecute"}],
                                        [{"key": UNREACHABLE, "effect": "NoExecute"}])
            else:
                self._mark_for_tainting(node, NOT_READY)
        elif status == "Unknown":
            if has_taint(node, NOT_READY, "NoExecute"):
                await self._swap_taints(name, [{"key": UNREACHABLE, "effect": "NoExecute"}],
                                        [{"key": NOT_READY, "effect": "NoExecute"}])
            else:
                self._mark_for_tainting(node, UNREACHABLE)
        elif status == "True":
            await self._mark_reachable(node)

    def _mark_for_tainting(self, node: Obj, taint_key: str) -> None:
        tainter = self.tainters[zones.zone_key(node)]
        if not has_taint(node, taint_key, "NoExecute"):
            tainter.remove(node["metadata"]["name"])
        tainter.add(node["metadata"]["name"], node["metadata"].get("uid", ""), self.cc.now())

    async def _mark_reachable(self, node: Obj) -> bool:
        if has_taint(node, UNREACHABLE, "NoExecute") or has_taint(node, NOT_READY, "NoExecute"):
            await self._swap_taints(node["metadata"]["name"], [],
                                    [{"key": UNREACHABLE, "effect": "NoExecute"},
                                     {"key": NOT_READY, "effect": "NoExecute"}])
        return self.tainters[zones.zone_key(node)].remove(node["metadata"]["name"])

    async def _handle_disruption(self, zone_conditions: dict[str, list[str | None]], nodes: list[Obj]) -> None:
        now = self.cc.now()
        new_states: dict[str, str] = {}
        all_fully_disrupted = True
        for zone in sorted(zone_conditions):
            statuses = zone_conditions[zone]
            unhealthy, state = zones.compute_zone_state(statuses, self.options.unhealthy_zone_threshold)
            self._zone_size.labels(zone).set(len(statuses))
            self._zone_health.labels(zone).set(100 * (len(statuses) - unhealthy) / len(statuses))
            self._unhealthy.labels(zone).set(unhealthy)
            if state != zones.FULL_DISRUPTION:
                all_fully_disrupted = False
            new_states[zone] = state
            self.zone_states.setdefault(zone, zones.INITIAL)
        all_were_fully_disrupted = True
        for zone in sorted(self.zone_states):
            if zone not in zone_conditions:
                self._zone_size.labels(zone).set(0)
                self._zone_health.labels(zone).set(100)
                self._unhealthy.labels(zone).set(0)
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != zones.FULL_DISRUPTION:
                all_were_fully_disrupted = False
                break
        if all_fully_disrupted and all_were_fully_disrupted:
            return
        if all_fully_disrupted:
            for node in nodes:
                await self._mark_reachable(node)
            for zone in sorted(self.zone_states):
                self.tainters[zone].swap_limiter(0.0, now)
                self.zone_states[zone] = zones.FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            for node in nodes:
                health = self.health.get(node["metadata"]["name"])
                if health is not None:
                    health.probe_timestamp = health.ready_transition_timestamp = now
            for zone in sorted(self.zone_states):
                self.tainters[zone].swap_limiter(
                    self.rates.qps(new_states[zone], len(zone_conditions[zone])), now)
                self.zone_states[zone] = new_states[zone]
            return
        for zone in sorted(self.zone_states):
            if self.zone_states[zone] == new_states[zone]:
                continue
            self.tainters[zone].swap_limiter(self.rates.qps(new_states[zone], len(zone_conditions[zone])), now)
            self.zone_states[zone] = new_states[zone]

    # -- doNoExecuteTaintingPass ----------------------------------------------------------
    def _arm_tainting(self) -> None:
        """Work the tainting queues every 100 ms while any of them holds a node."""
        if self._taint_timer is None and any(len(q) for q in self.tainters.values()):
            self._taint_timer = self.ctx.call_later(NODE_EVICTION_PERIOD, self._tainting_pass)

    async def _tainting_pass(self) -> None:
        self._taint_timer = None
        for zone in sorted(self.tainters):
            queue = self.tainters[zone]
            while (item := queue.next_due(self.cc.now())) is not None:
                node = self.node_informer.indexer.get_by_key(item.value)
                if node is None:
                    queue.done(item)
                    continue
                ready = nodehealth.ready_condition(node.get("status"))
                if ready is None:
                    queue.retry(item, self.cc.now() + 0.05)
                    continue
                if ready.get("status") == "True":
                    queue.done(item)  # Ready again: no taint needed
                    continue
                add, opposite = (NOT_READY, UNREACHABLE) if ready.get("status") == "False" else (UNREACHABLE, NOT_READY)
                if await self._swap_taints(item.value, [{"key": add, "effect": "NoExecute"}],
                                           [{"key": opposite, "effect": "NoExecute"}]):
                    self._evictions.labels(zone).inc()
                    queue.done(item)
                else:
                    queue.retry(item, self.cc.now())
        self._arm_tainting()
