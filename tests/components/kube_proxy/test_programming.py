"""Work units per sync, and the cost model applied to them."""

from __future__ import annotations

import time

from kubesim.components.kube_proxy.dataplane import IpvsState
from kubesim.components.kube_proxy.iptables import IptablesConfig, build_ruleset, count_rules
from kubesim.components.kube_proxy.ipvs import IpvsConfig
from kubesim.components.kube_proxy.model import ProxyView
from kubesim.components.kube_proxy.nftables import NftConfig
from kubesim.components.kube_proxy.nftables import build_ruleset as nft_build
from kubesim.components.kube_proxy.nftables import diff as nft_diff
from kubesim.components.kube_proxy.programming import iptables_work, ipvs_work, nftables_work
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
    ipvs = IpvsState(view, IpvsConfig(node_name="node1"))
    slices[0]["endpoints"].append(endpoint("10.250.0.1"))
    view2, _ = view.apply("EndpointSlice", "MODIFIED", slices[0])
    w = ipvs_work(ipvs.sync(view2))
    assert (w.changed_virtual_servers, w.changed_real_servers) == (0, 1)
    a, b = nft_build(view, NftConfig()), nft_build(view2, NftConfig())
    nw = nftables_work(b, nft_diff(a, b))
    assert nw.changed_rules < 20 and nw.total_rules > 10_000
    cost = CostModel.load()
    assert w.seconds(cost) < 0.01 and nw.seconds(cost) < 0.01


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
    ipvs = IpvsState(view, IpvsConfig(node_name="node1"))
    t4 = time.perf_counter()
    nft = nft_build(view, NftConfig(node_name="node1"))
    t5 = time.perf_counter()
    assert ruleset.counts() == counts
    cost = CostModel.load()
    with capsys.disabled():
        print(
            f"\n10k svc x 10 eps: view {t1 - t0:.2f}s, iptables count {t2 - t1:.2f}s, "
            f"iptables rules {t3 - t2:.2f}s ({counts.nat} nat + {counts.filter} filter), "
            f"ipvs {t4 - t3:.2f}s ({len(ipvs.table.servers)} VS, {ipvs.table.real_server_count} RS), "
            f"nftables {t5 - t4:.2f}s ({nft.total} rules+elements); "
            f"iptables full sync {iptables_work(view, cfg, None).seconds(cost):.0f}s on the default profile"
        )
