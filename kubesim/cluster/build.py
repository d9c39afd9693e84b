"""Placing a cluster plan on a runtime: every machine and the actors that run on it.

`place(runtime, spec, plan)` adds the plan's machines and spawns what runs on them, as
kubeadm lays it out: an etcd member on each control-plane machine (stacked) or on the
etcd machines (external), a kube-apiserver, kube-scheduler and kube-controller-manager on
each of the first `apiservers` / `schedulers` / `controllerManagers` control-plane
machines, a kubelet and a kube-proxy on every node (`agents.py`; the control-plane machines'
kubelets run kubeadm's static pods for those components, `static_pods.py`), and the load prober on the load
balancer's machine (the clients coming through the LB); `bootstrap.py` waits until they
serve. `component_leader` says who leads etcd, the scheduler and the controller manager.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kubesim.cluster import names
from kubesim.cluster.agents import place_cloud, place_controllers, place_node_agents, pod_network
from kubesim.cluster.prober import LoadProber
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.static_pods import control_plane_manifests
from kubesim.cluster.topology import Plan
from kubesim.components.apiserver.cluster import admin_token_entry
from kubesim.components.apiserver.server import ApiServer, ApiServerSettings
from kubesim.components.etcd.cluster import member_spec
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address
from kubesim.runtime.base import Runtime
from kubesim.runtime.seeding import stream

PROBER = Address("load-prober", names.LOAD_BALANCER_MACHINE)
STATUS_TIMEOUT = 0.25  # a status request to an etcd member (driver side)
EPOCH = ApiServerSettings.epoch  # the Unix time simulated time 0 stands for (2025-01-01T00:00:00Z)


@dataclass
class Placed:
    """What `place` put on the runtime: actor addresses by role, and where each runs."""

    etcd: list[str]
    apiservers: list[str]
    prober: str
    token: str
    controllers: list[str] = field(default_factory=list)  # schedulers and controller managers
    kubelets: list[str] = field(default_factory=list)
    static_pods: list[str] = field(default_factory=list)  # the control plane's mirror pods (kube-system)
    machine_of: dict[str, str] = field(default_factory=dict)
    member_ids: dict[int, str] = field(default_factory=dict)  # etcd member id -> address


def admin_token(seed: int) -> str:
    """The cluster admin's bearer token, derived from the run's seed."""
    return stream(seed, "admin-token").randbytes(24).hex()


def apiserver_settings(spec: ClusterSpec, etcd: list[str], token: str) -> dict[str, Any]:
    """ApiServerSettings overrides from the spec's kube-apiserver flags."""
    flags = spec.apiserver
    settings: dict[str, Any] = {"etcd_servers": etcd, "tokens": [admin_token_entry(token)], "epoch": EPOCH,
                                "enable_priority_and_fairness": flags.enable_priority_and_fairness}
    for key in ("max_requests_inflight", "max_mutating_requests_inflight", "default_watch_cache_size",
                "request_timeout", "min_request_timeout"):
        value = getattr(flags, key)
        if value is not None:
            settings[key] = value
    return settings


def place(runtime: Runtime, spec: ClusterSpec, plan: Plan) -> Placed:
    """Add the control plane's machines and spawn its actors (before `runtime.run`)."""
    for planned in plan.machines:
        runtime.add_machine(planned.machine)
    token = admin_token(spec.runtime.seed)
    etcd = plan.actors_of(names.ETCD)
    member_settings = spec.etcd.member_settings()
    peers = dict(plan.etcd_peers)
    placed = Placed(etcd=[str(a.address) for a in etcd], apiservers=[], prober=str(PROBER), token=token)
    for i, actor in enumerate(etcd):
        runtime.spawn(member_spec(i, peers, member_settings, machine=actor.machine))
        placed.machine_of[str(actor.address)] = actor.machine
    placed.member_ids = {int(k): v for k, v in peers.items()}
    local_member = {placed.machine_of[member]: member for member in placed.etcd}
    for actor in plan.actors_of(names.APISERVER):
        # kubeadm's stacked manifests point each kube-apiserver at its own machine's member
        # only (--etcd-servers=https://127.0.0.1:2379); external ones list every member
        members = [local_member[actor.machine]] if spec.control_plane.topology == "stacked" else placed.etcd
        settings = apiserver_settings(spec, members, token)
        runtime.spawn(ActorSpec(address=actor.address, factory=ApiServer, machine=actor.machine,
                                kwargs={"settings": settings},
                                metric_labels={"instance": actor.address.name, "job": "apiserver"}))
        placed.apiservers.append(str(actor.address))
        placed.machine_of[str(actor.address)] = actor.machine
    placed.controllers = place_controllers(runtime, spec, plan, placed.apiservers, EPOCH)
    manifests = control_plane_manifests(spec, plan, pod_network(len(plan.nodes)))
    external_cloud = spec.cloud_provider == "external"
    placed.kubelets = place_node_agents(runtime, plan, placed.apiservers, EPOCH, static_pods=manifests,
                                        external_cloud=external_cloud)
    if external_cloud:
        placed.controllers += place_cloud(runtime, spec, plan, placed.apiservers, EPOCH)
    placed.static_pods = [a.static_pod for a in plan.actors if a.static_pod is not None]
    for address in placed.controllers + placed.kubelets:
        placed.machine_of[address] = runtime.machine_of(address)
    check = spec.load_balancer.health_check
    runtime.spawn(ActorSpec(
        address=PROBER, factory=LoadProber, machine=names.LOAD_BALANCER_MACHINE,
        kwargs={"apiservers": placed.apiservers, "token": token,
                "writes_per_second": spec.probe.writes_per_second,
                "reads_per_second": spec.probe.reads_per_second, "timeout": spec.probe.timeout,
                "check_path": check.path, "check_interval": check.interval,
                "rise": check.rise, "fall": check.fall},
        metric_labels={"instance": PROBER.name, "job": "load-prober"}))
    placed.machine_of[str(PROBER)] = names.LOAD_BALANCER_MACHINE
    return placed


async def etcd_leader(runtime: Runtime, placed: Placed) -> str | None:
    """The address of the member most live members name as leader (None: no leader)."""
    answers = await asyncio.gather(*(runtime.ask(m, ["kv", "status", {}], timeout=STATUS_TIMEOUT)
                                     for m in placed.etcd), return_exceptions=True)
    votes: dict[str, int] = {}
    for answer in answers:
        if isinstance(answer, BaseException) or answer[0] != "ok":
            continue
        lead = int(answer[1].get("leader") or 0)
        if lead in placed.member_ids:
            address = placed.member_ids[lead]
            votes[address] = votes.get(address, 0) + 1
    if not votes:
        return None
    return max(sorted(votes), key=lambda a: votes[a])


# the leader-elected components by the name faults use, and their actor kinds
ELECTED = {"kube-scheduler": names.SCHEDULER, "kube-controller-manager": names.CONTROLLER_MANAGER,
           "cloud-controller-manager": names.CLOUD_CONTROLLER_MANAGER}


async def component_leader(runtime: Runtime, placed: Placed, component: str) -> str | None:
    """The address of the replica leading `component` (etcd: by Raft; the scheduler and
    controller manager: the replica that says it holds the Lease), None when none does."""
    if component == "etcd":
        return await etcd_leader(runtime, placed)
    kind = ELECTED[component] + "/"
    replicas = [a for a in placed.controllers if a.startswith(kind)]
    message: Any = ["status"] if component == "kube-scheduler" else "status"
    answers = await asyncio.gather(*(runtime.ask(r, message, timeout=STATUS_TIMEOUT) for r in replicas),
                                   return_exceptions=True)
    for replica, answer in zip(replicas, answers, strict=True):
        if isinstance(answer, dict) and answer.get("leading"):
            return replica
    return None
