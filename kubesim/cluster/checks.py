"""Checks across the fields of a cluster spec, each naming the field it is about.

`problems(spec)` yields `(field path, message)` pairs, paths spelled as the YAML spells
them (`controlPlane.machines`, `nodePools[1].zones[0]`), most basic first: zones, the
topology and its quorum, node pools, component flags, scheduler profiles, faults. The
spec raises the first one. Flags left unset are checked with the value the run will use,
the cost-model profile's. Where an upstream component makes the same check, the message
is its message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kubesim.api import field
from kubesim.cluster import names
from kubesim.cluster.topology import plan
from kubesim.components.client.leader_election import JITTER_FACTOR
from kubesim.runtime.costmodel import CostModel, CostModelError

if TYPE_CHECKING:
    from kubesim.cluster.faults import Fault
    from kubesim.cluster.scheduler_config import SchedulerSettings
    from kubesim.cluster.spec import ClusterSpec
    from kubesim.cluster.topology import Plan

Problem = tuple[str, str]
MAX_ELECTION_MS = 50_000  # etcd embed/config.go maxElectionMs
MACHINE_FAULTS = ("crashMachine", "restartMachine", "partition", "slowDisk")


def problems(spec: ClusterSpec) -> Iterator[Problem]:
    yield from _zones(spec)
    yield from _topology(spec)
    yield from _node_pools(spec)
    try:
        cost = CostModel.load(spec.cost_model.profile, spec.cost_model.overrides)
    except CostModelError as exc:
        yield "costModel", str(exc)
        return
    yield from _etcd(spec, cost)
    yield from _apiserver(spec, cost)
    yield from _node_monitoring(spec, cost)
    yield from _leader_election(spec)
    yield from _scheduler(spec.scheduler)
    if spec.faults:
        yield from _faults(spec, plan(spec))


def _duplicate(path: str, value: object) -> Problem:
    return path, field.duplicate(field.Path(path), value).body()


def _zones(spec: ClusterSpec) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, zone in enumerate(spec.zones):
        if zone in seen:
            yield _duplicate(f"zones[{i}]", zone)
        seen.add(zone)
    lists = [("controlPlane.zones", spec.control_plane.zones)]
    if spec.control_plane.external_etcd is not None:
        lists.append(("controlPlane.externalEtcd.zones", spec.control_plane.external_etcd.zones))
    lists += [(f"nodePools[{i}].zones", pool.zones) for i, pool in enumerate(spec.node_pools)]
    for path, zones in lists:
        yield from _known_zones(spec, path, zones or [])


def _known_zones(spec: ClusterSpec, path: str, zones: list[str]) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        if zone not in spec.zones:
            yield f"{path}[{i}]", f"zone {zone!r} is not one of the cluster's zones ({', '.join(spec.zones)})"
        elif zone in seen:
            yield _duplicate(f"{path}[{i}]", zone)
        seen.add(zone)


def _topology(spec: ClusterSpec) -> Iterator[Problem]:
    cp = spec.control_plane
    if cp.topology == "stacked":
        if cp.machines % 2 == 0:
            yield "controlPlane.machines", f"must be odd and >= 1 for stacked etcd (got {cp.machines})"
        if cp.external_etcd is not None:
            yield ("controlPlane.externalEtcd",
                   "only with topology external (stacked runs an etcd member on each control-plane machine)")
    else:
        members = cp.etcd_placement().machines
        if members < 3 or members % 2 == 0:
            yield "controlPlane.externalEtcd.machines", f"must be odd and >= 3 for external etcd (got {members})"
    for key, count, component in (
        ("apiservers", cp.apiserver_count(), "kube-apiserver"),
        ("schedulers", cp.scheduler_count(), "kube-scheduler"),
        ("controllerManagers", cp.controller_manager_count(), "kube-controller-manager"),
    ):
        if count > cp.machines:
            yield (f"controlPlane.{key}",
                   f"must be <= controlPlane.machines ({cp.machines}): kubeadm runs at most one {component} "
                   f"static pod per control-plane machine (got {count})")


def _node_pools(spec: ClusterSpec) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, pool in enumerate(spec.node_pools):
        path = f"nodePools[{i}]"
        if pool.name == names.CONTROL_PLANE_POOL:
            yield f"{path}.name", f"{pool.name!r} is reserved for the control-plane machines' node agents"
        elif pool.name in seen:
            yield _duplicate(f"{path}.name", pool.name)
        seen.add(pool.name)
        longest = names.max_pool_name_length(pool.count)
        if len(pool.name) > longest:
            yield (f"{path}.name", f"must be no more than {longest} characters: node names "
                   f"({names.node_name(pool.name, 0, names.index_width(pool.count, names.NODE_INDEX_DIGITS))}, ...) "
                   "must be DNS-1123 labels")
        taints: set[tuple[str, str]] = set()
        for j, taint in enumerate(pool.taints):
            if (taint.key, taint.effect) in taints:
                yield f"{path}.taints[{j}]", "taints must be unique by key and effect pair"
            taints.add((taint.key, taint.effect))


def _etcd(spec: ClusterSpec, cost: CostModel) -> Iterator[Problem]:
    """etcd's own flag check (embed/config.go `Validate`), on the values members will run with."""
    flags = spec.etcd
    tick = flags.heartbeat_interval or round(float(cost.value("etcd.heartbeat_interval")) * 1000)
    election = flags.election_timeout or round(float(cost.value("etcd.election_timeout")) * 1000)
    path = "etcd.election-timeout" if flags.election_timeout is not None else "etcd.heartbeat-interval"
    if 5 * tick > election:
        yield path, f"--election-timeout[{election}ms] should be at least as 5 times as --heartbeat-interval[{tick}ms]"
    if election > MAX_ELECTION_MS:
        yield path, f"--election-timeout[{election}ms] is too long, and should be set less than {MAX_ELECTION_MS}ms"


def _apiserver(spec: ClusterSpec, cost: CostModel) -> Iterator[Problem]:
    flags = spec.apiserver
    if not flags.enable_priority_and_fairness:
        return
    reads = flags.max_requests_inflight
    writes = flags.max_mutating_requests_inflight
    total = (int(cost.value("apiserver.max_requests_inflight")) if reads is None else reads) + (
        int(cost.value("apiserver.max_mutating_requests_inflight")) if writes is None else writes)
    if total <= 0:
        yield ("apiserver.max-requests-inflight",
               "plus max-mutating-requests-inflight must be positive with enable-priority-and-fairness: "
               "API Priority and Fairness shares their sum among the priority levels")


def _node_monitoring(spec: ClusterSpec, cost: CostModel) -> Iterator[Problem]:
    """--node-monitor-grace-period "must be N times more than kubelet's
    nodeStatusUpdateFrequency" (its help text): a node must get to post in time."""
    grace = spec.controller_manager.node_monitor_grace_period
    grace = float(cost.value("controller_manager.node_monitor_grace_period")) if grace is None else grace
    default_update = float(cost.value("kubelet.node_status_update_frequency"))
    sources = [("kubelet", spec.kubelet)]
    sources += [(f"nodePools[{i}].kubelet", spec.kubelet.merged(p.kubelet)) for i, p in enumerate(spec.node_pools)]
    for path, kubelet in sources:
        update = kubelet.node_status_update_frequency or default_update
        if grace <= update:
            yield ("controllerManager.node-monitor-grace-period",
                   f"must be more than the kubelets' nodeStatusUpdateFrequency ({update:g}s at {path}), "
                   f"got {grace:g}s")
            return


def _leader_election(spec: ClusterSpec) -> Iterator[Problem]:
    """component-base `ValidateLeaderElectionConfiguration`, as `LeaderElector` enforces it."""
    kcm = spec.controller_manager
    le = spec.scheduler.leader_election
    for prefix, lease, renew, retry, keys in (
        ("controllerManager.", kcm.leader_elect_lease_duration, kcm.leader_elect_renew_deadline,
         kcm.leader_elect_retry_period, ("leader-elect-lease-duration", "leader-elect-renew-deadline")),
        ("scheduler.leaderElection.", le.lease_duration, le.renew_deadline, le.retry_period,
         ("leaseDuration", "renewDeadline")),
    ):
        if lease <= renew:
            yield prefix + keys[0], "leaseDuration must be greater than renewDeadline"
        if renew <= JITTER_FACTOR * retry:
            yield prefix + keys[1], "renewDeadline must be greater than retryPeriod*JitterFactor"


def _scheduler(config: SchedulerSettings) -> Iterator[Problem]:
    """pkg/scheduler/apis/config/validation: profiles, plugin config, queueSort."""
    seen: set[str] = set()
    for i, profile in enumerate(config.profiles):
        path = f"scheduler.profiles[{i}]"
        if not profile.scheduler_name:
            yield f"{path}.schedulerName", field.required(field.Path(path)).body()
        elif profile.scheduler_name in seen:
            yield _duplicate(f"{path}.schedulerName", profile.scheduler_name)
        seen.add(profile.scheduler_name)
        configured: set[str] = set()
        for j, plugin_config in enumerate(profile.plugin_config):
            if plugin_config.name in configured:
                yield _duplicate(f"{path}.pluginConfig[{j}]", plugin_config.name)
            configured.add(plugin_config.name)
    sorts = [p.plugins.queue_sort if p.plugins else None for p in config.profiles]
    if sorts[0] is not None and len(sorts[0].enabled) > 1:
        yield "scheduler.profiles[0].plugins.queueSort.enabled", "only one queue sort plugin can be enabled"
    for i in range(1, len(sorts)):
        if sorts[i] != sorts[0]:
            yield f"scheduler.profiles[{i}].plugins.queueSort", "queueSort must be the same for all profiles"
    if config.pod_max_backoff_seconds < config.pod_initial_backoff_seconds:
        yield "scheduler.podMaxBackoffSeconds", "must be greater than or equal to PodInitialBackoffSeconds"


def _faults(spec: ClusterSpec, cluster: Plan) -> Iterator[Problem]:
    by_name: dict[str, int] = {}
    for i, fault in enumerate(spec.faults):
        if fault.name in by_name:
            yield _duplicate(f"faults[{i}].name", fault.name)
        by_name.setdefault(fault.name, i)
    for i, fault in enumerate(spec.faults):
        path = f"faults[{i}]"
        yield from _trigger(spec, path, fault, by_name)
        yield from _targets(spec, cluster, path, fault)
    yield from _trigger_cycles(spec, by_name)


def _trigger(spec: ClusterSpec, path: str, fault: Fault, by_name: dict[str, int]) -> Iterator[Problem]:
    if (fault.at is None) == (fault.on is None):
        yield path, "needs exactly one trigger: at (a time after the cluster is ready) or on (an event)"
        return
    on = fault.on
    if on is None:
        return
    if on.event == "leaderChanged":
        if on.component is None:
            yield f"{path}.on.component", "required for event leaderChanged: etcd, kube-scheduler or kube-controller-manager"
        if on.fault is not None:
            yield f"{path}.on.fault", "only for events faultStarted and faultEnded"
        return
    if on.component is not None:
        yield f"{path}.on.component", "only for event leaderChanged"
    if on.fault is None:
        yield f"{path}.on.fault", f"required for event {on.event}: the name of another fault"
    elif on.fault not in by_name:
        yield f"{path}.on.fault", f"no fault named {on.fault!r}"
    elif on.fault == fault.name:
        yield f"{path}.on.fault", "a fault cannot be triggered by itself"
    elif on.event == "faultEnded" and not spec.faults[by_name[on.fault]].ends():
        yield f"{path}.on.fault", f"fault {on.fault!r} never ends (give it a restartAfter, healAfter or duration)"


def _trigger_cycles(spec: ClusterSpec, by_name: dict[str, int]) -> Iterator[Problem]:
    """A chain of `on.fault` triggers that comes back to its start never fires."""
    for i, fault in enumerate(spec.faults):
        seen = {fault.name}
        current = fault
        while current.on is not None and current.on.fault in by_name:
            current = spec.faults[by_name[current.on.fault]]
            if current.name in seen:
                yield f"faults[{i}].on.fault", f"triggers form a cycle through {current.name!r}: it never fires"
                return
            seen.add(current.name)


def _targets(spec: ClusterSpec, cluster: Plan, path: str, fault: Fault) -> Iterator[Problem]:
    machines = getattr(fault, "machines", None) or []
    for j, machine in enumerate(machines):
        if not cluster.has_machine(machine):
            yield f"{path}.machines[{j}]", f"no machine named {machine!r} (machines: {_machine_ranges(cluster)})"
    if fault.type in MACHINE_FAULTS:
        yield from _machine_targets(spec, path, fault)
    if fault.type == "partition":
        if fault.zones is not None:
            yield from _known_zones(spec, f"{path}.zones", fault.zones)
            if set(spec.zones) <= set(fault.zones):
                yield f"{path}.zones", "cuts off every zone: nothing is left on the other side"
    elif fault.type == "killLeader":
        if fault.component == "kube-scheduler" and not spec.scheduler.leader_election.leader_elect:
            yield f"{path}.component", "kube-scheduler runs without leader election (scheduler.leaderElection)"
        if fault.component == "kube-controller-manager" and not spec.controller_manager.leader_elect:
            yield f"{path}.component", "kube-controller-manager runs without leader election (--leader-elect)"
    elif fault.type == "stopKubelets":
        pools = [p.name for p in spec.node_pools]
        for j, pool in enumerate(fault.pools or []):
            if pool not in pools:
                yield f"{path}.pools[{j}]", f"no node pool named {pool!r} (pools: {', '.join(pools) or 'none'})"
        if fault.zones is not None:
            yield from _known_zones(spec, f"{path}.zones", fault.zones)
        chosen = [n for n in cluster.nodes if n.pool != names.CONTROL_PLANE_POOL
                  and (fault.pools is None or n.pool in fault.pools)
                  and (fault.zones is None or n.zone in fault.zones)]
        if not chosen:
            yield path, "selects no worker node (check pools and zones)"


def _machine_targets(spec: ClusterSpec, path: str, fault: Fault) -> Iterator[Problem]:
    """Exactly one way to pick the machines (a partition may pick zones instead)."""
    given = [key for key, value in (("machines", fault.machines), ("etcdMachines", fault.etcd_machines),
                                    ("zones", getattr(fault, "zones", None))) if value is not None]
    options = "zones, machines or etcdMachines" if fault.type == "partition" else "machines or etcdMachines"
    if len(given) != 1:
        yield path, f"names its targets one way: set exactly one of {options}"
    members = spec.control_plane.etcd_members()
    if fault.etcd_machines is not None and fault.etcd_machines > members:
        yield f"{path}.etcdMachines", f"must be <= the number of etcd members ({members}), got {fault.etcd_machines}"


def _machine_ranges(cluster: Plan) -> str:
    """`cp-0..cp-2, lb, pool-a-00000..pool-a-00099`: the plan's machines, runs collapsed."""
    runs: list[list[str]] = []
    for pm in cluster.machines:
        name = pm.machine.name
        prefix = name.rsplit("-", 1)[0]
        if runs and runs[-1][0].rsplit("-", 1)[0] == prefix:
            runs[-1].append(name)
        else:
            runs.append([name])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs)
