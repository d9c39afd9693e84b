"""Topology plans: stacked and external placement, zone spread, host grouping,
deterministic names, and the 5,000-node envelope's counts."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kubesim.cluster import names
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.topology import CONTROL_PLANE_LABELS, plan
from kubesim.components.etcd.cluster import member_address, member_id, place_etcd
from kubesim.runtime.sim import SimRuntime
from kubesim.specs import load_spec

EXAMPLES = Path(__file__).parents[2] / "examples"
ZONES = ["zone-a", "zone-b", "zone-c"]


def spec(**fields: Any) -> ClusterSpec:
    return ClusterSpec.model_validate({"kind": "Cluster", "zones": ZONES, **fields})


def kinds_on(p, machine: str) -> list[str]:
    return sorted(a.address.kind for a in p.actors if a.machine == machine)


def test_stacked_runs_an_etcd_member_and_the_control_plane_on_each_machine():
    p = plan(spec(controlPlane={"topology": "stacked", "machines": 3}))
    cp = [pm.machine for pm in p.machines if pm.machine.role == names.ROLE_CONTROL_PLANE]
    assert [(m.name, m.zone) for m in cp] == [("cp-0", "zone-a"), ("cp-1", "zone-b"), ("cp-2", "zone-c")]
    assert not [pm for pm in p.machines if pm.machine.role == names.ROLE_ETCD]
    for i, m in enumerate(cp):
        assert kinds_on(p, m.name) == ["apiserver", "controller-manager", "etcd", "kube-proxy", "kubelet",
                                       "scheduler"]
        (member,) = [a for a in p.actors_of(names.ETCD) if a.machine == m.name]
        assert member.address == member_address(i) and member.static_pod == f"etcd-{m.name}"
    assert p.etcd_peers == {member_id(i): str(member_address(i)) for i in range(3)}
    assert p.etcd_quorum() == 2


def test_external_puts_etcd_on_machines_of_its_own():
    p = plan(spec(controlPlane={"topology": "external", "machines": 2, "externalEtcd": {"machines": 5}}))
    etcd = [pm.machine for pm in p.machines if pm.machine.role == names.ROLE_ETCD]
    assert [m.name for m in etcd] == [f"etcd-{i}" for i in range(5)]
    assert [m.zone for m in etcd] == ["zone-a", "zone-b", "zone-c", "zone-a", "zone-b"]
    members = p.actors_of(names.ETCD)
    assert [(a.address, a.machine, a.static_pod) for a in members] == [
        (member_address(i), f"etcd-{i}", None) for i in range(5)]
    for machine in ("cp-0", "cp-1"):
        assert kinds_on(p, machine) == ["apiserver", "controller-manager", "kube-proxy", "kubelet", "scheduler"]
    assert p.etcd_quorum() == 3


def test_external_etcd_machines_are_named_and_zoned_as_place_etcd_does(tmp_path):
    p = plan(spec(controlPlane={"topology": "external", "externalEtcd": {"machines": 3}}))
    runtime = SimRuntime(0, run_dir=tmp_path)
    try:
        place_etcd(runtime, 3, zones=ZONES)
        expected = sorted((m for m in runtime.machines.values() if m.role == "etcd"), key=lambda m: m.name)
        assert [pm.machine for pm in p.machines if pm.machine.role == names.ROLE_ETCD] == expected
        assert sorted(runtime.specs) == sorted(str(a.address) for a in p.actors_of(names.ETCD))
    finally:
        runtime.close()


def test_component_counts_fill_the_first_control_plane_machines():
    p = plan(spec(controlPlane={"machines": 5, "apiservers": 3, "schedulers": 2, "controllerManagers": 1}))
    apiservers = p.actors_of(names.APISERVER)
    assert [(str(a.address), a.machine) for a in apiservers] == [(f"apiserver/apiserver-{i}", f"cp-{i}")
                                                                  for i in range(3)]
    assert [str(a.address) for a in p.actors_of(names.SCHEDULER)] == ["scheduler/scheduler-0", "scheduler/scheduler-1"]
    assert [a.machine for a in p.actors_of(names.CONTROLLER_MANAGER)] == ["cp-0"]
    assert all(a.leader_elected for a in p.actors_of(names.SCHEDULER) + p.actors_of(names.CONTROLLER_MANAGER))
    assert not any(a.leader_elected for a in apiservers)
    assert [a.static_pod for a in apiservers] == [f"kube-apiserver-cp-{i}" for i in range(3)]
    assert p.actors_of(names.SCHEDULER)[1].static_pod == "kube-scheduler-cp-1"
    assert len(p.actors_of(names.ETCD)) == 5


def test_control_plane_zones_and_the_load_balancer():
    p = plan(spec(controlPlane={"machines": 3, "zones": ["zone-c", "zone-b"]}))
    assert [p.machine(f"cp-{i}").machine.zone for i in range(3)] == ["zone-c", "zone-b", "zone-c"]
    lb = p.machine(names.LOAD_BALANCER_MACHINE)
    assert (lb.machine.zone, lb.machine.role, lb.shape) == ("zone-c", names.ROLE_LOAD_BALANCER, None)
    (actor,) = p.actors_of(names.LOAD_BALANCER)
    assert str(actor.address) == "apiserver-lb/lb" and actor.machine == "lb" and actor.host is None


@pytest.mark.parametrize(("count", "zones"), [(7, ZONES), (100, ["zone-b", "zone-c"]), (1, ZONES)])
def test_node_pools_spread_round_robin_over_their_zones(count, zones):
    p = plan(spec(nodePools=[{"name": "pool-a", "count": count, "zones": zones}]))
    workers = [pm.machine for pm in p.machines if pm.machine.role == names.ROLE_WORKER]
    assert [m.name for m in workers] == [f"pool-a-{i:05d}" for i in range(count)]
    assert [m.zone for m in workers] == [zones[i % len(zones)] for i in range(count)]
    per_zone = Counter(m.zone for m in workers)
    assert set(per_zone) <= set(zones) and max(per_zone.values()) - min(per_zone.values()) <= 1
    assert {n.name: n.zone for n in p.nodes if n.pool == "pool-a"} == {m.name: m.zone for m in workers}


@pytest.mark.parametrize("per_host", [1, 4, 100])
def test_node_agents_are_grouped_by_pool_and_zone_into_host_actors(per_host):
    p = plan(spec(controlPlane={"machines": 3}, runtime={"nodesPerHost": per_host},
                  nodePools=[{"name": "pool-a", "count": 22}, {"name": "pool-b", "count": 5, "zones": ["zone-a"]}]))
    grouped = [node for host in p.hosts for node in host.nodes]
    assert sorted(grouped) == sorted(n.name for n in p.nodes) and len(grouped) == len(set(grouped)) == 30
    for host in p.hosts:
        assert 1 <= len(host.nodes) <= per_host
        assert {p.machine(n).machine.zone for n in host.nodes} == {host.zone}
        assert {n.pool for n in p.nodes if n.host == host.name} == {host.pool}
    sizes = Counter((n.pool, n.zone) for n in p.nodes)
    hosts = Counter((h.pool, h.zone) for h in p.hosts)
    assert hosts == {key: math.ceil(size / per_host) for key, size in sizes.items()}
    node_host = {n.name: n.host for n in p.nodes}
    agents = [a for a in p.actors if a.address.kind in (names.KUBELET, names.KUBE_PROXY)]
    assert len(agents) == 60 and all(a.host == node_host[a.machine] and a.address.name == a.machine for a in agents)
    assert all(a.host is None for a in p.actors if a.address.kind not in (names.KUBELET, names.KUBE_PROXY))


def test_host_names_are_numbered_per_pool():
    p = plan(spec(runtime={"nodesPerHost": 2}, nodePools=[{"name": "pool-a", "count": 7}]))
    hosts = [(h.name, h.zone, h.nodes) for h in p.hosts if h.pool == "pool-a"]
    assert hosts == [
        ("pool-a-h000", "zone-a", ("pool-a-00000", "pool-a-00003")),
        ("pool-a-h001", "zone-a", ("pool-a-00006",)),
        ("pool-a-h002", "zone-b", ("pool-a-00001", "pool-a-00004")),
        ("pool-a-h003", "zone-c", ("pool-a-00002", "pool-a-00005")),
    ]


def test_control_plane_nodes_are_tainted_as_kubeadm_marks_them():
    p = plan(spec(controlPlane={"machines": 3},
                  nodePools=[{"name": "gpu", "count": 2, "labels": {"accelerator": "a100"},
                              "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}]))
    cp_nodes = [n for n in p.nodes if n.pool == names.CONTROL_PLANE_POOL]
    assert sorted(n.name for n in cp_nodes) == ["cp-0", "cp-1", "cp-2"]
    for node in cp_nodes:
        assert dict(node.labels) == dict(CONTROL_PLANE_LABELS)
        assert [(t.key, t.effect) for t in node.taints] == [("node-role.kubernetes.io/control-plane", "NoSchedule")]
    gpu = [n for n in p.nodes if n.pool == "gpu"]
    assert all(dict(n.labels) == {"accelerator": "a100"} and n.taints[0].key == "nvidia.com/gpu" for n in gpu)


def test_pool_agent_settings_override_the_clusters_field_by_field():
    p = plan(spec(kubelet={"nodeStatusUpdateFrequency": "5s", "kubeAPIQPS": 20},
                  kubeProxy={"mode": "ipvs", "ipvs": {"scheduler": "lc"}},
                  nodePools=[{"name": "a", "count": 1},
                             {"name": "b", "count": 1, "kubelet": {"kubeAPIQPS": 100},
                              "kubeProxy": {"mode": "nftables"}}]))
    by_pool = {n.pool: n for n in p.nodes}
    assert by_pool["a"].kubelet.kube_api_qps == 20 and by_pool["a"].kube_proxy.proxy_mode() == "ipvs"
    assert by_pool["b"].kubelet.kube_api_qps == 100
    assert by_pool["b"].kubelet.node_status_update_frequency == 5.0  # inherited
    assert by_pool["b"].kube_proxy.proxy_mode() == "nftables"
    assert by_pool[names.CONTROL_PLANE_POOL].kube_proxy.ipvs_scheduler() == "lc"


def test_plans_are_deterministic():
    path = EXAMPLES / "cluster-small-stacked.yaml"
    first, second = plan(load_spec(path)), plan(load_spec(path))
    assert first == second
    assert [str(a.address) for a in first.actors] == [str(a.address) for a in second.actors]
    assert [h.name for h in first.hosts] == [h.name for h in second.hosts]


def test_index_width_grows_past_five_digits():
    assert names.index_width(100_000, names.NODE_INDEX_DIGITS) == 5
    assert names.index_width(100_001, names.NODE_INDEX_DIGITS) == 6
    assert names.node_name("pool-a", 42, 5) == "pool-a-00042"
    assert names.max_pool_name_length(5000) == 57


def test_the_envelope_plan_has_the_expected_counts():
    p = plan(load_spec(EXAMPLES / "cluster-envelope-5000.yaml"))
    roles = Counter(pm.machine.role for pm in p.machines)
    assert roles == {"control-plane": 3, "etcd": 3, "load-balancer": 1, "worker": 5000}
    kinds = Counter(a.address.kind for a in p.actors)
    assert kinds == {"etcd": 3, "apiserver": 3, "scheduler": 3, "controller-manager": 3,
                     "apiserver-lb": 1, "kubelet": 5003, "kube-proxy": 5003}
    workers = [h for h in p.hosts if h.pool == "pool-a"]
    assert len(workers) == 3 * math.ceil(1667 / 100) == 51
    assert sum(len(h.nodes) for h in workers) == 5000
    assert Counter(n.zone for n in p.nodes if n.pool == "pool-a") == {"zone-a": 1667, "zone-b": 1667, "zone-c": 1666}
    assert {n.kube_proxy.proxy_mode() for n in p.nodes} == {"ipvs"}
    assert p.machine("pool-a-04999").machine.zone == "zone-b"
