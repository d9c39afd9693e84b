"""IPVS: desired tables, diffs, and the kernel schedulers."""

from __future__ import annotations

import random

import pytest

from kubesim.components.kube_proxy.ipvs import (
    IpvsConfig,
    IpvsKernel,
    IpvsTable,
    VirtualServer,
    build_table,
    dh_bucket,
    diff,
    iptables_rules,
    sh_bucket,
)
from kubesim.components.kube_proxy.model import ProxyView
from tests.components.kube_proxy.helpers import cluster, endpoint, endpoint_slice, service

VS = ("10.96.0.1", 80, "TCP")


def kernel(scheduler: str, n: int = 4, weights: list[int] | None = None) -> IpvsKernel:
    k = IpvsKernel()
    k.apply(
        IpvsTable(
            {
                VS: (
                    VirtualServer(*VS, scheduler),
                    frozenset((f"10.0.0.{i + 1}", 80) for i in range(n)),
                )
            },
            {},
        )
    )
    if weights:
        for d, w in zip(k.services[VS].dests, weights, strict=True):
            d.weight = w
        k.services[VS].wrr_cw = 0  # as a fresh ip_vs_wrr_init_svc with these weights
        k.services[VS].dests_changed()
    return k


def test_new_dests_are_added_at_the_head_and_rr_cycles_in_list_order():
    k = kernel("rr", 3)
    # sorted add order .1, .2, .3, each at the head -> list .3, .2, .1
    picks = [k.schedule(VS, "1.1.1.1")[0] for _ in range(6)]
    assert picks == ["10.0.0.3", "10.0.0.2", "10.0.0.1"] * 2


def test_rr_spreads_exactly_evenly():
    k = kernel("rr", 10)
    counts: dict = {}
    for i in range(10_000):
        b = k.schedule(VS, f"192.168.{i // 250}.{i % 250}")
        counts[b] = counts.get(b, 0) + 1
    assert sorted(counts.values()) == [1000] * 10


def test_rr_resumes_after_deleted_dest():
    k = kernel("rr", 3)
    assert k.schedule(VS, "c")[0] == "10.0.0.3"
    assert k.schedule(VS, "c")[0] == "10.0.0.2"
    k.close(VS, ("10.0.0.2", 80))
    k.apply(
        IpvsTable(
            {VS: (VirtualServer(*VS, "rr"), frozenset({("10.0.0.1", 80), ("10.0.0.3", 80)}))}, {}
        )
    )
    assert k.schedule(VS, "c")[0] == "10.0.0.1"  # continues after the removed .2


def test_wrr_interleaves_by_weight():
    k = kernel("wrr", 3, weights=[4, 3, 2])  # list order .3(4) .2(3) .1(2)
    picks = [k.schedule(VS, "c")[0][-1] for _ in range(9)]
    assert picks == ["3", "3", "2", "3", "2", "1", "3", "2", "1"]


def test_lc_wlc_sed_nq_follow_connection_counts():
    for sched in ("lc", "wlc", "sed", "nq"):
        k = kernel(sched, 3)
        first = [k.schedule(VS, "c") for _ in range(3)]
        assert len(set(first)) == 3  # each idle server once
        k.close(VS, first[1])
        assert k.schedule(VS, "c") == first[1]  # the least loaded
    k = kernel("wlc", 2, weights=[3, 1])
    picks = [k.schedule(VS, "c")[0] for _ in range(8)]
    assert picks.count("10.0.0.2") == 6 and picks.count("10.0.0.1") == 2


def test_sed_versus_nq_with_weights():
    # sed: (active+1)/weight; nq sends to any idle server first.
    sed, nq = kernel("sed", 2, weights=[5, 1]), kernel("nq", 2, weights=[5, 1])
    assert [sed.schedule(VS, "c")[0] for _ in range(2)] == ["10.0.0.2", "10.0.0.2"]
    assert [nq.schedule(VS, "c")[0] for _ in range(2)] == ["10.0.0.2", "10.0.0.1"]


def test_sh_is_sticky_per_client_and_spreads():
    k = kernel("sh", 10)
    seen = {}
    for i in range(2000):
        client = f"172.16.{i // 250}.{i % 250}"
        first = k.schedule(VS, client)
        assert all(k.schedule(VS, client) == first for _ in range(5))
        seen[first] = seen.get(first, 0) + 1
    assert len(seen) == 10
    # the 256 buckets hold the 10 dests round robin: bucket b -> list entry b % 10
    dests = k.services[VS].dests
    assert k.schedule(VS, "172.16.0.7")[0] == dests[sh_bucket("172.16.0.7") % 10].key[0]


def test_dh_hashes_the_destination():
    k = kernel("dh", 10)
    dests = k.services[VS].dests
    picks = {k.schedule(VS, f"1.2.3.{i}") for i in range(50)}
    assert picks == {dests[dh_bucket(VS[0]) % 10].key}


def test_persistence_for_client_ip_affinity():
    k = IpvsKernel()
    k.apply(
        IpvsTable(
            {
                VS: (
                    VirtualServer(*VS, "rr", 60),
                    frozenset((f"10.0.0.{i}", 80) for i in range(1, 4)),
                )
            },
            {},
        )
    )
    a = k.schedule(VS, "c1", now=0)
    assert all(k.schedule(VS, "c1", now=t) == a for t in (1, 30, 80))  # refreshed on use
    assert k.schedule(VS, "c1", now=1000) is not None


def test_graceful_deletion_keeps_draining_server_at_weight_zero():
    k = kernel("rr", 2)
    b = k.schedule(VS, "c")
    rest = frozenset({("10.0.0.1", 80), ("10.0.0.2", 80)} - {b})
    k.apply(IpvsTable({VS: (VirtualServer(*VS, "rr"), rest)}, {}))
    assert k.connections(VS)[b] == 1
    assert all(k.schedule(VS, "c") != b for _ in range(5))
    k.close(VS, b)
    assert b not in k.connections(VS)


def test_table_and_diff_counts():
    view = ProxyView.build(*cluster(50))
    cfg = IpvsConfig(node_name="node1", node_ips=("192.168.0.10",))
    t1 = build_table(view, cfg)
    assert len(t1.servers) == 50 and len(t1.ipsets["KUBE-CLUSTER-IP"]) == 50
    usable = sum(len(rs) for _, rs in t1.servers.values())
    d = diff(IpvsTable({}, {}), t1)
    assert (d.vs_added, d.rs_added) == (50, usable)
    services, slices = cluster(50)
    slices[0]["endpoints"] = slices[0]["endpoints"][:5]
    services.append(
        service(
            "ns",
            "new",
            "10.96.9.9",
            [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30001}],
            type="NodePort",
        )
    )
    t2 = build_table(ProxyView.build(services, slices), cfg)
    d = diff(t1, t2)
    removed = len(t1.servers[("10.96.0.1", 80, "TCP")][1] - t2.servers[("10.96.0.1", 80, "TCP")][1])
    assert (d.vs_added, d.vs_deleted, d.rs_deleted, d.rs_added) == (2, 0, removed, 0)
    rules = iptables_rules(t2, cfg)
    assert len(rules) < 40 and any("KUBE-NODE-PORT-TCP" in r for r in rules)
    assert len(iptables_rules(build_table(ProxyView.build(*cluster(500)), cfg), cfg)) == len(
        iptables_rules(t1, cfg)
    )


def test_unknown_scheduler_rejected():
    with pytest.raises(ValueError):
        IpvsConfig(scheduler="mh")


def test_every_scheduler_only_uses_real_servers():
    view = ProxyView.build(
        [service("ns", "s", "10.96.0.1")],
        [endpoint_slice("ns", "s", [endpoint("10.0.0.1"), endpoint("10.0.0.2", ready=False)])],
    )
    rng = random.Random(3)
    for sched in ("rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq"):
        k = IpvsKernel()
        k.apply(build_table(view, IpvsConfig(scheduler=sched)))
        for _ in range(20):
            assert k.schedule(("10.96.0.1", 80, "TCP"), f"10.1.0.{rng.randrange(250)}") == (
                "10.0.0.1",
                80,
            )
