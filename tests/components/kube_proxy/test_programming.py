"""Work units per sync, and the cost model applied to them."""

from __future__ import annotations

import copy
import random
import time

import pytest

from kubesim.components.kube_proxy.iptables import IptablesConfig, build_ruleset, count_rules
from kubesim.components.kube_proxy.ipvs import IpvsConfig, build_table
from kubesim.components.kube_proxy.ipvs import diff as ipvs_diff
from kubesim.components.kube_proxy.model import ProxyView
from kubesim.components.kube_proxy.nftables import NftConfig
from kubesim.components.kube_proxy.nftables import build_ruleset as nft_build
from kubesim.components.kube_proxy.nftables import diff as nft_diff
from kubesim.components.kube_proxy.programming import (
    IptablesLedger,
    IpvsLedger,
    NftablesLedger,
    iptables_work,
)
from kubesim.runtime.costmodel import CostModel
from tests.components.kube_proxy.helpers import cluster, endpoint


def test_iptables_full_and_partial_sync():
    view = ProxyView.build(*cluster(100))
    cfg = IptablesConfig(node_name="node1")
    full = iptables_work(view, cfg, None)
    assert full.total_rules == full.changed_rules == count_rules(view, cfg).total
    partial = iptables_work(view, cfg, {("ns", "svc3")})
    assert partial.total_rules == full.total_rules
    rs = build_ruleset(view, cfg)
    skipped = sum(len(s.nat) for s in rs.services if s.service != ("ns", "svc3"))
    assert partial.changed_rules == full.total_rules - skipped


def test_ipvs_and_nftables_work_stay_small_for_one_change():
    services, slices = cluster(1000)
    view = ProxyView.build(services, slices)
    ipvs, nft = IpvsLedger(IpvsConfig(node_name="node1")), NftablesLedger(NftConfig())
    ipvs.sync(ProxyView(), view, None)
    nft.sync(ProxyView(), view, None)
    slices[0]["endpoints"].append(endpoint("10.250.0.1"))
    view2, summary = view.apply("EndpointSlice", "MODIFIED", slices[0])
    w = ipvs.sync(view, view2, summary.changed)
    assert (w.changed_virtual_servers, w.changed_real_servers) == (0, 1)
    nw = nft.sync(view, view2, summary.changed)
    assert nw.changed_rules == nft_diff(nft_build(view, NftConfig()), nft_build(view2, NftConfig())).changed
    assert nw.changed_rules < 20 and nw.total_rules > 10_000
    cost = CostModel.load()
    assert w.seconds(cost) < 0.01 and nw.seconds(cost) < 0.01


@pytest.mark.slow
def test_sizes_and_timings_at_10k(capsys):
    t0 = time.perf_counter()
    services, slices = cluster(10_000)
    view = ProxyView.build(services, slices)
    t1 = time.perf_counter()
    cfg = IptablesConfig(node_name="node1")
    counts = count_rules(view, cfg)
    t2 = time.perf_counter()
    ruleset = build_ruleset(view, cfg)
    t3 = time.perf_counter()
    ipvs = build_table(view, IpvsConfig(node_name="node1"))
    t4 = time.perf_counter()
    nft = nft_build(view, NftConfig(node_name="node1"))
    t5 = time.perf_counter()
    assert ruleset.counts() == counts
    cost = CostModel.load()
    with capsys.disabled():
        print(
            f"\n10k svc x 10 eps: view {t1 - t0:.2f}s, iptables count {t2 - t1:.2f}s, "
            f"iptables rules {t3 - t2:.2f}s ({counts.nat} nat + {counts.filter} filter), "
            f"ipvs {t4 - t3:.2f}s ({len(ipvs.servers)} VS, {ipvs.real_server_count} RS), "
            f"nftables {t5 - t4:.2f}s ({nft.total} rules+elements); "
            f"iptables full sync {iptables_work(view, cfg, None).seconds(cost):.0f}s on the default profile"
        )


def _churn(seed: int, steps: int = 60):
    """A random stream of Service / EndpointSlice events over 30 Services, some with
    Local traffic policy, NodePorts or affinity."""
    rng = random.Random(seed)
    services, slices = cluster(30, n_endpoints=4)
    for i, svc in enumerate(services):
        if i % 5 == 0:
            svc["spec"].update(type="NodePort", externalTrafficPolicy="Local")
            svc["spec"]["ports"][0]["nodePort"] = 30000 + i
        if i % 7 == 0:
            svc["spec"].update(sessionAffinity="ClientIP")
    events = [("Service", "ADDED", s) for s in services] + [("EndpointSlice", "ADDED", s) for s in slices]
    batches = [events]
    for _ in range(steps):
        i = rng.randrange(30)
        if rng.random() < 0.7:
            sl = copy.deepcopy(slices[i])
            sl["endpoints"] = [e for e in sl["endpoints"] if rng.random() < 0.8]
            sl["endpoints"].append(endpoint(f"10.250.{i}.{rng.randrange(1, 250)}", node=f"node{rng.randrange(3)}"))
            slices[i] = sl
            batches.append([("EndpointSlice", "MODIFIED", sl)])
        else:
            kind = "DELETED" if rng.random() < 0.5 else "ADDED"
            batches.append([("Service", kind, services[i])])
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ledgers_match_a_rebuild_after_every_change(seed):
    iptables_cfg = IptablesConfig(node_name="node1", node_ip="192.168.0.1")
    ipvs_cfg = IpvsConfig(node_name="node1", node_ips=("192.168.0.1",))
    nft_cfg = NftConfig(node_name="node1")
    ipt, ipvs, nft = IptablesLedger(iptables_cfg), IpvsLedger(ipvs_cfg), NftablesLedger(nft_cfg)
    hub_memo: dict = {}

    def memo(key, compute):  # as the hub shares it between the nodes of one host
        if key not in hub_memo:
            hub_memo[key] = compute()
        return hub_memo[key]

    view = ProxyView()
    for n, batch in enumerate(_churn(seed)):
        new, summary = view.apply_all(batch)
        changed = None if n == 0 else summary.changed
        hub_memo.clear()
        w = ipt.sync(view, new, changed, memo)
        assert w == iptables_work(new, iptables_cfg, changed)
        counts = count_rules(new, iptables_cfg)
        assert (ipt.filter_rules, ipt.nat_rules) == (counts.filter, counts.nat)
        before, after = build_table(view, ipvs_cfg), build_table(new, ipvs_cfg)
        d = ipvs_diff(before, after)
        w = ipvs.sync(view, new, changed, memo)
        assert (w.changed_virtual_servers, w.changed_real_servers) == (d.virtual_server_ops, d.real_server_ops)
        w = nft.sync(view, new, changed, memo)
        a, b = nft_build(view, nft_cfg), nft_build(new, nft_cfg)
        assert (w.total_rules, w.changed_rules) == (b.total, nft_diff(a, b).changed)
        view = new


def test_full_sync_shares_node_independent_services_between_nodes():
    view = ProxyView.build(*cluster(200))
    calls: list = []
    shared: dict = {}

    def memo(key, compute):
        if key not in shared:
            calls.append(key)
            shared[key] = compute()
        return shared[key]

    ledgers = [IptablesLedger(IptablesConfig(node_name=f"node{i}")) for i in range(5)]
    works = [ledger.sync(ProxyView(), view, None, memo) for ledger in ledgers]
    assert len(calls) == 1  # summed once for the five nodes
    assert all(w == iptables_work(view, IptablesConfig(node_name="node1"), None) for w in works)
